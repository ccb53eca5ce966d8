"""`GET /healthz`: the process is up (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ... import __version__
from ..auth import public

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", dependencies=[public()])
def healthz() -> Health:
    """Liveness: answers `{"status": "ok"}` while the server runs."""
    return Health(status="ok", version=__version__)
