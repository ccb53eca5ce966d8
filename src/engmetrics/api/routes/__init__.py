"""The routers, one module per domain; `create_app` includes every one listed here."""

from fastapi import APIRouter

from . import (
    catalog,
    cost,
    datasets,
    delivery,
    governance,
    health,
    incidents,
    ingest,
    insights,
    me,
    metrics,
    prometheus,
    receivers,
    session,
    slos,
    tokens,
)

__all__ = ["API_ROUTERS", "ROOT_ROUTERS"]

# Mounted under /api/v1.
API_ROUTERS: list[APIRouter] = [catalog.router, metrics.router, slos.router, incidents.router, delivery.router,
                                cost.router, datasets.router, ingest.router, tokens.router, governance.router,
                                insights.router, me.router, receivers.router]
# Mounted at the root: health, Prometheus exposition, web login and the OTLP receiver (/v1/metrics).
ROOT_ROUTERS: list[APIRouter] = [health.router, prometheus.router, session.router, receivers.otlp_router]
