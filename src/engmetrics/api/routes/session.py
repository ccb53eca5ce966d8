"""Web login by token: `POST /login` (form) sets a signed session cookie, `POST /logout` clears it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from ...auth.tokens import AuthError, authenticate
from ..auth import public
from ..deps import SignerDep, StoreDep
from ..session import COOKIE

router = APIRouter(tags=["session"])


def _local(target: str) -> str:
    """`target` if it is a path on this site, else `/` (no open redirects)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"


@router.post("/login", dependencies=[public()], status_code=303, response_class=RedirectResponse)
def login(request: Request, store: StoreDep, signer: SignerDep, token: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> RedirectResponse:
    """Check the API token, set the session cookie (HttpOnly, SameSite=Lax, Secure over https) and go to
    `next` (a local path). A bad token answers 401, or, to a browser (which accepts text/html), a
    redirect back to the login form saying so."""
    try:
        info = authenticate(store, token)
    except AuthError:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        return RedirectResponse(f"/login?error=invalid+or+expired&next={quote(_local(next), safe='/')}",
                                status_code=303)
    seconds_left = int((info.expires_at - datetime.now(UTC)).total_seconds())
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(COOKIE, signer.sign(info.token_id), max_age=max(1, min(signer.max_age, seconds_left)),
                        httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout", dependencies=[public()], status_code=303, response_class=RedirectResponse)
def logout(request: Request, next: Annotated[str, Form()] = "/") -> RedirectResponse:
    """Clear the session cookie and go to `next` (a local path)."""
    response = RedirectResponse(_local(next), status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    return response
