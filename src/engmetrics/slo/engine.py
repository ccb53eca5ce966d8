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

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

from .budget import slice_start
from .exclusions import ALL_SERVICES, Exclusion

__all__ = ["Bands", "Counts", "SliceCounts", "band_sums", "slice_sums"]

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


class Bands:
    """Per-band sums of every indicator; `counts` adds up the bands of a window."""

    def __init__(self, frame: pd.DataFrame, cuts: Sequence[datetime], end: datetime) -> None:
        self.cuts, self.end = list(cuts), end
        self._rows: dict[Key, pd.DataFrame] = {
            (str(s), str(i)): g for (s, i), g in frame.groupby(["service", "indicator"], sort=False)}

    def band_range(self, start: datetime, end: datetime) -> tuple[int, int]:
        first = bisect_left(self.cuts, start)
        if first == len(self.cuts) or self.cuts[first] != start:
            raise ValueError(f"{start.isoformat()} is not a cut of this query")
        if end == self.end:
            return first, len(self.cuts)
        if end not in self.cuts:
            raise ValueError(f"{end.isoformat()} is not a cut of this query")
        return first, self.cuts.index(end)

    def counts(self, key: Key, start: datetime, end: datetime) -> Counts:
        """Events of `key` in [start, end); `start` and `end` must be cuts (or the query's end)."""
        rows = self._rows.get(key)
        if rows is None:
            return Counts()
        first, stop = self.band_range(start, end)
        rows = rows[(rows["band"] >= first) & (rows["band"] < stop)]
        kept = rows[rows["_x"] < 0]
        excluded = rows[rows["_x"] >= 0].groupby("_x")[["good", "total"]].sum()
        return Counts(float(kept["good"].sum()), float(kept["total"].sum()),
                      {int(x): (float(r.good), float(r.total)) for x, r in excluded.iterrows()})


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
    """Per-band slice counts of every (indicator, slice target)."""

    def __init__(self, frame: pd.DataFrame, bands: Bands) -> None:
        self._bands = bands
        self._rows = {(str(s), str(i), float(t)): g
                      for (s, i, t), g in frame.groupby(["service", "indicator", "slice_target"], sort=False)}

    def counts(self, key: Key, slice_target: float, start: datetime, end: datetime) -> SliceCounts:
        rows = self._rows.get((*key, slice_target))
        if rows is None:
            return SliceCounts()
        first, stop = self._bands.band_range(start, end)
        rows = rows[(rows["band"] >= first) & (rows["band"] < stop)]
        return SliceCounts(int(rows["slices"].sum()), int(rows["good_slices"].sum()),
                           float(rows["ratio_sum"].sum()), float(rows["good"].sum()), float(rows["total"].sum()))


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
