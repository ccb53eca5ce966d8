"""Retention's tiers read as one series: raw samples and rollup buckets side by side, with counter increases.

Retention moves values, it never copies them: a raw sample is deleted in the transaction that adds it to a
rollup bucket, a bucket is deleted when it is added to the next tier's, and the dataset's retention horizon
(`telemetry.horizon`) refuses samples dated before the rolled-up period from then on. So every value lives in
exactly one row of one tier, and a read takes **every** row of every tier in its range: nothing is skipped and
nothing counted twice. A raw row inside a rollup bucket's period (a late sample stored directly, behind the
horizon's back) is a value of its own too: the next `retention apply` merges it into that bucket.

`points(raw, rolled)` is that union, one row per raw sample (`resolution` `raw`: sum = min = max = last =
value, count 1) or per bucket. `increase` is the counter increase a row holds: for a bucket, the stored one
(the increases of the samples it took, including the one from the previous bucket's last sample to its first
sample); for a raw sample, its value minus the previous point's `last` in time order across all tiers (a raw
sample or a bucket), or its value when it dropped (a counter reset), as Prometheus `increase` counts without
extrapolation; null for the first point of a series. It is computed for every series: readers use it only for
counters. Buckets written before schema 14 have neither `increase` nor `last` (null).

A read over a window [start, end) takes a row only when its whole span lies inside the window (`within`): a
raw sample by its instant, a bucket `[ts, ts + width)` with the width of its `resolution`. A window whose edge
cuts a bucket reads less (the buckets it covers whole), never data from outside it.

Everything here is portable Ibis (`union`, a `lag` window, `cases`, epoch seconds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from ..durations import duration_seconds
from ..timeutil import UTC_TIMESTAMP, as_utc

if TYPE_CHECKING:  # the store package imports the SLO sources, which read through this module
    from ..store import Store

__all__ = ["COLUMNS", "ROLLUPS", "bucket_end", "bucket_start", "ends_after", "floor_to", "points", "read_series",
           "resolution_widths", "within"]

ROLLUPS = "_telemetry_rollups"
COLUMNS = ("series", "ts", "resolution", "metric", "labels", "sum", "count", "min", "max", "increase", "last")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA = ibis.schema({"series": "string", "ts": UTC_TIMESTAMP, "resolution": "string", "metric": "string",
                       "labels": "string", "sum": "float64", "count": "int64", "min": "float64", "max": "float64",
                       "increase": "float64", "last": "float64", "_raw": "int8"})


def floor_to(at: datetime, width: int) -> datetime:
    """`at` floored to a multiple of `width` seconds since the Unix epoch.

    >>> floor_to(datetime(2026, 1, 1, 10, 7, tzinfo=UTC), 300).isoformat()
    '2026-01-01T10:05:00+00:00'
    """
    seconds = int((at - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % width)


def bucket_start(ts: ir.TimestampValue, width: int) -> ir.TimestampValue:
    """The start of the epoch-aligned bucket of `width` seconds holding `ts` (portable Ibis)."""
    return ((ts.epoch_seconds() // width) * width).as_timestamp("s").cast(UTC_TIMESTAMP)


def resolution_widths(store: Store) -> dict[str, int]:
    """The width in seconds of each resolution present in `_telemetry_rollups` (one small distinct query).

    >>> from engmetrics.store import Store
    >>> store = Store.open("duckdb://")
    >>> _ = store.sql.execute("INSERT INTO _telemetry_rollups (series, resolution, ts, metric, sum, count, min, "
    ...     "max) VALUES ('up', '5m', '2026-01-01 00:00:00+00', 'up', 1, 1, 1, 1)")
    >>> resolution_widths(store)
    {'5m': 300}
    """
    found = store.table(ROLLUPS).select("resolution").distinct().execute()["resolution"].tolist()
    return {r: duration_seconds(r) for r in found}


def bucket_end(ts: ir.TimestampValue, resolution: ir.StringValue, widths: Mapping[str, int]) -> ir.IntegerValue:
    """Epoch seconds at which a row of `points` (or of `_telemetry_rollups`) ends: `ts` plus the width of its
    `resolution` from `widths` (`resolution_widths`); a raw sample (or an unknown resolution) spans no time."""
    width = ibis.cases(*((resolution == r, w) for r, w in widths.items()), else_=0) if widths else ibis.literal(0)
    return ts.epoch_seconds() + width


def ends_after(ts: ir.TimestampValue, resolution: ir.StringValue, at: datetime,
               widths: Mapping[str, int]) -> ir.BooleanValue:
    """Whether a row (of `points` or `_telemetry_rollups`) ends after the instant `at` (`bucket_end`)."""
    return bucket_end(ts, resolution, widths) > math.floor(as_utc(at).timestamp())  # bucket ends are whole seconds


def within(p: ir.Table, start: datetime, end: datetime, widths: Mapping[str, int]) -> ir.BooleanValue:
    """Whether a row of `points` lies wholly inside [start, end): a raw sample by its instant, a bucket by its
    span `[ts, ts + width)`; a bucket an edge cuts is outside."""
    return ((p.ts >= ibis.timestamp(as_utc(start))) & (p.ts < ibis.timestamp(as_utc(end)))
            & ~ends_after(p.ts, p.resolution, end, widths))


def points(raw: ir.Table, rolled: ir.Table) -> ir.Table:
    """Raw samples (`telemetry_samples` rows) and rollup buckets (`_telemetry_rollups` rows) as one table of
    `COLUMNS`, with each raw sample's counter increase (module docstring).

    Pass every row the increases should see: a raw sample's previous point may lie before the range wanted,
    so filter `ts` from below only after this call (or give a lookback).
    """
    r = raw.select(series=raw.series, ts=raw.ts, resolution=ibis.literal("raw"), metric=raw.metric,
                   labels=raw.labels, sum=raw.value, count=ibis.literal(1), min=raw.value, max=raw.value,
                   increase=ibis.null(), last=raw.value, _raw=ibis.literal(1))
    b = rolled.select(*COLUMNS, _raw=ibis.literal(0))
    r, b = (t.cast(_SCHEMA) for t in (r, b))
    u = ibis.union(r, b)
    # a bucket sorts before a raw sample at its start instant: the bucket's samples are that old or later,
    # but a raw row there is a later arrival merged after them
    w = ibis.window(group_by=u.series, order_by=[u.ts, u._raw])
    u = u.mutate(_prev=u["last"].lag().over(w))
    delta = ibis.cases((u["last"] < u._prev, u["last"]), else_=u["last"] - u._prev)
    return u.select(*COLUMNS[:9], increase=ibis.cases((u._raw == 1, delta), else_=u.increase), last=u["last"])


def read_series(store: Store, series: str, start: datetime, end: datetime) -> ir.Table:
    """One `telemetry_samples` series over [start, end), every tier: raw samples where kept, rollup buckets
    where retention rolled them up. Columns `ts`, `resolution` (`raw` or the rollup's), `sum`, `count`,
    `min`, `max` (a raw sample: its value, count 1), `increase` (the counter increase the row holds; null for
    the series' first sample) and `last`, ordered by `ts`. Only rows wholly inside the window (`within`): a
    window whose edge cuts a bucket leaves that bucket out, so align it to the coarsest resolution in it for
    exact sums.

    >>> from engmetrics.store import Store
    >>> store = Store.open("duckdb://")
    >>> _ = store.sql.execute("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES "
    ...     "('up', '2026-01-01 00:01:00+00', 'up', 1), ('up', '2026-01-01 00:02:00+00', 'up', 3)")
    >>> t = read_series(store, "up", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    >>> t.to_pyarrow().select(["sum", "increase"]).to_pylist()
    [{'sum': 1.0, 'increase': None}, {'sum': 3.0, 'increase': 2.0}]
    """
    hi = ibis.timestamp(as_utc(end))
    raw, rolled = store.table("telemetry_samples"), store.table(ROLLUPS)
    p = points(raw.filter(raw.series == series, raw.ts < hi), rolled.filter(rolled.series == series, rolled.ts < hi))
    p = p.filter(within(p, start, end, resolution_widths(store)))
    return p.select("ts", "resolution", "sum", "count", "min", "max", "increase", "last").order_by(["ts", "resolution"])
