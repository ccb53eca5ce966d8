"""The SLO pages: `/slos` (every objective and window, with its budget and state) and `/slos/{slo}` (one
SLO: its spec, status, a chart of the error budget remaining over the window, and the exclusions).

The chart's daily points are what `slo_status` would answer at each midnight (in the workspace's time
zone) of the window, all from one engine query (`budget_series`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import SettingsDep, StoreDep
from ..api.problems import Problem
from ..api.routes.slos import default_at, find_slo, only_slo, slo_cache, slo_summary, status_of
from ..catalog.history import HistoryPoint
from ..catalog.model import Band, Thresholds
from ..charts import history_chart
from ..slo import SloSet
from ..slo.status import status_series
from ..store import Store
from .access import PageUser, page_requires
from .render import page

__all__ = ["STATE_TEXT", "budget_chart", "budget_series", "router"]

router = APIRouter(include_in_schema=False)

#: State -> (status class of the stylesheet, shape, words): the shape and the words carry the meaning too.
STATE_TEXT = {"ok": ("green", "●", "OK"), "warning": ("amber", "▲", "Warning"), "exhausted": ("red", "■", "Exhausted"),
              "insufficient_data": ("none", "○", "Insufficient data")}
BURN_COLUMNS = ("1h", "6h", "1d", "3d")
MAX_DAYS = 92  # at most this many daily points on a chart

At = Annotated[datetime | None, Query(description="Judge the SLOs at this instant (default: now).")]
Series = dict[tuple[int | None, str], list[tuple[datetime, float | None]]]


def _midnights(start: datetime, end: datetime, zone: str) -> list[datetime]:
    """Every local midnight in `zone` strictly between `start` and `end`, in UTC."""
    tz = ZoneInfo(zone)
    day = start.astimezone(tz).date() + timedelta(days=1)
    found = []
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(start.tzinfo)
        if midnight >= end:
            return found
        if midnight > start:
            found.append(midnight)
        day += timedelta(days=1)


def budget_series(store: Store, specs: SloSet, name: str, at: datetime, *, zone: str = "UTC",
                  max_days: int = MAX_DAYS) -> Series:
    """Budget remaining of each (objective index, window label) of SLO `name` at every midnight of its
    current window (at most `max_days` back) and at `at`, oldest first; None where there are no events.
    A composite SLO's series is under (None, window label). The points are `status_series` at each instant
    (one engine query for all of them).
    """
    specs = only_slo(specs, name)
    now = status_series(store, specs, [at], zone=zone)[0]
    if not now.items:
        return {}
    start = max(min(datetime.fromisoformat(i["window_start"]) for i in now.items), at - timedelta(days=max_days))
    instants = [*_midnights(start, at, zone), at]
    series: Series = {(i["objective_index"], i["window"]): [] for i in now.items}
    for t, report in zip(instants, status_series(store, specs, instants, zone=zone), strict=True):
        for item in report.items:
            key = (item["objective_index"], item["window"])
            if key in series and t > datetime.fromisoformat(item["window_start"]):
                series[key].append((t, item["error_budget"]["remaining"]))
    return series


def _pct(value: float | None) -> str:
    """A share as a percentage with up to three decimals (SLO targets such as 99.95 % need them)."""
    if value is None:
        return "no data"
    text = f"{value * 100:,.3f}".rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} %"


def budget_chart(points: list[tuple[datetime, float | None]], *, title: str, warning: float = 0.25) -> str:
    """The error budget left (a fraction; below 0 overspent) at each instant, as an indicator history chart
    in percent over the bands green (at or above `warning`), amber (0 to `warning`) and red (overspent)."""
    bands = Thresholds(green=Band(min=warning * 100), amber=Band(min=0, max=warning * 100), red=Band(max=0))
    history = [HistoryPoint(t, t, None if v is None else v * 100, _band_of(bands, v), 0) for t, v in points]
    return history_chart(history, bands, unit="%", title=title)  # type: ignore[arg-type]


def _band_of(bands: Thresholds, value: float | None) -> str | None:
    if value is None:
        return None
    return next(name for name, band in bands.bands() if band.contains(value * 100))


def _context() -> dict[str, Any]:
    return {"state_text": STATE_TEXT, "pct": _pct, "burn_columns": BURN_COLUMNS}


def _spec_problem(user: Any, exc: Problem) -> HTMLResponse:
    return page("slos.html", title="SLOs", nav="slos", user=user, status_code=exc.status, items=[], skipped=[],
                services=[], service="", at=None, error=exc.detail, issues=exc.extensions.get("issues", []),
                **_context())


@router.get("/slos", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def slos_page(request: Request, store: StoreDep, settings: SettingsDep, user: PageUser, at: At = None,
              service: Annotated[str | None, Query(max_length=200, description="Only this service.")] = None
              ) -> HTMLResponse:
    """Every SLO objective and window: target, SLI, budget left, burn rates, firing alerts and state."""
    when = default_at(at)
    try:
        report = status_of(slo_cache(request), store, settings, when)
    except Problem as exc:
        return _spec_problem(user, exc)
    services = sorted({i["service"] for i in report.items})
    items = [i for i in report.items if not service or i["service"] == service]
    return page("slos.html", title="SLOs", nav="slos", user=user, items=items, services=services,
                service=service or "", skipped=report.skipped, at=when, error=None, issues=[], **_context())


@router.get("/slos/{slo}", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def slo_page(slo: str, request: Request, store: StoreDep, settings: SettingsDep, user: PageUser,
             at: At = None) -> HTMLResponse:
    """One SLO: spec, status per objective and window, budget left over the window, exclusions."""
    when = default_at(at)
    cache = slo_cache(request)
    try:
        specs = cache.get().checked()
    except Problem as exc:
        return _spec_problem(user, exc)
    if not find_slo(specs, slo):
        return page("error.html", title="SLO not found", user=user, status_code=404,
                    message=f"There is no SLO {slo!r} in this workspace's slos/.")
    report = status_of(cache, store, settings, when)
    summary = slo_summary(specs, slo, when, settings.timezone)
    items = [i for i in report.items if i["slo"] == slo]
    series = budget_series(store, specs, slo, when, zone=settings.timezone) if items else {}
    warning = settings.slo.warning_remaining
    charts = {}
    for item in items:
        points = series.get((item["objective_index"], item["window"]), [])
        title = f"{item['objective']}, {item['window']}: error budget left"
        charts[(item["objective_index"], item["window"])] = {
            "svg": budget_chart(points, title=title, warning=warning), "points": points}
    skipped = [reason for name, reason in report.skipped if name == slo]
    return page("slo.html", title=summary.get("display_name") or slo, nav="slos", user=user, slo=slo,
                summary=summary, items=items, charts=charts, skipped=skipped, at=when, warning=warning, **_context())
