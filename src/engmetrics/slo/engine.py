"""Batched SLO counting: one engine query sums every indicator over every window the status needs.

All windows of a status run end at (or between) a few instants, so the time line is cut at every window
start and end ("cuts"); each event falls in one *band* between two cuts. The engine groups events by
indicator, band and exclusion once (a single hash aggregation, however many SLOs and windows), and any
window is then the sum of its bands, taken from that small result. Excluded events carry the index of
the first exclusion that covers them, so each exclusion's share is known and no event is removed twice.

Slice methods (Timeslices, RatioTimeslices) first group non-excluded events into slices, then count
slices per band: a slice belongs to the band of its start.

>>> from datetime import datetime, UTC
>>> import ibis
>>> events = ibis.memtable({"service": ["a", "a", "a"], "indicator": ["x", "x", "x"],
...     "ts": [datetime(2026, 1, 1, 10, m, tzinfo=UTC) for m in (0, 30, 59)],
...     "good": [9.0, 10.0, 0.0], "total": [10.0, 10.0, 5.0]})
>>> cuts = [datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 10, 30, tzinfo=UTC)]
>>> bands = band_sums(events, cuts, end=datetime(2026, 1, 1, 11, tzinfo=UTC), exclusions=[])
>>> bands.counts(("a", "x"), cuts[1], datetime(2026, 1, 1, 11, tzinfo=UTC)).total
15.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..timeutil import UTC_TIMESTAMP, as_utc
from .budget import BudgetResult, budget_from_counts, slice_start
from .exclusions import ALL_SERVICES, Exclusion

if TYPE_CHECKING:
    from .openslo import BudgetingMethod, Objective

__all__ = ["Bands", "Counts", "SliceCounts", "band_sums", "error_budget", "objective_budget", "slice_sums"]

Key = tuple[str, str]  # (service, indicator)


@dataclass(frozen=True)
class Counts:
    """Events of one indicator in one window: kept, and removed by each exclusion (index -> good, total)."""

    good: float = 0.0
    total: float = 0.0
    excluded: dict[int, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SliceCounts:
    """Slices of one indicator in one window, for one slice target."""

    slices: int = 0
    good_slices: int = 0
    ratio_sum: float = 0.0
    good: float = 0.0
    total: float = 0.0


def _band(ts: ir.TimestampColumn, cuts: Sequence[datetime]) -> ir.IntegerColumn:
    """The index of the last cut at or before `ts` (rows before the first cut are filtered out earlier)."""
    return ibis.cases(*[(ts >= ibis.timestamp(c), i) for i, c in reversed(list(enumerate(cuts)))], else_=-1)


def _excluded(t: ir.Table, exclusions: Sequence[Exclusion]) -> ir.IntegerColumn:
    """The index of the first exclusion covering the row, -1 for none."""
    if not exclusions:
        return ibis.literal(-1)
    cases = []
    for i, e in enumerate(exclusions):
        inside = (t.ts >= ibis.timestamp(e.start)) & (t.ts < ibis.timestamp(e.end))
        if e.service != ALL_SERVICES:
            inside &= t.service == e.service
        if e.indicator is not None:
            inside &= t.indicator == e.indicator
        cases.append((inside, i))
    return ibis.cases(*cases, else_=-1)


def _prepared(events: ir.Table, cuts: Sequence[datetime], end: datetime,
              exclusions: Sequence[Exclusion]) -> ir.Table:
    t = events.filter(events.ts >= ibis.timestamp(cuts[0]), events.ts < ibis.timestamp(end))
    return t.mutate(_x=_excluded(t, exclusions))


def _cumulative(frame: pd.DataFrame, groups: list[str], columns: list[str],
                n_bands: int) -> dict[tuple, np.ndarray]:
    """Per group, the running sums of `columns` over the bands: `cum[b]` is the sum of bands before `b`."""
    if frame.empty:
        return {}
    codes, uniques = pd.MultiIndex.from_frame(frame[groups]).factorize()
    sums = np.zeros((len(uniques), n_bands + 1, len(columns)))
    np.add.at(sums, (codes, frame["band"].to_numpy(dtype=np.int64) + 1), frame[columns].to_numpy(dtype=float))
    running = np.cumsum(sums, axis=1)
    return {tuple(str(v) if isinstance(v, str) else float(v) for v in key): running[i]
            for i, key in enumerate(uniques)}


class Bands:
    """Per-band sums of every indicator; `counts` adds up the bands of a window from running sums."""

    def __init__(self, frame: pd.DataFrame, cuts: Sequence[datetime], end: datetime) -> None:
        self.cuts, self.end = list(cuts), end
        self._index = {c: i for i, c in enumerate(self.cuts)}
        kept, excluded = frame[frame["_x"] < 0], frame[frame["_x"] >= 0]
        self._kept = _cumulative(kept, ["service", "indicator"], ["good", "total"], len(self.cuts))
        self._excluded: dict[Key, dict[int, np.ndarray]] = {}
        for (service, indicator, x), running in _cumulative(
                excluded.astype({"_x": float}), ["service", "indicator", "_x"], ["good", "total"],
                len(self.cuts)).items():
            self._excluded.setdefault((service, indicator), {})[int(x)] = running

    def band_range(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Indices into the running sums of the window [start, end); both must be cuts (or the end)."""
        if start not in self._index:
            raise ValueError(f"{start.isoformat()} is not a cut of this query")
        if end == self.end:
            return self._index[start], len(self.cuts)
        if end not in self._index:
            raise ValueError(f"{end.isoformat()} is not a cut of this query")
        return self._index[start], self._index[end]

    def counts(self, key: Key, start: datetime, end: datetime) -> Counts:
        """Events of `key` in [start, end)."""
        first, stop = self.band_range(start, end)
        kept = self._kept.get(key)
        good, total = (kept[stop] - kept[first]) if kept is not None else (0.0, 0.0)
        excluded = {}
        for x, running in self._excluded.get(key, {}).items():
            x_good, x_total = running[stop] - running[first]
            if x_total or x_good:
                excluded[x] = (float(x_good), float(x_total))
        return Counts(float(good), float(total), excluded)


def band_sums(events: ir.Table, cuts: Sequence[datetime], *, end: datetime,
              exclusions: Sequence[Exclusion]) -> Bands:
    """Sums of `good` and `total` per (service, indicator, band, exclusion) of `events`
    (`service, indicator, ts, good, total`) in [cuts[0], end); `cuts` sorted, aware UTC."""
    t = _prepared(events, cuts, end, exclusions)
    t = t.mutate(band=_band(t.ts, cuts))
    frame = t.group_by("service", "indicator", "band", "_x").aggregate(
        good=t.good.sum(), total=t.total.sum()).execute()
    return Bands(frame, cuts, end)


class Slices:
    """Per-band slice counts of every (indicator, slice target), as running sums."""


    def __init__(self, frame: pd.DataFrame, bands: Bands) -> None:
        self._bands = bands
        columns = ["slices", "good_slices", "ratio_sum", "good", "total"]
        self._running = _cumulative(frame, ["service", "indicator", "slice_target"], columns, len(bands.cuts))

    def counts(self, key: Key, slice_target: float, start: datetime, end: datetime) -> SliceCounts:
        running = self._running.get((*key, float(slice_target)))
        if running is None:
            return SliceCounts()
        first, stop = self._bands.band_range(start, end)
        slices, good_slices, ratio_sum, good, total = running[stop] - running[first]
        return SliceCounts(round(slices), round(good_slices), float(ratio_sum), float(good), float(total))


def slice_sums(events: ir.Table, bands: Bands, *, width: str, targets: Sequence[tuple[str, str, float]],
               exclusions: Sequence[Exclusion]) -> Slices:
    """Slices of `width` per (service, indicator, slice target, band), excluded events removed first.

    `targets` lists (service, indicator, timeSliceTarget); give 0.0 for RatioTimeslices (every slice
    then counts as good, which that method ignores).
    """
    t = _prepared(events, bands.cuts, bands.end, exclusions)
    t = t.filter(t._x < 0)
    t = t.mutate(_slice=slice_start(t.ts, width))
    s = t.group_by("service", "indicator", "_slice").aggregate(good=t.good.sum(), total=t.total.sum())
    s = s.filter(s.total > 0)
    wanted = ibis.memtable(pd.DataFrame(list(targets), columns=["_service", "_indicator", "slice_target"]))
    j = s.join(wanted, (s.service == wanted._service) & (s.indicator == wanted._indicator))
    j = j.mutate(band=_band(j._slice, bands.cuts), ratio=j.good / j.total)
    frame = j.group_by("service", "indicator", "slice_target", "band").aggregate(
        slices=j.count(), good_slices=(j.ratio >= j.slice_target).cast("int64").sum(),
        ratio_sum=j.ratio.sum(), good=j.good.sum(), total=j.total.sum()).execute()
    return Slices(frame, bands)


_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
_ONE: Key = ("", "")  # the key of a single indicator judged by `error_budget`


def error_budget(
    events: ir.Table, *, method: BudgetingMethod, target: float, start: datetime, end: datetime,
    time_slice_target: float | None = None, time_slice_window: str | None = None,
) -> BudgetResult:
    """The error budget of `events` (`ts, good, total`) over [start, end) by one OpenSLO budgeting method,
    counted as `slo status` counts (see `engmetrics.slo.budget` for the definitions).

    Timeslices needs `time_slice_target` and `time_slice_window`; RatioTimeslices needs
    `time_slice_window`. Naive datetimes are UTC.

    >>> from datetime import datetime
    >>> import ibis
    >>> events = ibis.memtable({"ts": [datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 10, 1)],
    ...                         "good": [990, 95], "total": [1000, 100]})
    >>> r = error_budget(events, method="Occurrences", target=0.99,
    ...                  start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    >>> r.good, r.total, round(r.budget_total, 6), r.budget_consumed, round(r.budget_remaining, 4)
    (1085.0, 1100.0, 11.0, 15.0, -0.3636)
    >>> r = error_budget(events, method="RatioTimeslices", target=0.9, time_slice_window="1m",
    ...                  start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    >>> r.sli, round(r.budget_remaining, 6)
    (0.97, 0.7)
    """
    if method not in _METHODS:
        raise ValueError(f"unknown budgeting method {method!r}; use one of {', '.join(_METHODS)}")
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1 (exclusive), got {target!r}")
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValueError(f"the window is empty: end {end.isoformat()} is not after start {start.isoformat()}")
    if method != "Occurrences" and time_slice_window is None:
        raise ValueError(f"{method} needs a timeSliceWindow")
    if method == "Timeslices" and time_slice_target is None:
        raise ValueError("Timeslices needs a timeSliceTarget")
    if time_slice_target is not None and not 0 < time_slice_target <= 1:
        raise ValueError(f"timeSliceTarget must be in (0, 1], got {time_slice_target!r}")
    t = events.select(service=ibis.literal(_ONE[0]), indicator=ibis.literal(_ONE[1]), ts=events.ts.cast(UTC_TIMESTAMP),
                      good=events.good.cast("float64").fill_null(0.0),
                      total=events.total.cast("float64").fill_null(0.0))
    bands = band_sums(t, [start], end=end, exclusions=[])
    if method == "Occurrences":
        counts = bands.counts(_ONE, start, end)
        return budget_from_counts(method, target, good=counts.good, total=counts.total)
    assert time_slice_window is not None
    slice_target = time_slice_target if method == "Timeslices" and time_slice_target is not None else 0.0
    s = slice_sums(t, bands, width=time_slice_window, targets=[(*_ONE, slice_target)], exclusions=[]).counts(
        _ONE, slice_target, start, end)
    return budget_from_counts(method, target, good=s.good, total=s.total, slices=s.slices,
                              good_slices=s.good_slices if method == "Timeslices" else None, ratio_sum=s.ratio_sum)


def objective_budget(
    events: ir.Table, objective: Objective, method: BudgetingMethod, *, start: datetime, end: datetime,
) -> BudgetResult:
    """`error_budget` with target, timeSliceTarget and timeSliceWindow read from an OpenSLO objective.

    >>> from datetime import datetime
    >>> import ibis
    >>> from engmetrics.slo.openslo import Objective
    >>> events = ibis.memtable({"ts": [datetime(2026, 1, 1)], "good": [99], "total": [100]})
    >>> objective = Objective.model_validate({"target": 0.995, "timeSliceTarget": 0.99, "timeSliceWindow": "1m"})
    >>> objective_budget(events, objective, "Timeslices",
    ...                  start=datetime(2026, 1, 1), end=datetime(2026, 2, 1)).good_slices
    1
    """
    assert objective.target is not None  # the model fills it from targetPercent
    return error_budget(events, method=method, target=objective.target, start=start, end=end,
                        time_slice_target=objective.timeSliceTarget, time_slice_window=objective.timeSliceWindow)
