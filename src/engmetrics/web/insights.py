"""Insights pages: anomalies (`/insights/anomalies`), experiments (`/insights/experiments`) and metric reviews
(`/insights/reviews`). One router, filled by the `insights_*` modules imported at the bottom."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

from . import insights_anomalies, insights_experiments, insights_reviews  # noqa: E402,F401
