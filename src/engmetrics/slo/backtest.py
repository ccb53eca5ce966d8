"""SLO alert backtest: replay multi-window, multi-burn-rate alert tables over history and score them against
incidents.

Three steps, each on a small result of the one before:

1. **Burn rates** (`burn_rates`), in the engine with Ibis. Events `(ts, good, total)` are put on a
   1-minute grid anchored at `start` (slot `k` holds the events of `[start + k min, start + (k+1) min)`);
   the grid reaches back by the longest window and every minute without data is filled with zeros, so a
   window of `w` minutes is exactly a `ROWS BETWEEN w PRECEDING AND 1 PRECEDING` frame. At evaluation
   time `t` the window covers `[t - w, t)`; error ratio = (sum total - sum good) / sum total, None when
   the window has no events; burn rate = error ratio / (1 - target). Only the evaluation times of the
   `step` grid in `[start, end)` are kept. A window reaching before the first event counts only the events
   it holds (minutes after the data begins, a 3d window holds a few minutes), so pass at least the longest
   window of history before `start`.
2. **Firing episodes** (`firing_episodes`). A tier fires at `t` when both its long- and short-window burn
   rates are known and at or above its factor (`AlertTier.firing`, same 1e-12 tolerance). Consecutive
   firing evaluation times form one episode `{"start", "end", "severity", "long_window", "short_window",
   "factor"}`; `end` is the first evaluation time it no longer fired, or `end` of the range when it
   still fires there.
3. **Scores** (`backtest`), per severity, against incidents: see `SeverityScore`.

>>> from datetime import datetime, timedelta
>>> import ibis
>>> t0 = datetime(2026, 1, 1)
>>> minutes = [t0 + timedelta(minutes=m) for m in range(180)]
>>> bad = [300 if 60 <= m < 70 else 0 for m in range(180)]  # 01:00-01:10 at 30 % errors
>>> events = ibis.memtable({"ts": minutes, "good": [1000.0 - b for b in bad], "total": [1000.0] * 180})
>>> report = backtest(events, target=0.999, period_seconds=30 * 86400, tables=[DEFAULT_TABLE],
...                   start=t0, end=t0 + timedelta(hours=3), incidents=None)
>>> [(f["severity"], f["long_window"], f["start"].strftime("%H:%M"), f["end"].strftime("%H:%M"))
...  for f in report.tables[0].firings]
[('ticket', '1d', '01:01', '03:00'), ('ticket', '3d', '01:01', '03:00'), ('page', '6h', '01:02', '01:40'), \
('page', '1h', '01:03', '01:15')]
>>> report.tables[0].page.precision, report.tables[0].page.recall  # no incidents: every firing is false
(0.0, None)

Definitions chosen for the scores:

- An incident's interval is `[impact start - slack, resolved]`, both ends included; impact start is
  `impact_started_at`, else `declared_at` (an incident with neither is skipped and listed in
  `BacktestReport.skipped_incidents`); resolved is `resolved_at`, else `mitigated_at`, else `end`
  (`engmetrics.slo.incidents_window`, as budget attribution and the integrity checks read it). Only
  incidents whose interval overlaps `[start, end)` are scored.
- A firing (one episode of one tier; two tiers firing for one outage are two firings) is a true positive
  when its start lies in some incident's interval.
- Detection delay = first firing start in the interval - impact start, in seconds (negative when a slack
  lets a firing before the recorded impact start count). Median and p90 use **linear interpolation**
  between closest ranks (`engmetrics.quantiles.percentile`, numpy's default method).
- Budget consumed before the first firing = bad events with `ts` in `[impact start, first firing)` divided
  by the allowed bad events `(1 - target) x total events with ts in [first firing - period, first firing)`
  (only the history present in `events` counts; None when that total is 0).

Portability: only Ibis expressions that DuckDB and PySpark both compile (`range().unnest()`, rows frames,
`row_number`, `epoch_seconds`, memtables, a non-equi join). `epoch_seconds` casts to a zone-less
timestamp, so a timezone-aware `ts` must be read in a UTC session (`Store` sets DuckDB's `TimeZone` to UTC;
run Spark with `spark.sql.session.timeZone=UTC`). Naive timestamps are taken as UTC everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..durations import duration_seconds
from ..quantiles import percentile
from ..timeutil import UTC_TIMESTAMP, as_utc
from .alerting import DEFAULT_TABLE, AlertTable, AlertTier, Severity
from .incidents_window import LIFECYCLE, incident_window

__all__ = [
    "BacktestReport",
    "Firing",
    "IncidentScore",
    "SeverityScore",
    "TableResult",
    "backtest",
    "burn_column",
    "burn_rates",
    "firing_episodes",
]

_SEVERITIES: tuple[Severity, ...] = ("page", "ticket")
_TOLERANCE = 1e-12  # as AlertTier.firing


class Firing(TypedDict):
    """One firing episode of one tier: `[start, end)` with `end` the first evaluation time it stopped."""

    start: datetime
    end: datetime
    severity: Severity
    long_window: str
    short_window: str
    factor: float


@dataclass(frozen=True)
class IncidentScore:
    """How one incident was alerted at one severity; the alert fields are None when it was not detected."""

    incident_id: str
    impact_start: datetime
    resolved: datetime
    first_alert: datetime | None
    detection_delay_seconds: float | None
    budget_consumed: float | None  # fraction of the period's allowed bad events spent before the first alert


@dataclass(frozen=True)
class SeverityScore:
    """Scores of one table's firings of one severity against the incidents.

    precision = true positives / firings (None without firings); recall = detected incidents / incidents
    (None without incidents); delays in seconds and budget fractions are medians and p90 over the detected
    incidents (linear interpolation; None when nothing was detected).
    """

    severity: Severity
    firings: int
    true_positives: int
    false_positives: int
    precision: float | None
    incidents: int
    detected: int
    recall: float | None
    detection_delay_median: float | None
    detection_delay_p90: float | None
    budget_consumed_median: float | None
    per_incident: tuple[IncidentScore, ...] = ()


@dataclass(frozen=True)
class TableResult:
    """One alert table's firing episodes (ordered by start, then tier) and its scores per severity."""

    table: AlertTable
    firings: list[Firing]
    scores: dict[Severity, SeverityScore]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def page(self) -> SeverityScore:
        return self.scores["page"]

    @property
    def ticket(self) -> SeverityScore:
        return self.scores["ticket"]


@dataclass(frozen=True)
class BacktestReport:
    """The backtest of several alert tables over one history `[start, end)`, one `TableResult` per table."""

    start: datetime
    end: datetime
    step: str
    target: float
    period_seconds: float
    slack_seconds: float
    incidents: int  # incidents scored (overlapping the range)
    tables: tuple[TableResult, ...]
    skipped_incidents: tuple[str, ...] = field(default=())  # ids without impact start nor declared_at

    def table(self, name: str) -> TableResult:
        """The result of the table called `name`."""
        for result in self.tables:
            if result.name == name:
                return result
        raise KeyError(name)

    def comparison(self) -> list[dict[str, Any]]:
        """One row per table, side by side: firings, precision, recall, delays and budget per severity."""
        rows = []
        for result in self.tables:
            row: dict[str, Any] = {"table": result.name}
            for severity, s in result.scores.items():
                row |= {
                    f"{severity}_firings": s.firings, f"{severity}_precision": s.precision,
                    f"{severity}_recall": s.recall, f"{severity}_delay_median_s": s.detection_delay_median,
                    f"{severity}_delay_p90_s": s.detection_delay_p90,
                    f"{severity}_budget_consumed_median": s.budget_consumed_median,
                }
            rows.append(row)
        return rows


def burn_column(window: str) -> str:
    """The column of `burn_rates` holding the burn rate over `window` (`"1h"` -> `"burn_1h"`)."""
    return f"burn_{window}"


def _minutes(text: str, what: str) -> int:
    seconds = duration_seconds(text)
    if seconds % 60:
        raise ValueError(f"{what} {text!r} is not a whole number of minutes (the grid is 1 minute)")
    return seconds // 60


def _as_table(events: ir.Table | pd.DataFrame) -> ir.Table:
    return ibis.memtable(events) if isinstance(events, pd.DataFrame) else events


def _grid(start: datetime, end: datetime, step: str) -> tuple[int, int]:
    """(step in minutes, last evaluation slot): evaluation times are start + k x step < end."""
    step_min = _minutes(step, "step")
    span = (end - start).total_seconds()
    if span <= 0:
        raise ValueError(f"empty range: start {start} is not before end {end}")
    count = math.ceil(span / (step_min * 60))
    return step_min, (count - 1) * step_min


def _slotted(events: ir.Table, start: datetime, first: int, last: int) -> ir.Table:
    """Events per 1-minute slot relative to `start`, `(slot, good, bad, total)`, slots in [first, last]."""
    epoch = events.ts.epoch_seconds().cast("float64")
    slot = ((epoch - start.timestamp()) / 60).floor().cast("int64")
    t = events.select(slot=slot, good=events.good.cast("float64"), total=events.total.cast("float64"))
    t = t.filter(t.slot >= first, t.slot <= last)
    return t.group_by("slot").aggregate(good=t.good.sum(), total=t.total.sum())


def _burn_slots(
    events: ir.Table, *, target: float, windows: Sequence[str], start: datetime, end: datetime, step: str,
) -> ir.Table:
    """`(slot, burn_<w>...)` at the evaluation slots (minutes since `start`, multiples of the step)."""
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1, got {target}")
    step_min, last = _grid(start, end, step)
    sizes = {w: _minutes(w, "window") for w in dict.fromkeys(windows)}
    lookback = max(sizes.values(), default=0)
    # Every minute from the longest window before start to the last evaluation time, zero-filled, so a rows
    # frame of w rows is exactly w minutes. (A RANGE frame over the sparse slots would also do on DuckDB,
    # but rows frames over a dense grid behave the same on every engine and make empty windows sum to 0.)
    # The frames have no PARTITION BY (one series): on Spark they run in one task, which is fine for one
    # indicator (47,520 rows for 30 days with a 3-day lookback).
    grid = ibis.range(-lookback, last + 1).unnest().name("slot").as_table()
    data = _slotted(events, start, -lookback, last)
    data = data.rename(_slot="slot")
    g = grid.left_join(data, grid.slot == data._slot)
    g = g.select("slot", good=g.good.fill_null(0.0), total=g.total.fill_null(0.0))
    g = g.mutate(bad=g.total - g.good)
    columns = {}
    for window, size in sizes.items():
        frame = ibis.window(order_by=g.slot, rows=(-size, -1))  # [t - w, t): the w slots before t
        bad, total = g.bad.sum().over(frame), g.total.sum().over(frame)
        # total > 0 guards the division: no NaN or infinity, None for a window without events
        columns[burn_column(window)] = ibis.cases((total > 0, bad / total / (1 - target)), else_=ibis.null("float64"))
    rates = g.select("slot", **columns)
    return rates.filter(rates.slot >= 0, rates.slot <= last, rates.slot % step_min == 0)


def burn_rates(
    events: ir.Table | pd.DataFrame, *, target: float, windows: Sequence[str], start: datetime, end: datetime,
    step: str = "1m",
) -> ir.Table:
    """Burn rates at every evaluation time of the `step` grid in `[start, end)`, as an Ibis table
    `(ts, burn_<window>...)` ordered by `ts` (`ts` UTC; a burn rate is null when its window has no events).

    `events` has `ts`, `good` and `total` (an indicator source, or a pandas frame); windows and step are
    whole minutes. Nothing is executed here.

    >>> from datetime import datetime, timedelta
    >>> import ibis
    >>> t0 = datetime(2026, 1, 1)
    >>> ev = ibis.memtable({"ts": [t0, t0 + timedelta(minutes=1)], "good": [90.0, 100.0], "total": [100.0, 100.0]})
    >>> r = burn_rates(ev, target=0.9, windows=["2m"], start=t0, end=t0 + timedelta(minutes=4)).to_pyarrow()
    >>> [None if b is None else round(b, 6) for b in r["burn_2m"].to_pylist()]  # 10/100/0.1, 10/200/0.1, 0/100/0.1
    [None, 1.0, 0.5, 0.0]
    """
    start, end = as_utc(start), as_utc(end)
    rates = _burn_slots(_as_table(events), target=target, windows=windows, start=start, end=end, step=step)
    ts = ibis.timestamp(start) + rates.slot.as_interval("m")
    return rates.select(ts=ts, **{c: rates[c] for c in rates.columns if c != "slot"}).order_by("ts")


def _tier_condition(rates: ir.Table, tier: AlertTier, period_seconds: float) -> ir.BooleanValue:
    threshold = tier.factor(period_seconds) - _TOLERANCE
    long, short = rates[burn_column(tier.long_window)], rates[burn_column(tier.short_window)]
    return ((long >= threshold) & (short >= threshold)).fill_null(False)  # an unknown rate never fires


def _episodes(
    rates: ir.Table, tiers: Sequence[AlertTier], *, period_seconds: float, start: datetime, end: datetime,
    step_min: int,
) -> list[list[Firing]]:
    """Episodes of each tier, from one query over the `_burn_slots` table.

    Gaps and islands run in the engine: the tiers' firing flags are stacked into `(key, slot)` rows by a
    cross join with a tiny key table (one scan of the rates, no union of per-tier scans), the firing rows
    keep `slot / step - row_number()`, constant within a run of consecutive evaluation times, and a
    group-by gives each run's first and last slot. Only the episodes leave the engine (a few rows instead of
    a boolean per minute and tier, which matters on Spark and over long histories).
    """
    if not tiers:
        return []
    keys = ibis.memtable({"key": list(range(len(tiers)))})
    stacked = rates.cross_join(keys)
    firing = ibis.cases(*[(stacked.key == i, _tier_condition(stacked, tier, period_seconds))
                          for i, tier in enumerate(tiers)], else_=False)
    on = stacked.select("key", "slot", firing=firing)
    on = on.filter(on.firing)
    run = ibis.window(group_by=on.key, order_by=on.slot)
    on = on.mutate(island=on.slot // step_min - ibis.row_number().over(run))
    runs = on.group_by("key", "island").aggregate(first=on.slot.min(), last=on.slot.max()).execute()
    result: list[list[Firing]] = [[] for _ in tiers]
    for key, first, last in sorted(zip(runs["key"], runs["first"], runs["last"], strict=True), key=lambda r: r[1]):
        tier = tiers[int(key)]
        result[int(key)].append(Firing(
            start=start + timedelta(minutes=int(first)),
            end=min(start + timedelta(minutes=int(last) + step_min), end),
            severity=tier.severity, long_window=tier.long_window, short_window=tier.short_window,
            factor=tier.factor(period_seconds),
        ))
    return result


def firing_episodes(
    events: ir.Table | pd.DataFrame, *, target: float, period_seconds: float, table: AlertTable = DEFAULT_TABLE,
    start: datetime, end: datetime, step: str = "1m",
) -> list[Firing]:
    """The firing episodes of every tier of `table` over `[start, end)`, ordered by start (then tier)."""
    start, end = as_utc(start), as_utc(end)
    step_min, _ = _grid(start, end, step)
    rates = _burn_slots(_as_table(events), target=target, windows=table.windows, start=start, end=end, step=step)
    per_tier = _episodes(rates, table.tiers, period_seconds=period_seconds, start=start, end=end, step_min=step_min)
    return _ordered(per_tier)


def _ordered(per_tier: list[list[Firing]]) -> list[Firing]:
    flat = [(f["start"], i, f) for i, firings in enumerate(per_tier) for f in firings]
    return [f for _, _, f in sorted(flat, key=lambda r: (r[0], r[1]))]


@dataclass(frozen=True)
class _Incident:
    incident_id: str
    impact_start: datetime
    resolved: datetime
    low: datetime  # impact start - slack


def _lifecycle(incidents: ir.Table | pd.DataFrame, service: str | None) -> ir.Table:
    """`(_n, incident_id, <LIFECYCLE>)` of the service's incidents: a missing lifecycle column is NULL, a missing
    id the row's position; `_n` orders the rows (a frame's own order, else by id)."""
    if isinstance(incidents, pd.DataFrame):
        frame = incidents
        if service is not None and "service" in frame.columns:
            frame = frame[frame["service"] == service]
        frame = frame.reset_index(drop=True)
        columns = {"_n": pd.Series(range(len(frame)), dtype="int64"),
                   "incident_id": (frame["incident_id"].astype(str) if "incident_id" in frame.columns
                                   else pd.Series([str(i) for i in range(len(frame))], dtype=object))}
        for c in LIFECYCLE:  # naive values are taken as UTC
            columns[c] = (pd.to_datetime(frame[c], utc=True) if c in frame.columns
                          else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]"))
        return ibis.memtable(pd.DataFrame(columns))
    # filter and project in the engine: only this service's few rows and the lifecycle columns leave it
    if service is not None and "service" in incidents.columns:
        incidents = incidents.filter(incidents.service == service)
    return incidents.select(
        _n=ibis.row_number().over(order_by=incidents.incident_id), incident_id=incidents.incident_id.cast("string"),
        **{c: incidents[c] if c in incidents.columns else ibis.null(UTC_TIMESTAMP) for c in LIFECYCLE})


def _incidents(
    incidents: ir.Table | pd.DataFrame | None, *, service: str | None, slack_seconds: float, start: datetime,
    end: datetime,
) -> tuple[list[_Incident], list[str]]:
    """Scored incidents (interval overlapping [start, end)) and the ids skipped for want of a start."""
    if incidents is None:
        return [], []
    t = _lifecycle(incidents, service)
    began, ended = incident_window(t, open_until=end)
    rows = t.select("_n", "incident_id", began=began, ended=ended).order_by("_n").to_pyarrow().to_pylist()
    scored, skipped = [], []
    for row in rows:  # a handful of incidents
        incident_id, began, ended = row["incident_id"], row["began"], row["ended"]
        if began is None:
            skipped.append(incident_id)
            continue
        began, ended = as_utc(began), as_utc(ended)
        low = began - timedelta(seconds=slack_seconds)
        if low < end and ended >= start:
            scored.append(_Incident(incident_id, began, ended, low))
    return scored, skipped


def _budget_consumed(
    events: ir.Table, probes: list[tuple[datetime, datetime]], *, target: float, period_seconds: float,
) -> list[float | None]:
    """For each (impact start, first alert): bad events in [impact, alert) / ((1 - target) x total events in
    [alert - period, alert)), in one engine query (a range join of the events with the probes)."""
    if not probes:
        return []
    p = ibis.memtable({
        "key": list(range(len(probes))),
        "bad_from": [impact.timestamp() for impact, _ in probes],
        "total_from": [alert.timestamp() - period_seconds for _, alert in probes],
        "until": [alert.timestamp() for _, alert in probes],
    })
    e = events.select(epoch=events.ts.epoch_seconds().cast("float64"), good=events.good.cast("float64"),
                      total=events.total.cast("float64"))
    j = e.inner_join(p, [e.epoch >= ibis.least(p.bad_from, p.total_from), e.epoch < p.until])
    sums = j.group_by("key").aggregate(
        bad=(j.total - j.good).sum(where=j.epoch >= j.bad_from), total=j.total.sum(where=j.epoch >= j.total_from),
    ).execute()
    found = {int(k): (b, t) for k, b, t in zip(sums["key"], sums["bad"], sums["total"], strict=True)}
    result: list[float | None] = []
    for key in range(len(probes)):
        bad, total = found.get(key, (None, None))
        bad = 0.0 if bad is None or pd.isna(bad) else float(bad)
        if total is None or pd.isna(total) or total <= 0:
            result.append(None)
        else:
            result.append(bad / ((1 - target) * float(total)))
    return result


def _score(
    severity: Severity, firings: list[Firing], incidents: list[_Incident], budgets: dict[tuple[str, datetime], Any],
) -> SeverityScore:
    """Scores of the firings of one severity (the firings and incidents are a few dozen: plain Python)."""
    starts = [f["start"] for f in firings if f["severity"] == severity]
    true_positive = sum(any(i.low <= s <= i.resolved for i in incidents) for s in starts)
    per_incident = []
    for incident in incidents:
        inside = [s for s in starts if incident.low <= s <= incident.resolved]
        first = min(inside, default=None)
        per_incident.append(IncidentScore(
            incident.incident_id, incident.impact_start, incident.resolved, first,
            None if first is None else (first - incident.impact_start).total_seconds(),
            None if first is None else budgets.get((incident.incident_id, first)),
        ))
    detected = [s for s in per_incident if s.first_alert is not None]
    delays = [s.detection_delay_seconds for s in detected if s.detection_delay_seconds is not None]
    spent = [s.budget_consumed for s in detected if s.budget_consumed is not None]
    return SeverityScore(
        severity=severity, firings=len(starts), true_positives=true_positive,
        false_positives=len(starts) - true_positive, precision=true_positive / len(starts) if starts else None,
        incidents=len(incidents), detected=len(detected),
        recall=len(detected) / len(incidents) if incidents else None,
        detection_delay_median=percentile(delays, 0.5), detection_delay_p90=percentile(delays, 0.9),
        budget_consumed_median=percentile(spent, 0.5), per_incident=tuple(per_incident),
    )


def _first_alerts(firings: list[Firing], incidents: list[_Incident]) -> set[tuple[str, datetime, datetime]]:
    """(incident id, impact start, first alert) of every severity's first firing in each incident."""
    pairs = set()
    for severity in _SEVERITIES:
        starts = [f["start"] for f in firings if f["severity"] == severity]
        for incident in incidents:
            first = min((s for s in starts if incident.low <= s <= incident.resolved), default=None)
            if first is not None:
                pairs.add((incident.incident_id, incident.impact_start, first))
    return pairs


def backtest(
    events: ir.Table | pd.DataFrame,
    *,
    target: float,
    period_seconds: float,
    tables: Sequence[AlertTable] | AlertTable,
    start: datetime,
    end: datetime,
    incidents: ir.Table | pd.DataFrame | None,
    step: str = "1m",
    slack_seconds: float = 0.0,
    service: str | None = None,
) -> BacktestReport:
    """Replay every alert table over `events` in `[start, end)` and score its firings against `incidents`.

    `events`: `(ts, good, total)` rows, e.g. an indicator source of `engmetrics.slo.sources` (any bucket of
    one minute or finer; data before `start` feeds the windows). `target`: the SLO objective (0.999).
    `period_seconds`: the SLO period the tier factors and the budget use. `incidents`: rows with
    `incident_id`, `impact_started_at`/`declared_at`, `resolved_at`/`mitigated_at` (and `service`, kept
    equal to `service` when given), or None. `step`: the evaluation grid. `slack_seconds`: how long before
    the impact start a firing still counts for an incident.

    The burn rates of all windows of all tables come from one engine query and the episodes of all tiers
    from a second; the budget figures from a third (only when an incident was detected).
    """
    tables = [tables] if isinstance(tables, AlertTable) else list(tables)
    start, end = as_utc(start), as_utc(end)
    step_min, _ = _grid(start, end, step)
    events = _as_table(events)
    windows = [w for table in tables for w in table.windows]
    rates = _burn_slots(events, target=target, windows=windows, start=start, end=end, step=step)
    tiers = [tier for table in tables for tier in table.tiers]
    per_tier = _episodes(rates, tiers, period_seconds=period_seconds, start=start, end=end, step_min=step_min)
    firings_by_table, offset = [], 0
    for table in tables:
        firings_by_table.append(_ordered(per_tier[offset:offset + len(table.tiers)]))
        offset += len(table.tiers)

    scored, skipped = _incidents(incidents, service=service, slack_seconds=slack_seconds, start=start, end=end)
    probes = sorted({p for firings in firings_by_table for p in _first_alerts(firings, scored)})
    spent = _budget_consumed(events, [(impact, alert) for _, impact, alert in probes], target=target,
                             period_seconds=period_seconds)
    budgets = {(incident_id, alert): value for (incident_id, _, alert), value in zip(probes, spent, strict=True)}

    results = tuple(
        TableResult(table, firings, {s: _score(s, firings, scored, budgets) for s in _SEVERITIES})
        for table, firings in zip(tables, firings_by_table, strict=True)
    )
    return BacktestReport(start=start, end=end, step=step, target=target, period_seconds=period_seconds,
                          slack_seconds=slack_seconds, incidents=len(scored), tables=results,
                          skipped_incidents=tuple(skipped))
