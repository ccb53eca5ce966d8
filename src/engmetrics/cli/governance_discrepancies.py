"""engmetrics governance commands (being written)."""

from .governance import app  # noqa: F401
