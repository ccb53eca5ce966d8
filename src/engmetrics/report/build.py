"""Build the executive report model from the store and the catalog.

Semantics:

- the report covers the `month` or `quarter` ending on `as_of` (a trailing window, as the catalog's
  `monthly` / `quarterly` cadences: see `engmetrics.catalog.periods`);
- the scorecard is the ordinary one as of `as_of`: each indicator over the period of *its own* cadence
  ending on `as_of`, with its previous period for the trend arrow;
- notable changes compare that scorecard with the scorecard as of the baseline, the day before the report
  period starts (what the previous report showed): every status change, then the largest relative moves
  (at least `MIN_MOVE`, at most `MAX_MOVES` of them) among indicators whose status did not change;
- open risks: red indicators, indicators with no data, catalog lint findings of level ERROR or WARNING
  (review dates judged on `as_of`), and rows quarantined at ingest during the report period;
- charts: each indicator's history over recent periods of its cadence (see `history_periods`).

>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> r = build_report(Store.open("duckdb://"), Catalog(), as_of=date(2026, 3, 31))
>>> (r.period.start, r.period.baseline, r.changes, r.risks.count)
(datetime.date(2026, 3, 1), datetime.date(2026, 2, 28), [], 0)
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis

from ..catalog.evaluate import MetricResult, evaluate
from ..catalog.history import history
from ..catalog.lint import lint
from ..catalog.loader import Catalog
from ..catalog.periods import period_ending
from ..catalog.rag import SEVERITY, STATUSES
from ..catalog.views import relative_change, scorecard
from ..errors import InputError
from ..governance.archive import assessed_versions
from ..settings import PrivacySettings
from .model import PERIODS, Change, IndicatorHistory, IndicatorRisk, QuarantineGroup, Report, ReportPeriod, Risks

__all__ = ["MAX_MOVES", "MIN_MOVE", "build_report", "history_periods", "report_period"]

#: Smallest relative move listed as notable (10 %).
MIN_MOVE = 0.10
#: At most this many relative moves are listed (status changes are always all listed).
MAX_MOVES = 5
_CADENCE_DAYS = {"daily": 1.0, "weekly": 7.0, "monthly": 30.44, "quarterly": 91.31}


def report_period(period: str, as_of: date) -> ReportPeriod:
    """The `month` or `quarter` ending on `as_of`, and its baseline (the day before it starts).

    >>> report_period("quarter", date(2026, 3, 31))
    ReportPeriod(kind='quarter', start=datetime.date(2026, 1, 1), end=datetime.date(2026, 3, 31), \
baseline=datetime.date(2025, 12, 31))
    """
    if period not in PERIODS:
        raise InputError(f"unknown report period {period!r}; expected one of: {', '.join(PERIODS)}")
    window = period_ending(PERIODS[period], as_of)
    return ReportPeriod(period, window.start, window.end, window.start - timedelta(days=1))


def history_periods(cadence: str, report: ReportPeriod) -> int:
    """How many periods of `cadence` the charts show: about twice the report window (so the period
    has context), at least 8 (12 monthly, 8 quarterly), at most 60.

    >>> [history_periods(c, report_period("month", date(2026, 3, 31))) for c in
    ...  ("daily", "weekly", "monthly", "quarterly")]
    [60, 9, 12, 8]
    """
    days = (report.end - report.start).days + 1
    floor = {"monthly": 12, "quarterly": 8}.get(cadence, 8)
    return max(floor, min(60, math.ceil(2 * days / _CADENCE_DAYS[cadence])))


def _owner(catalog: Catalog, metric: str) -> str | None:
    owner = catalog.get(metric).indicator.owner
    team = owner.team if owner else None
    return ", ".join(team) if isinstance(team, list) else team


def _change(catalog: Catalog, now: MetricResult, before: MetricResult | None) -> Change:
    ind = catalog.get(now.metric).indicator
    from_value = before.value if before else None
    from_status = before.status if before else "no_data"
    relative = relative_change(now.value, from_value)
    if now.status != from_status:
        kind = "status"
        known = from_status in SEVERITY and now.status in SEVERITY
        improving = SEVERITY[now.status] < SEVERITY[from_status] if known else None
    else:
        kind = "move"
        improving = None
        if relative:
            improving = (relative > 0) == (ind.direction == "higher_is_better")
    return Change(now.metric, ind.name, now.group, ind.unit, ind.direction, kind, from_value, now.value,
                  from_status, now.status, relative, improving, before.sample_size if before else 0,
                  now.sample_size)


def notable_changes(catalog: Catalog, now: list[MetricResult], before: list[MetricResult]) -> list[Change]:
    """Status changes (worsening first, then catalog order), then the largest relative moves."""
    baseline = {(r.metric, r.group): r for r in before}
    changes = [_change(catalog, r, baseline.get((r.metric, r.group))) for r in now]
    statuses = [c for c in changes if c.kind == "status"]
    statuses.sort(key=lambda c: {False: 0, None: 1, True: 2}[c.improving])
    moves = [c for c in changes if c.kind == "move" and c.relative is not None and abs(c.relative) >= MIN_MOVE]
    moves.sort(key=lambda c: -abs(c.relative or 0.0))
    return statuses + moves[:MAX_MOVES]


def _risk(catalog: Catalog, r: MetricResult) -> IndicatorRisk:
    ind = catalog.get(r.metric).indicator
    return IndicatorRisk(r.metric, ind.name, r.group, r.status, r.value, ind.unit, _owner(catalog, r.metric),
                         r.sample_size, r.period_start, r.period_end)


def quarantined(store: Any, start: datetime, end: datetime) -> list[QuarantineGroup]:
    """Rows quarantined with `start <= quarantined_at < end`, per dataset and reason, most rows first."""
    t = store.table("_quarantine")
    t = t.filter((t.quarantined_at >= ibis.timestamp(start)) & (t.quarantined_at < ibis.timestamp(end)))
    expr = (t.group_by(["dataset", "reason"])
            .aggregate(rows=t.count(), first_at=t.quarantined_at.min(), last_at=t.quarantined_at.max())
            .order_by([ibis.desc("rows"), "dataset", "reason"]))
    return [QuarantineGroup(r["dataset"], r["reason"], int(r["rows"]), r["first_at"], r["last_at"])
            for r in expr.to_pyarrow().to_pylist()]


def build_report(store: Any, catalog: Catalog, *, as_of: date, period: str = "month",
                 title: str = "Engineering report", generated_at: datetime | None = None,
                 privacy: PrivacySettings | None = None) -> Report:
    """The executive report for the `period` (`month` or `quarter`) ending on `as_of`: scorecard, charts'
    history, notable changes and open risks (semantics in the module docstring). Reads only."""
    window = report_period(period, as_of)
    now = evaluate(store, catalog, as_of, privacy=privacy)
    before = evaluate(store, catalog, window.baseline, privacy=privacy)
    counts = dict.fromkeys(STATUSES, 0)
    for r in now:
        counts[r.status] = counts.get(r.status, 0) + 1
    histories = []
    for metric in dict.fromkeys(r.metric for r in now):
        d = catalog.get(metric)
        ind = d.indicator
        points = history(store, d, as_of, history_periods(ind.cadence, window))
        histories.append(IndicatorHistory(metric, ind.name, ind.unit, ind.direction, ind.cadence, ind.thresholds,
                                          points))
    start_ts = datetime.combine(window.start, datetime.min.time(), tzinfo=UTC)
    end_ts = datetime.combine(window.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    risks = Risks(
        red=[_risk(catalog, r) for r in now if r.status == "red"],
        no_data=[_risk(catalog, r) for r in now if r.status == "no_data"],
        lint=[i for i in lint(catalog, today=as_of, assessed_versions=assessed_versions(store))
              if i.level in ("ERROR", "WARNING")],
        quarantine=quarantined(store, start_ts, end_ts),
    )
    return Report(title, as_of, window, generated_at or datetime.now(UTC), counts, scorecard(catalog, now),
                  histories, notable_changes(catalog, now, before), risks)
