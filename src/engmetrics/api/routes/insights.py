"""Insights routes under `/api/v1/insights`: one router, filled by the `insights_*` modules imported at the
bottom (anomalies, experiments, CSAT, metric reviews and the decision log)."""

from fastapi import APIRouter

router = APIRouter(prefix="/insights", tags=["insights"])

from . import insights_anomalies, insights_csat, insights_experiments, insights_reviews  # noqa: E402,F401
