"""`GET /api/v1/insights/csat`: CSAT against backend performance, as `engmetrics insights csat --json`.

Under the access policy (`policies/access.yaml`): the caller must be allowed to read `csat` (403, 428 otherwise;
audited when the policy audits it). `sli_events` and `incidents` are read only when the caller may read them;
each one left out is named in `not_readable` (no incident exposure without `incidents`; no correlations,
regression or hidden issues without `sli_events`). The audited datasets behind the answer are written to the
audit log once per request. Computed in the thread pool on each request.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool

from ...governance.access import ReadAccess
from ...insights.csat import OPTIONAL_DATASETS, CsatOptions, csat_report
from ...insights.csat_data import last_response_day
from ...settings import Settings
from ...slo import SloSet
from ...store import Store
from ..auth import READERS, requires
from ..deps import SettingsDep, StoreDep, reads
from ..problems import Problem, bad_parameter
from .insights import router
from .slos import slo_cache

__all__ = ["csat_analysis", "router"]

DEFAULT_DAYS = 90


def _analysis(store: Store, specs: SloSet, settings: Settings, access: ReadAccess, start: date | None,
              end: date | None, max_lag: int) -> dict[str, Any]:
    last = end or last_response_day(store)
    if last is None:
        raise Problem(404, "no csat responses in the store (ingest the csat dataset first)")
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise bad_parameter("from", f"must not be after to ({last.isoformat()})")
    options = CsatOptions(max_lag=max_lag, slo_min_events=settings.slo.min_events,
                          slo_warning_remaining=settings.slo.warning_remaining)
    readable = [d for d in OPTIONAL_DATASETS if access.may(d)]
    report = csat_report(store, specs, start=first, end=last, options=options,
                         not_readable=[d for d in OPTIONAL_DATASETS if d not in readable])
    access.record_derived(readable)
    return report.to_dict()


@router.get("/csat", dependencies=[requires(*READERS)])
async def csat_analysis(
    request: Request, store: StoreDep, settings: SettingsDep, access: Annotated[ReadAccess, reads("csat")],
    start: Annotated[date | None, Query(alias="from", description="First day of responses (default: 90 days "
                                        "before `to`).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day of responses, inclusive (default: the "
                                      "last day with a response).")] = None,
    max_lag: Annotated[int, Query(ge=0, le=30, description="Correlate with SLI badness up to this many days "
                                  "earlier.")] = 3,
) -> dict[str, Any]:
    """Correlations of daily satisfaction with SLI badness by segment, service and lag (Pearson with a Fisher-z
    interval, Spearman), the regression on SLI badness and incident exposure with segment fixed effects, and the
    hidden reliability issues (drops while the service's SLOs stayed green); fields as docs/csat.md. Needs read
    access to `csat`; `sli_events` and `incidents` are used only when the caller may read them (those left out
    are listed in `not_readable`)."""
    specs = slo_cache(request).get().checked()
    return await run_in_threadpool(_analysis, store, specs, settings, access, start, end, max_lag)
