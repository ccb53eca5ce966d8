"""Evaluated indicator values and the RAG scorecard for a period ending on an as-of date.

What a request sees is scoped by `engmetrics.auth.scope.readable_results`: a team-member its own teams'
per-team rows only, and nobody the results of an indicator derived from a dataset the access policy does not
let the request read (left out, no error; a reason-required dataset counts only with a reason). The audited
datasets behind the values served are written to the audit log once per request (`read.dataset`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...auth.scope import readable_results
from ...catalog.evaluate import MetricResult
from ...catalog.periods import default_as_of
from ...catalog.views import scorecard
from ...governance.access import ReadAccess
from ...insights.usage import record_view
from ...settings import Settings
from ..auth import READERS, requires
from ..deps import AccessDep, CatalogDep, EvaluationsDep, SettingsDep, StoreDep
from ..problems import bad_parameter

router = APIRouter(tags=["metrics"])

AsOf = Annotated[date | None, Query(description="Last day of the period, inclusive, YYYY-MM-DD "
                                                "(default: yesterday, UTC).")]
Metrics = Annotated[list[str] | None, Query(alias="metric", description="Only these indicators (repeatable).")]


def _check(loaded: Any, metrics: list[str] | None) -> None:
    unknown = [m for m in metrics or [] if m not in loaded.catalog.ids]
    if unknown:
        raise bad_parameter("metric", f"no indicator {', '.join(map(repr, unknown))}; see GET /api/v1/indicators")


async def _results(store: Any, loaded: Any, evaluations: Any, access: ReadAccess, as_of: date | None,
                   metrics: list[str] | None, settings: Settings) -> list[MetricResult]:
    """Cached results straight from the event loop; a miss evaluates in the thread pool (it takes seconds).
    The results `access` may see, after their audited datasets are written to the audit log."""
    _check(loaded, metrics)
    options = {"git_commit": loaded.git_commit, "metrics": metrics, "catalog_version": loaded.version,
               "privacy": settings.privacy}
    day = as_of or default_as_of()
    results = evaluations.ready(store, loaded.catalog, day, **options) if store.known_version else None
    if results is None:
        results = await run_in_threadpool(evaluations.evaluate, store, loaded.catalog, day, **options)
    shown, audited = readable_results(access, loaded.catalog, results)
    if audited:
        await run_in_threadpool(access.record_derived, audited)
    return shown


# Handlers return a JSONResponse: the plain dicts need no model validation on the way out (much faster
# under load); `response_model` still documents the shape in the OpenAPI document. They are async so a
# cached answer costs no thread-pool hop of its own (the access policy dependency reads its file in one; the
# audit write takes another, only when restricted data is served).
@router.get("/metrics", dependencies=[requires(*READERS)], response_model=list[dict[str, Any]])
async def list_metric_values(store: StoreDep, loaded: CatalogDep, evaluations: EvaluationsDep,
                             access: AccessDep, settings: SettingsDep, request: Request, background: BackgroundTasks,
                             as_of: AsOf = None, metrics: Metrics = None) -> JSONResponse:
    """Every active indicator (or those named) for its period ending on `as_of` and the period before:
    value, previous value, RAG status, sample sizes, group. The same fields as
    `engmetrics metrics evaluate --json`; nothing is stored (evaluations are cached in memory until the
    data or the definitions change). A team-member sees per-team rows of its own teams only (individual-level
    indicators are per team). Indicators derived from a dataset the access policy does not let the request
    read are left out (a `reason_required` one needs a reason); the restricted datasets behind the values
    served are audited once per request.
    Individual-level indicators follow the privacy guardrails (`engmetrics.governance.privacy`): status
    `refused_grain`, `not_approved` or `suppressed` with no value, per team and organisation only, on
    delayed periods; `people` is the number of people behind a published value.
    Each indicator named with `metric` whose results the answer holds counts as viewed
    (`engmetrics.insights.usage`, no actor; one left out by the access policy or the team scope does not),
    recorded after the answer is sent."""
    results = await _results(store, loaded, evaluations, access, as_of, metrics, settings)
    returned = {r.metric for r in results}
    for metric in dict.fromkeys(m for m in metrics or [] if m in returned):
        background.add_task(record_view, request.app.state.stores, metric, "api")
    return JSONResponse([r.to_dict() for r in results])


@router.get("/scorecard", dependencies=[requires(*READERS)], response_model=list[dict[str, Any]])
async def get_scorecard(store: StoreDep, loaded: CatalogDep, evaluations: EvaluationsDep, access: AccessDep,
                        settings: SettingsDep, as_of: AsOf = None) -> JSONResponse:
    """The RAG scorecard grouped by outcome, with trend and whether it is improving (as
    `engmetrics scorecard --json`), of the values `GET /api/v1/metrics` shows the request."""
    groups = scorecard(loaded.catalog, await _results(store, loaded, evaluations, access, as_of, None, settings))
    return JSONResponse([g.to_dict() for g in groups])
