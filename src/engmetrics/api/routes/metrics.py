"""Evaluated indicator values and the RAG scorecard for a period ending on an as-of date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...auth.scope import visible_results
from ...catalog.evaluate import MetricResult
from ...catalog.periods import default_as_of
from ...catalog.views import scorecard
from ...settings import Settings
from ..auth import READERS, requires
from ..deps import CatalogDep, CurrentUser, EvaluationsDep, SettingsDep, StoreDep
from ..problems import bad_parameter

router = APIRouter(tags=["metrics"])

AsOf = Annotated[date | None, Query(description="Last day of the period, inclusive, YYYY-MM-DD "
                                                "(default: yesterday, UTC).")]
Metrics = Annotated[list[str] | None, Query(alias="metric", description="Only these indicators (repeatable).")]


def _check(loaded: Any, metrics: list[str] | None) -> None:
    unknown = [m for m in metrics or [] if m not in loaded.catalog.ids]
    if unknown:
        raise bad_parameter("metric", f"no indicator {', '.join(map(repr, unknown))}; see GET /api/v1/indicators")


async def _results(store: Any, loaded: Any, evaluations: Any, user: Any, as_of: date | None,
                   metrics: list[str] | None, settings: Settings) -> list[MetricResult]:
    """Cached results straight from the event loop; a miss evaluates in the thread pool (it takes seconds)."""
    _check(loaded, metrics)
    options = {"git_commit": loaded.git_commit, "metrics": metrics, "catalog_version": loaded.version,
               "privacy": settings.privacy}
    day = as_of or default_as_of()
    results = evaluations.ready(store, loaded.catalog, day, **options) if store.known_version else None
    if results is None:
        results = await run_in_threadpool(evaluations.evaluate, store, loaded.catalog, day, **options)
    return visible_results(user, loaded.catalog, results)


# Handlers return a JSONResponse: the plain dicts need no model validation on the way out (much faster
# under load); `response_model` still documents the shape in the OpenAPI document. They are async so a
# cached answer costs no thread-pool hop.
@router.get("/metrics", dependencies=[requires(*READERS)], response_model=list[dict[str, Any]])
async def list_metric_values(store: StoreDep, loaded: CatalogDep, evaluations: EvaluationsDep,
                             user: CurrentUser, settings: SettingsDep, as_of: AsOf = None,
                             metrics: Metrics = None) -> JSONResponse:
    """Every active indicator (or those named) for its period ending on `as_of` and the period before:
    value, previous value, RAG status, sample sizes, group. The same fields as
    `engmetrics metrics evaluate --json`; nothing is stored (evaluations are cached in memory until the
    data or the definitions change). A team-member sees per-team rows of its own teams only.
    Individual-level indicators follow the privacy guardrails (`engmetrics.governance.privacy`): status
    `refused_grain`, `not_approved` or `suppressed` with no value, per team and organisation only, on
    delayed periods; `people` is the number of people behind a published value."""
    results = await _results(store, loaded, evaluations, user, as_of, metrics, settings)
    return JSONResponse([r.to_dict() for r in results])


@router.get("/scorecard", dependencies=[requires(*READERS)], response_model=list[dict[str, Any]])
async def get_scorecard(store: StoreDep, loaded: CatalogDep, evaluations: EvaluationsDep, user: CurrentUser,
                        settings: SettingsDep, as_of: AsOf = None) -> JSONResponse:
    """The RAG scorecard grouped by outcome, with trend and whether it is improving (as
    `engmetrics scorecard --json`)."""
    groups = scorecard(loaded.catalog, await _results(store, loaded, evaluations, user, as_of, None, settings))
    return JSONResponse([g.to_dict() for g in groups])
