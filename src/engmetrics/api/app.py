"""`create_app(settings)`: the FastAPI app of one workspace; nothing global, so tests build their own.

>>> from engmetrics.settings import Settings
>>> from engmetrics.store import Store
>>> import tempfile, pathlib
>>> app = create_app(Settings(workspace=pathlib.Path(tempfile.mkdtemp())), store=Store.open("duckdb://"))
>>> app.openapi_url
'/api/v1/openapi.json'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from .. import __version__
from ..auth.tokens import TokenCache
from ..governance.archive import record_definitions
from ..settings import Settings
from ..store import Store
from ..telemetry.receiver import TelemetryReceiver
from ..workspace import ensure_secret
from .problems import install_problem_handlers
from .routes import API_ROUTERS, ROOT_ROUTERS
from .session import SessionSigner
from .state import CatalogCache, EvaluationCache, StoreProvider

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names (`list_indicators`); a test keeps them unique."""
    return route.name


def _receiver(stores: StoreProvider, settings: Settings) -> TelemetryReceiver:
    """The push receivers' queue and writer thread (`/api/v1/write`, `/v1/metrics`), started."""
    receiver = TelemetryReceiver(stores, settings.telemetry.receivers, settings.telemetry.clocks)
    receiver.start()
    return receiver


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """The app for `settings`' workspace.

    With `store` (e.g. `Store.open("duckdb://")` in tests) the app uses it and leaves closing it to the
    caller; otherwise the app opens the workspace's store when it starts and holds it (DuckDB has one
    writer process) until it stops. Requests share it safely: see `engmetrics.api.state`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is not None:
            try:
                yield
            finally:
                app.state.receiver.close()  # every accepted pushed sample is stored before the app stops
            return
        opened = Store.open(settings.store_url or "", lock_timeout=settings.store_lock_timeout)
        record_definitions(opened, settings.workspace, actor="engmetrics-serve")  # archive what is served
        app.state.stores = StoreProvider(opened, **hooks, exclusive=True)
        app.state.catalogs.recheck_seconds = 1.0  # a served workspace: look at metrics/ once a second
        app.state.receiver = _receiver(app.state.stores, settings)
        try:
            yield
        finally:
            try:
                app.state.receiver.close()
            finally:
                opened.close()

    app = FastAPI(
        title=f"engmetrics: {settings.name}", version=__version__, lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None,
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        generate_unique_id_function=_operation_id,
        description="Indicators, scorecard, datasets and ingest of one engmetrics workspace. "
                    "Authenticate with `Authorization: Bearer <token>` (`engmetrics token create`).",
    )
    evaluations, tokens = EvaluationCache(), TokenCache()
    hooks = dict(on_write=evaluations.invalidate, on_token_write=tokens.invalidate)
    app.state.settings = settings
    app.state.catalogs = CatalogCache(settings.workspace)
    app.state.evaluations = evaluations
    app.state.tokens = tokens
    app.state.signer = SessionSigner(ensure_secret(settings.state_dir / "session.key", "session key"))
    if store is not None:
        app.state.stores = StoreProvider(store, **hooks)
        app.state.receiver = _receiver(app.state.stores, settings)
    install_problem_handlers(app)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    from ..web import install_web  # here: the web package imports the API's auth and deps

    install_web(app)  # the dashboard pages, at the root
    return app
