"""The web dashboard: server-rendered pages over the same library calls as the API and CLI.

`install_web(app)` adds the page routes (`WEB_ROUTERS`) and the handlers that turn a missing session
into a redirect to `/login` and a missing role into an HTML 403 page. Pages work without JavaScript;
charts are inline SVG from `engmetrics.charts`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from .access import LoginRequired, PageForbidden
from .audit import router as audit_router
from .cost import router as cost_router
from .delivery import router as delivery_router
from .governance import router as governance_router
from .incidents import router as incident_router
from .insights import router as insights_router
from .pages import router
from .render import page
from .slos import router as slo_router

__all__ = ["WEB_ROUTERS", "install_web"]

WEB_ROUTERS = [router, slo_router, incident_router, delivery_router, cost_router, governance_router, audit_router,
               insights_router]


async def _login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(exc.location, status_code=303)


async def _forbidden(request: Request, exc: PageForbidden) -> HTMLResponse:
    return page("error.html", title="Not allowed", user=None, status_code=403, message=exc.detail)


def install_web(app: FastAPI) -> None:
    """Mount the pages on `app` (at the root) with their error handlers."""
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(PageForbidden, _forbidden)  # type: ignore[arg-type]
    for web_router in WEB_ROUTERS:
        app.include_router(web_router)
