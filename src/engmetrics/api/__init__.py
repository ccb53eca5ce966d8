"""The HTTP API: `create_app(settings)` builds a FastAPI app; `engmetrics serve` runs it with uvicorn."""

from .app import create_app

__all__ = ["create_app"]
