"""Filled by the insights work in progress."""

from .insights import app  # noqa: F401
