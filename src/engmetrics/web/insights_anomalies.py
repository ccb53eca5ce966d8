"""The anomalies page: `/insights/anomalies`, the stored findings (as `GET /api/v1/insights/anomalies`) with a
small chart of each series around the finding and its expected range. Only findings the request may see are
listed and charted (`engmetrics.insights.marks.visible_findings`, as the API), and the restricted datasets
behind those shown are audited. The series are rebuilt for the
chart (`engmetrics.insights.scan.scanned_series`), at most `CHARTED` of them per page.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Query
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import CatalogDep, SettingsDep, StoreDep
from ..charts import AXIS_COLOUR, BAND_FILL, LINE_COLOUR, STATUS_COLOUR, _e, _n, _open, _path, _segments, format_value
from ..errors import InputError
from ..insights.anomaly import Finding
from ..insights.marks import stored_findings, visible_findings
from ..insights.scan import anomaly_settings, scanned_series
from ..insights.series import Series
from .access import PageUser, page_requires
from .audit import PageAccessDep
from .insights import router
from .render import page

__all__ = ["CHARTED", "PAGE_LIMIT", "anomaly_chart", "span"]

CHARTED = 12  # series rebuilt for charts on one page
PAGE_LIMIT = 200  # findings listed on one page (the newest)
_BEFORE, _AFTER = 12, 4  # buckets shown before the finding's start and after its end


def anomaly_chart(series: Series, finding: Finding, *, width: int = 160, height: int = 36) -> str:
    """An inline SVG of `series` around `finding`: the line, the finding's run shaded with its expected range
    (a band) and the peak marked. Empty when the finding is outside the series. Buckets overlapping the
    finding are its run (the series may be rebuilt with another bucket size than the scan used).

    >>> import numpy as np
    >>> t = [datetime(2026, 3, d, tzinfo=UTC) for d in range(1, 11)]
    >>> s = Series("s", "dataset", None, None, frozenset(), timedelta(days=1), t, [x + timedelta(days=1) for x in t],
    ...            np.array([1.0, 2, 1, 2, 9, 2, 1, 2, 1, 2]), True)
    >>> f = Finding("f", "s", "dataset", None, None, (), "counts", "up", t[4], t[5], t[4], 9.0, 1.5, 0.0, 4.0, 6.0)
    >>> svg = anomaly_chart(s, f)
    >>> svg.startswith("<svg") and 'class="expected"' in svg and 'class="peak"' in svg
    True
    """
    inside = [i for i, (t, e) in enumerate(zip(series.times, series.ends, strict=True))
              if t < finding.end_at and finding.start_at < e]
    if not inside:
        return ""
    lo, hi = max(0, inside[0] - _BEFORE), min(len(series.times), inside[-1] + 1 + _AFTER)
    values = [None if v != v else float(v) for v in series.values[lo:hi]]
    known = [v for v in values if v is not None]
    extent = known + [v for v in (finding.expected_low, finding.expected_high) if v is not None]
    low, high = min(extent), max(extent)
    pad, n = 3.0, hi - lo
    step = (width - 2 * pad) / max(n - 1, 1)

    def x(i: int) -> float:
        return pad + (i - lo) * step

    def y(v: float) -> float:
        return height / 2 if high == low else pad + (high - v) / (high - low) * (height - 2 * pad)

    desc = (f"{finding.series} from {series.times[lo]:%Y-%m-%d} to {series.times[hi - 1]:%Y-%m-%d}; the finding "
            f"({finding.direction}) is shaded, expected {format_value(finding.expected_low)} to "
            f"{format_value(finding.expected_high)}, peak {format_value(finding.value)}.")
    out = _open(width, height, f"{finding.series} around the anomaly", desc, "anomaly-chart")
    left, right = x(inside[0]) - step / 2, x(inside[-1]) + step / 2
    if finding.expected_low is not None and finding.expected_high is not None:
        top, bottom = y(finding.expected_high), y(finding.expected_low)
        out.append(f'<rect class="expected" x="{_n(max(left, 0))}" y="{_n(top)}" width="{_n(right - left)}" '
                   f'height="{_n(max(bottom - top, 1))}" fill="{BAND_FILL["green"]}"><title>expected range</title>'
                   "</rect>")
    out.append(f'<line x1="{_n(left)}" y1="{_n(height - 1)}" x2="{_n(right)}" y2="{_n(height - 1)}" '
               f'stroke="{AXIS_COLOUR}"/>')
    ys = [None if v is None else y(v) for v in values]
    for run in _segments([x(i) for i in range(lo, hi)], ys):
        out.append(f'<path d="{_path(run)}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5"/>'
                   if len(run) > 1 else f'<circle cx="{_n(run[0][0])}" cy="{_n(run[0][1])}" r="1.5" '
                   f'fill="{LINE_COLOUR}"/>')
    peak = next((i for i in inside if finding.peak_at is not None and series.times[i] <= finding.peak_at
                 < series.ends[i]), inside[0])
    if finding.value is not None and lo <= peak < hi and ys[peak - lo] is not None:
        out.append(f'<rect class="peak" x="{_n(x(peak) - 2.5)}" y="{_n(ys[peak - lo] - 2.5)}" width="5" height="5" '
                   f'fill="{STATUS_COLOUR["red"]}"><title>{_e(format_value(finding.value))}</title></rect>')
    out.append("</svg>")
    return "".join(out)


def span(finding: Finding) -> str:
    """When a finding ran, in words: days when its buckets are whole days (the end is exclusive).

    >>> t = datetime(2026, 3, 16, tzinfo=UTC)
    >>> f = Finding("f", "s", "dataset", None, None, (), "counts", "up", t, t + timedelta(days=7), t, 9.0, 1.0, 0.0,
    ...             4.0, 6.0)
    >>> span(f), span(Finding(**{**f.to_dict(), "end_at": t + timedelta(days=1)}))
    ('2026-03-16 to 2026-03-22', '2026-03-16')
    >>> span(Finding(**{**f.to_dict(), "end_at": t + timedelta(hours=3)}))
    '2026-03-16 00:00 to 03:00'
    """
    start, end = finding.start_at.astimezone(UTC), finding.end_at.astimezone(UTC)
    if start.time() == end.time() == datetime.min.time():
        last = (end - timedelta(days=1)).date()
        return f"{start:%Y-%m-%d}" if last == start.date() else f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"
    if end.date() == start.date():
        return f"{start:%Y-%m-%d %H:%M} to {end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


def _charts(store: object, catalog: object, settings: object, findings: list[Finding]) -> dict[str, str]:
    """finding_id -> chart, for the findings of the first `CHARTED` series."""
    conf = anomaly_settings(settings)
    names = list(dict.fromkeys(f.series for f in findings))[:CHARTED]
    today = datetime.now(UTC).date()
    charts: dict[str, str] = {}
    for name in names:
        mine = [f for f in findings if f.series == name]
        end = min(today, max(f.end_at for f in mine).date() + timedelta(days=30))
        start_needed = min(f.start_at for f in mine).date()
        lookback = conf.model_copy(update={"lookback_days": max(conf.lookback_days, (end - start_needed).days + 30)})
        for s in scanned_series(store, catalog, lookback, end, name):
            for f in mine:
                charts[f.finding_id] = anomaly_chart(s, f)
    return charts


def _since(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InputError(f"since must be a date, YYYY-MM-DD, not {text!r}") from None


@router.get("/insights/anomalies", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def anomalies_page(store: StoreDep, loaded: CatalogDep, settings: SettingsDep, user: PageUser,
                   access: PageAccessDep, status: Annotated[str | None, Query(max_length=20)] = None,
                   since: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """Findings, newest first, with their mark, expected range and a chart of the series around each. An empty
    filter is no filter; a bad one is shown on the page (422)."""
    form = {"status": (status or "").strip(), "since": (since or "").strip()}
    try:
        found = stored_findings(store, since=_since(form["since"]), status=form["status"] or None)
    except InputError as exc:
        return page("insights_anomalies.html", title="Anomalies", nav="anomalies", user=user, status_code=422,
                    rows=[], charts={}, form=form, error=str(exc), fmt=format_value, span=span, limit=PAGE_LIMIT)
    shown, _ = visible_findings([f for f, _ in found], access, loaded.catalog)
    ids = {f.finding_id for f in shown[:PAGE_LIMIT]}
    rows = [(f, m) for f, m in found if f.finding_id in ids]
    access.record_derived(d for f, _ in rows for d in f.datasets)
    charts = _charts(store, loaded.catalog, settings, [f for f, _ in rows])
    return page("insights_anomalies.html", title="Anomalies", nav="anomalies", user=user, rows=rows, charts=charts,
                form=form, error=None, fmt=format_value, span=span, limit=PAGE_LIMIT)
