"""`GET /api/v1/insights/csat`: CSAT against backend performance, as `engmetrics insights csat --json`.

Every reader may ask: the answer is per customer segment and service, and services (with their SLOs and SLIs)
are organisation data that team scoping does not narrow (see `engmetrics.auth.scope`); `csat` is not a
restricted dataset. Computed in the thread pool on each request.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool

from ...insights.csat import CsatOptions, csat_report
from ...insights.csat_data import last_response_day
from ...settings import Settings
from ...slo import SloSet
from ...store import Store
from ..auth import READERS, requires
from ..deps import SettingsDep, StoreDep
from ..problems import Problem, bad_parameter
from .insights import router
from .slos import slo_cache

__all__ = ["csat_analysis", "router"]

DEFAULT_DAYS = 90


def _analysis(store: Store, specs: SloSet, settings: Settings, start: date | None, end: date | None,
              max_lag: int) -> dict[str, Any]:
    last = end or last_response_day(store)
    if last is None:
        raise Problem(404, "no csat responses in the store (ingest the csat dataset first)")
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise bad_parameter("from", f"must not be after to ({last.isoformat()})")
    options = CsatOptions(max_lag=max_lag, slo_min_events=settings.slo.min_events,
                          slo_warning_remaining=settings.slo.warning_remaining)
    return csat_report(store, specs, start=first, end=last, options=options).to_dict()


@router.get("/csat", dependencies=[requires(*READERS)])
async def csat_analysis(
    request: Request, store: StoreDep, settings: SettingsDep,
    start: Annotated[date | None, Query(alias="from", description="First day of responses (default: 90 days "
                                        "before `to`).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day of responses, inclusive (default: the "
                                      "last day with a response).")] = None,
    max_lag: Annotated[int, Query(ge=0, le=30, description="Correlate with SLI badness up to this many days "
                                  "earlier.")] = 3,
) -> dict[str, Any]:
    """Correlations of daily satisfaction with SLI badness by segment, service and lag (Pearson with a Fisher-z
    interval, Spearman), the regression on SLI badness and incident exposure with segment fixed effects, and the
    hidden reliability issues (drops while the service's SLOs stayed green); fields as docs/csat.md."""
    specs = slo_cache(request).get().checked()
    return await run_in_threadpool(_analysis, store, specs, settings, start, end, max_lag)
