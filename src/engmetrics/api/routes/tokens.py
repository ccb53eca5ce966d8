"""API tokens over HTTP (the CLI cannot open the store while the server holds it), and `GET /me`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...auth.roles import Role
from ...auth.tokens import MAX_DAYS, create_token, get_token, list_tokens, revoke_token
from ..auth import AUDITORS, EVERYONE, WRITERS, requires
from ..deps import CurrentUser, StoreDep, WriteStoreDep
from ..problems import Problem

router = APIRouter(tags=["tokens"])


class TokenRequest(BaseModel):
    role: Role
    teams: list[str] = Field(default_factory=list, description="Teams of a team-member token.")
    expires_in_days: int = Field(90, ge=1, le=MAX_DAYS)
    description: str = ""


@router.get("/me", dependencies=[requires(*EVERYONE)])
def get_current_user(user: CurrentUser) -> dict[str, Any]:
    """The token this request authenticated with: id, role and teams."""
    return {"token_id": user.token_id, "role": user.role.value, "teams": list(user.teams)}


@router.get("/tokens", dependencies=[requires(*AUDITORS)])
def list_api_tokens(store: StoreDep) -> list[dict[str, Any]]:
    """Every token with role, teams, expiry and status; never secrets or hashes."""
    return [t.to_dict() for t in list_tokens(store)]


@router.post("/tokens", dependencies=[requires(*WRITERS)], status_code=201)
def create_api_token(body: TokenRequest, store: WriteStoreDep) -> dict[str, Any]:
    """Create a token; `token` in the answer is shown this once."""
    new = create_token(store, body.role.value, body.teams, expires_in_days=body.expires_in_days,
                       description=body.description)
    return {"token": new.token, **new.info.to_dict()}


@router.delete("/tokens/{token_id}", dependencies=[requires(*WRITERS)])
def revoke_api_token(token_id: str, store: WriteStoreDep) -> dict[str, Any]:
    """Revoke a token at once (its web sessions end too)."""
    if token_id not in {t.token_id for t in list_tokens(store)}:
        raise Problem(404, f"no token {token_id!r}; see GET /api/v1/tokens")
    revoke_token(store, token_id)
    return get_token(store, token_id).to_dict()
