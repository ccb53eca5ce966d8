"""Governance routes (being written)."""

from .governance import router  # noqa: F401
