"""Counters and histograms of a samples batch turned into increases, with array operations only.

`counter_increases` follows Prometheus' `increase` without extrapolation, as `engmetrics.slo.sources` does in
the store: per series ordered by time, a sample's increase is its value minus the previous sample's, or its
value when it dropped (a reset: the counter restarted from zero). The first sample of a series has no
increase. With `every`, the increases are summed per series in buckets of that width aligned on the epoch
(an increase belongs to the bucket of its later sample; `ts` is the bucket start).

`histogram_good_total` makes a latency SLI from a Prometheus histogram: good is the increase of the
`<name>_bucket` series whose `le` equals the threshold as a number, total the increase chosen by
`histogram_total`, both summed over the histogram's series per bucket of `every`.

One histogram rule, shared with `engmetrics.slo.sources` (SLOs read from the store):

- `le_bound` parses a bucket's `le` label: a number, compared as a number (`le="1"`, `le="1.0"` and
  `le="1e0"` are one bound), `+Inf` (also `Inf`, `inf`) is infinity; anything else is no bound.
- `histogram_total`: the total events are the increase of the `le="+Inf"` bucket when the histogram has one
  (it counts every observation, exactly as the buckets that give good do, so good <= total holds at every
  scrape), else of `<name>_count` (which Prometheus keeps equal to the `+Inf` bucket).

>>> import pyarrow as pa
>>> batch = pa.table({"series": ["a"] * 4, "ts": pa.array([0, 60, 120, 180], pa.timestamp("s", tz="UTC")),
...                   "value": [5.0, 8.0, 2.0, 6.0]})
>>> counter_increases(batch).column("increase").to_pylist()  # 8-5, reset: 2, 6-2
[3.0, 2.0, 4.0]
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError

__all__ = ["counter_increases", "histogram_good_total", "histogram_total", "le_bound"]

_TS = pa.timestamp("us", tz="UTC")


def _require(batch: pa.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in batch.column_names]
    if missing:
        raise InputError(f"{what}: the batch lacks column(s) {', '.join(missing)}; expected "
                         f"{', '.join(columns)} (the telemetry_samples shape)")


def _width_us(every: timedelta) -> int:
    width = every // timedelta(microseconds=1)
    if width <= 0:
        raise InputError(f"interval {every}: must be positive")
    return width


def counter_increases(batch: pa.Table, every: timedelta | None = None) -> pa.Table:
    """`(series, ts, increase)`: per-sample increases of every counter series in `batch` (any order), or their
    sums per series and bucket of `every`. Raises InputError for a NaN value or two samples of one series at
    the same time."""
    _require(batch, ("series", "ts", "value"), "counter increases")
    table = batch.select(["series", "ts", "value"]).cast(pa.schema([("series", pa.string()), ("ts", _TS),
                                                                      ("value", pa.float64())]))
    table = table.take(pc.sort_indices(table, [("series", "ascending"), ("ts", "ascending")]))
    series = table.column("series").combine_chunks()
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    value = table.column("value").to_numpy()
    if np.isnan(value).any():
        i = int(np.flatnonzero(np.isnan(value))[0])
        raise InputError(f"counter series {series[i]}: NaN value at {table.column('ts')[i]}; drop stale markers first")
    same = pc.equal(series[1:], series[:-1]).to_numpy(zero_copy_only=False) if len(series) > 1 else np.zeros(0, bool)
    twice = same & (ts[1:] == ts[:-1])
    if twice.any():
        i = int(np.flatnonzero(twice)[0])
        raise InputError(f"counter series {series[i]}: two samples at {table.column('ts')[i]}; expected one per time")
    previous, current = value[:-1], value[1:]
    increase = np.where(current < previous, current, current - previous)[same]
    keep = np.concatenate([[False], same]) if len(series) else np.zeros(0, bool)
    out_series, out_ts = series.filter(pa.array(keep)), ts[keep]
    if every is not None:
        out_ts = out_ts - out_ts % _width_us(every)
    if every is not None and len(out_ts):
        first = np.ones(len(out_ts), dtype=bool)  # the first increase of each (series, bucket) run
        first[1:] = ~(pc.equal(out_series[1:], out_series[:-1]).to_numpy(zero_copy_only=False)
                      & (out_ts[1:] == out_ts[:-1]))
        starts = np.flatnonzero(first)
        increase = np.add.reduceat(increase, starts)
        out_series, out_ts = out_series.take(pa.array(starts)), out_ts[starts]
    return pa.table({"series": out_series, "ts": pa.array(out_ts, pa.int64()).cast(_TS),
                     "increase": pa.array(increase, pa.float64())})


def le_bound(text: object) -> float | None:
    """The bound of a histogram bucket's `le` label text as a number, or None when it is not one.

    >>> [le_bound(t) for t in ("1", "1.0", "1e0", "+Inf", "Inf", "0.25", "fast", None, "NaN")]
    [1.0, 1.0, 1.0, inf, inf, 0.25, None, None, None]
    """
    try:
        bound = float(str(text).strip()) if text is not None else math.nan
    except ValueError:
        return None
    return None if math.isnan(bound) else bound


def histogram_total(has_infinite_bucket: bool, has_count: bool) -> Literal["+Inf", "_count"] | None:
    """Which series count a histogram's total events: its `le="+Inf"` bucket when there is one, else its
    `_count` series; None when it has neither (the caller says so, naming the histogram).

    >>> histogram_total(True, True), histogram_total(False, True), histogram_total(False, False)
    ('+Inf', '_count', None)
    """
    if has_infinite_bucket:
        return "+Inf"
    return "_count" if has_count else None


def _le_of(labels: str) -> float | None:
    try:
        return le_bound(json.loads(labels).get("le"))
    except (TypeError, ValueError, AttributeError):
        return None


def _summed(increases: pa.Table, name: str) -> pa.Table:
    return increases.group_by("ts").aggregate([("increase", "sum")]).rename_columns(["ts", name])


def histogram_good_total(batch: pa.Table, metric: str, le: float, every: timedelta) -> pa.Table:
    """`(ts, good, total)` per bucket of `every` for histogram `metric` (the name without `_bucket`): good is
    the increase of the bucket at `le`, total that of the `le="+Inf"` bucket, or of `<metric>_count` when the
    histogram has no `+Inf` bucket (`histogram_total`), summed over its series.

    Raises InputError when no bucket has `le` as its bound (naming the bounds there are) or there is neither
    a `+Inf` bucket nor a `_count` series.
    """
    _require(batch, ("series", "ts", "metric", "labels", "value"), f"histogram {metric}")
    _width_us(every)
    buckets = batch.filter(pc.equal(batch.column("metric"), f"{metric}_bucket"))
    counts = batch.filter(pc.equal(batch.column("metric"), f"{metric}_count"))
    encoded = buckets.column("labels").combine_chunks().dictionary_encode()
    bounds = np.array([_le_of(text) for text in encoded.dictionary.to_pylist()], dtype=float)
    matches = bounds == float(le)
    if not matches.any():
        known = ", ".join(f"{b:g}" for b in sorted(set(bounds[~np.isnan(bounds)].tolist()))) or "none"
        raise InputError(f"histogram {metric}: no bucket with le={le:g}; the bucket bounds are: {known}")
    infinite = np.isinf(bounds) & (bounds > 0)
    rule = histogram_total(bool(infinite.any()), counts.num_rows > 0)
    if rule is None:
        raise InputError(f'histogram {metric}: no le="+Inf" bucket and no {metric}_count series for the total')
    rows = encoded.indices.to_numpy()
    good = _summed(counter_increases(buckets.filter(pa.array(matches[rows])), every), "good")
    totals = buckets.filter(pa.array(infinite[rows])) if rule == "+Inf" else counts
    total = _summed(counter_increases(totals, every), "total")
    joined = good.join(total, "ts", join_type="full outer")
    return pa.table({
        "ts": joined.column("ts"), "good": pc.fill_null(joined.column("good"), 0.0),
        "total": pc.fill_null(joined.column("total"), 0.0),
    }).sort_by("ts")
