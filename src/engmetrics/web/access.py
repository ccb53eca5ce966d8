"""Permissions of the pages: like the API's `requires`, but a browser without a session is sent to the
login page (303) and a role without access gets an HTML 403 page instead of a problem document.

    @router.get("/", dependencies=[page_requires(*READERS)])
    def overview_page(user: PageUser) -> HTMLResponse: ...

`PageRoleCheck` is a `RoleCheck`, so the route x role matrix test reads its roles like any route's.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ..api.auth import RoleCheck
from ..api.deps import SignerDep, StoreDep, TokensDep, current_user
from ..api.problems import Problem
from ..api.session import COOKIE
from ..auth.roles import Principal, Role
from ..auth.tokens import AuthError

__all__ = ["LoginRequired", "PageForbidden", "PageRoleCheck", "PageUser", "page_requires", "page_user"]

_bearer = HTTPBearer(auto_error=False)
_cookie = APIKeyCookie(name=COOKIE, auto_error=False)


class LoginRequired(Exception):
    """No (valid) session: answered with a 303 to `/login?next=<the page>`."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    @property
    def location(self) -> str:
        return f"/login?next={quote(self.next_url, safe='/')}"


class PageForbidden(Exception):
    """The role may not see the page: answered with an HTML 403 page saying which roles may."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def page_user(request: Request, store: StoreDep, signer: SignerDep, tokens: TokensDep,
              bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
              session: Annotated[str | None, Depends(_cookie)]) -> Principal:
    """The request's principal (bearer token or session cookie); `LoginRequired` without a valid one."""
    try:
        return await current_user(store, signer, tokens, bearer, session)
    except (AuthError, Problem) as exc:
        if isinstance(exc, Problem) and exc.status != 401:
            raise
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target) from exc


PageUser = Annotated[Principal, Depends(page_user)]


class PageRoleCheck(RoleCheck):
    """`RoleCheck` for pages: a missing session redirects, a wrong role raises `PageForbidden`."""

    async def __call__(self, user: PageUser) -> Principal:  # type: ignore[override]
        if user.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise PageForbidden(f"The role {user.role.value} may not see this page; it needs one of: {allowed}.")
        return user


def page_requires(*roles: Role) -> Any:
    """A page dependency admitting exactly `roles`."""
    if not roles:
        raise ValueError("page_requires() needs at least one role; use public() for an open page")
    return Depends(PageRoleCheck(roles))
