"""Incident lifecycle durations (ttd, tta, ttm, ttr) per incident, and their distribution per group.

**Per incident** (an Ibis expression, portable to every engine). Each duration runs from the first non-null
column of its `start` list to the first non-null column of its `end` list (`ibis.coalesce`), as configured
in `settings.incidents.durations`. Defaults:

| duration | start | end |
| --- | --- | --- |
| ttd (detect) | impact_started_at, else declared_at | detected_at, else declared_at |
| tta (acknowledge) | detected_at, else declared_at | acknowledged_at |
| ttm (mitigate) | impact_started_at, else declared_at | mitigated_at, else resolved_at |
| ttr (resolve) | impact_started_at, else declared_at | resolved_at |

The value is `end - start` in whole seconds (float). Its state is `ok` (end at or after start),
`missing` (no start or no end after the fallbacks, or both fell back to the same column: the incident is
not counted for that duration, e.g. an unresolved incident has no ttr, and an incident with neither
impact_started_at nor detected_at has no ttd rather than a ttd of 0) or `invalid` (end before start:
excluded, and counted, because it is a data error rather than a fast response).
The value is null unless the state is `ok`.

**Which incidents.** Those with `start <= declared_at < end` (UTC) when a window is given, else all.

**Groups.** `severity` (as text, "1" most severe), `service`, `team` (a null value is the group "(null)"),
`month` or `week` of `declared_at` (UTC; weeks start on Monday; labels "2026-01" and "2026-01-05", the
week's Monday), or none (one group, "all"). Per group and duration: `count` incidents, `n` durations used,
`invalid`, `missing` (n + invalid + missing = count), then p50, p90, p95 and mean of the n values with
bootstrap intervals (see `engmetrics.incidents.bootstrap` for the percentile definition and the bootstrap).
The counts are one Ibis aggregation; the per-incident durations of the window are then fetched (a few
thousand rows) and summarised per group in numpy. A statistic of a duration with n = 0 is None.

**Comparing with the previous period.** The previous period is the window of the same length that ends
where the window starts; per group and duration, `compare_medians` tells the change of the median, its
interval, the minimum detectable change and whether the change is within noise.

>>> from engmetrics.store import Store
>>> duration_stats(Store.open("duckdb://"))
[]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..quantiles import percentile
from ..settings import DurationEvents, IncidentSettings
from ..store import Store
from ..timeutil import as_utc
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapIntervals, MedianComparison, bootstrap, compare_medians

__all__ = ["DURATIONS", "GROUPINGS", "DurationSummary", "GroupStats", "Grouping", "duration_counts",
           "duration_stats", "incident_durations", "summarise"]

DURATIONS = ("ttd", "tta", "ttm", "ttr")
GROUPINGS = ("severity", "service", "team", "month", "week")
Grouping = Literal["severity", "service", "team", "month", "week"]
NULL_GROUP = "(null)"
ALL_GROUP = "all"


def _first(t: ir.Table, columns: list[str]) -> ir.TimestampValue:
    return t[columns[0]] if len(columns) == 1 else ibis.coalesce(*(t[c] for c in columns))


def _takes(t: ir.Table, columns: list[str], column: str) -> ir.BooleanValue:
    """Whether the first non-null of `columns` is `column`."""
    return ibis.and_(*(t[c].isnull() for c in columns[:columns.index(column)]), t[column].notnull())


def _same_column(t: ir.Table, start: list[str], end: list[str]) -> ir.BooleanValue:
    """Whether start and end resolve to the same column (a duration of 0 by construction, not a measurement)."""
    return ibis.or_(*(_takes(t, start, c) & _takes(t, end, c) for c in start if c in end))


def incident_durations(incidents: ir.Table, events: Mapping[str, DurationEvents] | None = None) -> ir.Table:
    """`incidents` with, per duration d, `d` (seconds, null unless valid) and `d_state` (ok, missing, invalid)."""
    events = events or IncidentSettings().durations
    columns: dict[str, ir.Value] = {}
    for name in DURATIONS:
        start, end = _first(incidents, events[name].start), _first(incidents, events[name].end)
        raw = (end.epoch_seconds() - start.epoch_seconds()).cast("float64")
        raw = ibis.ifelse(_same_column(incidents, events[name].start, events[name].end), ibis.null("float64"), raw)
        columns[name] = ibis.ifelse(raw >= 0, raw, ibis.null("float64"))
        columns[f"{name}_state"] = ibis.cases((raw.isnull(), "missing"), (raw < 0, "invalid"), else_="ok")
    return incidents.mutate(**columns)


def _window(t: ir.Table, start: datetime | None, end: datetime | None) -> ir.Table:
    if start is not None:
        t = t.filter(t.declared_at >= ibis.timestamp(as_utc(start)))
    if end is not None:
        t = t.filter(t.declared_at < ibis.timestamp(as_utc(end)))
    return t


def _key(t: ir.Table, by: Grouping | None) -> ir.Value:
    if by is None:
        return ibis.literal(ALL_GROUP)
    if by in ("month", "week"):
        return t.declared_at.truncate("M" if by == "month" else "W")
    if by == "severity":
        return t.severity.cast("string")
    return ibis.coalesce(t[by], ibis.literal(NULL_GROUP))


def _label(value: object, by: Grouping | None) -> str:
    if by in ("month", "week"):
        return pd.Timestamp(value).strftime("%Y-%m" if by == "month" else "%Y-%m-%d")  # type: ignore[arg-type]
    return str(value)


def duration_counts(durations: ir.Table, by: Grouping | None = None) -> ir.Table:
    """Per group: `count` incidents and, per duration d, `d_n`, `d_invalid`, `d_missing` (an Ibis table)."""
    t = durations.mutate(group=_key(durations, by))
    aggs: dict[str, ir.Scalar] = {"count": t.count()}
    for d in DURATIONS:
        for state, field in (("ok", "n"), ("invalid", "invalid"), ("missing", "missing")):
            aggs[f"{d}_{field}"] = (t[f"{d}_state"] == state).cast("int64").sum()
    return t.group_by("group").aggregate(**aggs)


@dataclass(frozen=True)
class DurationSummary:
    """One duration's distribution in one group, in seconds (None when n = 0)."""

    n: int
    invalid: int
    missing: int
    p50: float | None
    p90: float | None
    p95: float | None
    mean: float | None
    intervals: BootstrapIntervals

    def to_dict(self) -> dict[str, object]:
        ci = self.intervals
        return {"p50": self.p50, "p90": self.p90, "p95": self.p95, "mean": self.mean,
                "ci95": list(ci.median) if ci.median else None, "n": self.n,
                "ci95_p90": list(ci.p90) if ci.p90 else None, "ci95_mean": list(ci.mean) if ci.mean else None,
                "invalid": self.invalid, "missing": self.missing}


@dataclass(frozen=True)
class GroupStats:
    """The four durations of one group; `compare_previous` only when asked for."""

    group: str
    count: int
    durations: dict[str, DurationSummary]
    compare_previous: dict[str, MedianComparison] | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"group": self.group, "count": self.count}
        out.update({d: s.to_dict() for d, s in self.durations.items()})
        if self.compare_previous is not None:
            out["compare_previous"] = {d: c.to_dict() for d, c in self.compare_previous.items()}
        return out


def summarise(values: np.ndarray, invalid: int, missing: int, *, resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED) -> DurationSummary:
    """Point estimates (linear-interpolation percentiles, mean) and bootstrap intervals of `values`."""
    mean = float(np.mean(values)) if len(values) else None
    return DurationSummary(len(values), invalid, missing, percentile(values, 0.5), percentile(values, 0.9),
                           percentile(values, 0.95), mean, bootstrap(values, resamples=resamples, seed=seed))


def _fetch(store: Store, events: Mapping[str, DurationEvents], by: Grouping | None, start: datetime | None,
           end: datetime | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts per group, per-incident durations with their group) of the window, from the engine."""
    t = incident_durations(_window(store.table("incidents"), start, end), events)
    counts = duration_counts(t, by).execute()
    values = t.select(group=_key(t, by), **{d: t[d] for d in DURATIONS}).execute()
    return counts, values


def _values(frame: pd.DataFrame, duration: str) -> np.ndarray:
    return frame[duration].dropna().to_numpy(dtype=float)


def duration_stats(store: Store, settings: IncidentSettings | None = None, *, by: Grouping | None = None,
                   start: datetime | None = None, end: datetime | None = None, compare_previous: bool = False,
                   resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> list[GroupStats]:
    """Per group (sorted by label), the distribution of each duration over incidents declared in [start, end).

    `compare_previous` needs both `start` and `end` (ValueError otherwise).
    """
    if compare_previous and (start is None or end is None):
        raise ValueError("comparing with the previous period needs a window: give both start and end")
    events = (settings or IncidentSettings()).durations
    counts, values = _fetch(store, events, by, start, end)
    previous = None
    if compare_previous:
        assert start is not None and end is not None
        previous = _fetch(store, events, by, start - (end - start), start)[1]
    groups = values.groupby("group")
    before = previous.groupby("group") if previous is not None else None
    result = []
    for row in counts.to_dict("records"):  # one row per group: a handful
        mine = groups.get_group(row["group"])
        durations = {d: summarise(_values(mine, d), int(row[f"{d}_invalid"]), int(row[f"{d}_missing"]),
                                  resamples=resamples, seed=seed) for d in DURATIONS}
        comparison = None
        if before is not None:
            old = before.get_group(row["group"]) if row["group"] in before.groups else mine.iloc[:0]
            comparison = {d: compare_medians(_values(old, d), _values(mine, d), resamples=resamples, seed=seed)
                          for d in DURATIONS}
        result.append(GroupStats(_label(row["group"], by), int(row["count"]), durations, comparison))
    return sorted(result, key=lambda g: g.group)
