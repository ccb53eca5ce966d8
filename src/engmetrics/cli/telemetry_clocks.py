"""Filled by the telemetry work in progress."""

from .telemetry import app  # noqa: F401
