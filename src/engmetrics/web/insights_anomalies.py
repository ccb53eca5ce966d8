"""Filled by the insights work in progress."""

from .insights import router  # noqa: F401
