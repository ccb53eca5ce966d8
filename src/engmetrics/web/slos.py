"""The SLO pages: `/slos` (every objective and window, with its budget and state) and `/slos/{slo}` (one
SLO: its spec, status, a chart of the error budget remaining over the window, and the exclusions).

The chart's daily points are what `slo_status` would answer at each midnight (in the workspace's time
zone) of the window, all from one engine query (`budget_series`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import SettingsDep, StoreDep
from ..api.problems import Problem
from ..api.routes.slos import default_at, find_slo, only_slo, slo_cache, slo_summary, status_of
from ..charts import AXIS_COLOUR, LINE_COLOUR, STATUS_COLOUR, format_value, nice_ticks
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


def _n(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _pct(value: float | None) -> str:
    """A share as a percentage with up to three decimals (SLO targets such as 99.95 % need them)."""
    if value is None:
        return "no data"
    text = f"{value * 100:,.3f}".rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} %"


def budget_chart(points: list[tuple[datetime, float | None]], *, title: str, warning: float = 0.25,
                 width: int = 640, height: int = 240) -> str:
    """The error budget remaining (a fraction, 1 = untouched, below 0 = overspent) at each point as a line
    over time, with the warning level and zero drawn and labelled; a point without events is a gap."""
    left, right, top, bottom = 56.0, 16.0, 16.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for _, v in points if v is not None]
    ticks = nice_ticks(min([0.0, *known]), max([1.0, *known]))
    y_low, y_high = ticks[0], ticks[-1]
    t0 = points[0][0] if points else None
    span = (points[-1][0] - points[0][0]).total_seconds() if len(points) > 1 else 0.0

    def sx(t: datetime) -> float:
        return left + (plot_w / 2 if not span or t0 is None else (t - t0).total_seconds() / span * plot_w)

    def sy(v: float) -> float:
        return top + (y_high - v) / (y_high - y_low) * plot_h

    if known:
        latest = next((v for _, v in reversed(points) if v is not None), None)
        desc = (f"{len(points)} points from {points[0][0]:%Y-%m-%d} to {points[-1][0]:%Y-%m-%d %H:%M} UTC; "
                f"latest {_pct(latest)} of the budget left, lowest {_pct(min(known))}, highest {_pct(max(known))}. "
                f"Warning below {_pct(warning)}, exhausted at 0 %.")
    else:
        desc = f"{len(points)} points, none with events."
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="budget-chart" role="img" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>", f"<desc>{_e(desc)}</desc>",
           f'<g class="axis axis-y" font-size="10" fill="{AXIS_COLOUR}">']
    for tick in ticks:
        y = sy(tick)
        out.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" stroke="{AXIS_COLOUR}" '
                   f'stroke-opacity="0.25"/><text x="{_n(left - 6)}" y="{_n(y + 3)}" text-anchor="end">'
                   f"{_e(format_value(tick * 100))} %</text>")
    out.append(f'<text x="12" y="{_n(top + plot_h / 2)}" text-anchor="middle" '
               f'transform="rotate(-90 12 {_n(top + plot_h / 2)})">budget left</text></g>')
    for level, label, colour, dash in ((warning, f"warning below {_pct(warning)}", STATUS_COLOUR["amber"], "6 3"),
                                       (0.0, "exhausted", STATUS_COLOUR["red"], "")):
        if y_low <= level <= y_high:
            y = sy(level)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<g class="level"><line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" '
                       f'stroke="{colour}" stroke-width="1.5"{dash_attr}/><text x="{_n(left + plot_w - 4)}" '
                       f'y="{_n(y - 4)}" text-anchor="end" font-size="10" fill="{colour}">{_e(label)}</text></g>')
    out.append(f'<g class="axis axis-x" font-size="10" fill="{AXIS_COLOUR}"><line x1="{_n(left)}" '
               f'y1="{_n(top + plot_h)}" x2="{_n(left + plot_w)}" y2="{_n(top + plot_h)}" stroke="{AXIS_COLOUR}"/>')
    step = max(1, -(-len(points) // 7))
    for i, (t, _) in enumerate(points):
        if (len(points) - 1 - i) % step == 0:
            out.append(f'<text x="{_n(sx(t))}" y="{_n(top + plot_h + 16)}" text-anchor="middle">'
                       f"{t.day} {t:%b}</text>")
    out.append(f'<text x="{_n(left + plot_w / 2)}" y="{_n(height - 6)}" text-anchor="middle">day (UTC)</text></g>')
    run: list[tuple[float, float]] = []
    runs = []
    for t, v in points:
        if v is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append((sx(t), sy(v)))
    if run:
        runs.append(run)
    out.append('<g class="series">')
    for r in runs:
        if len(r) > 1:
            path = " ".join(f"{'M' if i == 0 else 'L'}{_n(x)} {_n(y)}" for i, (x, y) in enumerate(r))
            out.append(f'<path d="{path}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" '
                       'stroke-linejoin="round"/>')
    for t, v in points:
        if v is not None:
            out.append(f'<circle class="point" cx="{_n(sx(t))}" cy="{_n(sy(v))}" r="3" fill="{LINE_COLOUR}">'
                       f"<title>{t:%Y-%m-%d %H:%M} UTC: {_e(_pct(v))} of the budget left</title></circle>")
    out.append("</g>")
    if not known:
        out.append(f'<text class="empty" x="{_n(left + plot_w / 2)}" y="{_n(top + plot_h / 2)}" text-anchor="middle" '
                   f'font-size="12" fill="{AXIS_COLOUR}">no events in this window</text>')
    out.append("</svg>")
    return "".join(out)


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
