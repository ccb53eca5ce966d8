"""Indicator sources: good and total event counts per time bucket, as portable Ibis expressions.

Every source returns an Ibis table ordered by `ts` with one row per bucket that has data: `ts` is the
bucket's start (`ts.truncate(unit)`, UTC) and rows belong to [start, end) by their own timestamp.
`counter_increase` returns `(ts, increase)`; the others return `(ts, good, total)`. `ts` is a UTC timestamp.

- `sli_events_source`: sums of `good` and `total` of the `sli_events` dataset.
- `counter_increase`: cumulative counter samples of `telemetry_samples` turned into increases per
  series (previous sample by `lag` over the series ordered by time; a drop is a counter reset, so the
  increase is the new value, as Prometheus `increase` does, without extrapolation), summed per bucket.
  The increase between two samples is attributed to the bucket of the later sample; the earlier sample
  may lie before `start` (within `lookback`), so the buckets of adjacent ranges add up exactly.
  Where retention rolled samples up, the rollup buckets of `_telemetry_rollups` are read in their place
  (`telemetry.retention_points.points`: each bucket holds the increases of its samples, the first sample
  after it counts from its `last` value), so every part of a window is read at the finest resolution
  kept and the increase over a window whose edges are whole buckets is the same before and after
  `retention apply`. A rollup bucket counts only when its whole span `[ts, ts + width)` lies inside
  [start, end) (`retention_points.within`): a window whose edge cuts a bucket reads less (what it covers
  whole), never data from outside it. A bucket's increase lands in the bucket of `unit` holding the rollup
  bucket's start; `lookback` reaches every rollup bucket ending after `start - lookback`.
- `ratio_source` / `bad_total`: combine two increase tables into `(ts, good, total)`.
- `histogram_good_total`: a latency indicator from the cumulative `_bucket` counters of a Prometheus
  histogram: good is the increase of the bucket whose `le` equals the threshold numerically (`le="1"`
  and `le="1.0"` alike), total the increase of the `le="+Inf"` bucket, or of `<name>_count` when the
  histogram has no `+Inf` bucket: the rule and the `le` parser are `telemetry.counters.histogram_total`
  and `telemetry.counters.le_bound`, shared with `telemetry import-prometheus`.

Label selectors map a label name to a regex that must match the whole value (Prometheus `=~`); a label a
series lacks has the empty value, so `{"code": ".*"}` matches series without `code`. The `labels` column
is JSON text (a string on every engine), so each selector label is extracted from that text with a
regular expression (`"name": "value"`, any whitespace) rather than with engine JSON functions, whose
support differs between DuckDB and PySpark; values are matched in their JSON-escaped form (a value with
a quote or a backslash must be written escaped in the regex).

Everything is Ibis (`truncate` + `group_by`, `lag` windows, `re_extract`/`re_search`): no raw SQL, no
UDFs. `histogram_good_total` runs small queries (the distinct `le` values, whether a `_count` series
exists) to resolve the threshold and the total.

>>> from datetime import datetime
>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> _ = store.sql.execute("INSERT INTO sli_events VALUES "
...     "('checkout', 'availability', '2026-01-01 10:05', 9, 10), "
...     "('checkout', 'availability', '2026-01-01 10:40', 5, 5)")
>>> t = sli_events_source(store, "checkout", "availability",
...     start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), unit="hour")
>>> t.execute()[["good", "total"]].values.tolist()
[[14.0, 15.0]]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir

from ..telemetry.counters import histogram_total, le_bound
from ..telemetry.retention_points import ROLLUPS, ends_after, points, resolution_widths, within
from ..timeutil import UTC_TIMESTAMP, as_utc

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = [
    "Unit",
    "bad_total",
    "bucket_labels",
    "bucket_selector",
    "counter_increase",
    "histogram_good_total",
    "label_value",
    "ratio_source",
    "select_series",
    "sli_events_source",
]

Unit = Literal["second", "minute", "hour", "day", "week", "month"]
_UNITS: dict[str, str] = {"second": "s", "minute": "m", "hour": "h", "day": "D", "week": "W", "month": "M"}
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _ts(value: datetime) -> ir.TimestampScalar:
    """A UTC timestamp literal; a naive datetime is taken as UTC."""
    return ibis.timestamp(as_utc(value))


def _bucket(col: ir.TimestampColumn, unit: Unit) -> ir.TimestampColumn:
    if unit not in _UNITS:
        raise ValueError(f"unknown bucket unit {unit!r}; use one of {', '.join(_UNITS)}")
    return col.truncate(_UNITS[unit]).cast(UTC_TIMESTAMP)  # Ibis drops the timezone on truncate


def label_value(labels: ir.StringValue, name: str) -> ir.StringValue:
    """The value of label `name` in a JSON object text (`""` when absent), still JSON-escaped.

    >>> import ibis
    >>> ibis.to_sql(label_value(ibis.table({"labels": "string"}).labels, "code"), "duckdb") != ""
    True
    """
    if not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"invalid label name {name!r}")
    pattern = r'(?:^|[{,])\s*"' + name + r'"\s*:\s*"((?:[^"\\]|\\.)*)"'
    return labels.cast("string").re_extract(pattern, 1).fill_null("")


def select_series(t: ir.Table, metric: str, selector: Mapping[str, str]) -> ir.Table:
    """Rows of `telemetry_samples` of `metric` whose labels fully match every regex of `selector`."""
    t = t.filter(t.metric == metric)
    for name, regex in selector.items():
        t = t.filter(label_value(t.labels, name).re_search(f"^(?:{regex})$"))
    return t


def _increases(
    store: Store, metric: str, selector: Mapping[str, str], start: datetime, end: datetime,
    lookback: timedelta | None,
) -> ir.Table:
    """Per-point increases `(series, labels, ts, increase)` of the matching series within [start, end): raw
    samples and rollup buckets lying wholly inside it (module docstring)."""
    widths = resolution_widths(store)

    def matching(name: str) -> ir.Table:
        t = select_series(store.table(name), metric, selector)
        t = t.filter(t.ts < _ts(end))
        if lookback is None:
            return t
        if name == ROLLUPS:  # a bucket ending after the lookback's start may hold the previous sample
            return t.filter(ends_after(t.ts, t.resolution, start - lookback, widths))
        return t.filter(t.ts >= _ts(start - lookback))

    t = points(matching("telemetry_samples"), matching(ROLLUPS))
    t = t.filter(t.increase.notnull() & within(t, start, end, widths))
    return t.select("series", "labels", "ts", "increase")


def counter_increase(
    store: Store, metric: str, selector: Mapping[str, str] | None = None, *, start: datetime,
    end: datetime, unit: Unit, lookback: timedelta | None = None,
) -> ir.Table:
    """`(ts, increase)` per bucket: the increase of counter `metric` summed over matching series.

    A sample's increase is its value minus the series' previous sample, or its value when it dropped (a
    reset). The first sample of a series has no increase; `lookback` bounds how far before `start` the
    previous sample is searched (None: no bound).

    >>> from engmetrics.store import Store
    >>> store = Store.open("duckdb://")
    >>> _ = store.sql.execute("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) VALUES "
    ...     "('a', '2026-01-01 10:00', 'req_total', '{\\"code\\": \\"200\\"}', 0, NULL), "
    ...     "('a', '2026-01-01 10:01', 'req_total', '{\\"code\\": \\"200\\"}', 10, NULL), "
    ...     "('a', '2026-01-01 10:02', 'req_total', '{\\"code\\": \\"200\\"}', 4, NULL)")
    >>> t = counter_increase(store, "req_total", {"code": "2.."},
    ...     start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), unit="minute")
    >>> t.execute()["increase"].tolist()
    [10.0, 4.0]
    """
    t = _increases(store, metric, selector or {}, start, end, lookback)
    t = t.mutate(ts=_bucket(t.ts, unit))
    return t.group_by("ts").aggregate(increase=t.increase.sum()).order_by("ts")


def _combine(first: ir.Table, second: ir.Table) -> ir.Table:
    """Outer join of two `(ts, increase)` tables on `ts`: `(ts, first, second)`, 0 where one is absent."""
    a = first.select(ts=first.ts, _first=first.increase)
    b = second.select(_ts2=second.ts, _second=second.increase)
    j = a.outer_join(b, a.ts == b._ts2)
    return j.select(
        ts=ibis.coalesce(j.ts, j._ts2), first=j._first.fill_null(0.0), second=j._second.fill_null(0.0),
    )


def ratio_source(good: ir.Table, total: ir.Table) -> ir.Table:
    """`(ts, good, total)` from two `(ts, increase)` tables; good is capped at total (scrape skew).

    >>> import ibis
    >>> g = ibis.memtable({"ts": [1, 2], "increase": [9.0, 12.0]})
    >>> n = ibis.memtable({"ts": [1, 2], "increase": [10.0, 10.0]})
    >>> ratio_source(g, n).execute()[["good", "total"]].values.tolist()
    [[9.0, 10.0], [10.0, 10.0]]
    """
    j = _combine(good, total)
    return j.select("ts", good=ibis.least(j["first"], j["second"]), total=j["second"]).order_by("ts")


def bad_total(bad: ir.Table, total: ir.Table) -> ir.Table:
    """`(ts, good, total)` from `(ts, increase)` tables of bad and all events: good = total - bad (>= 0).

    >>> import ibis
    >>> b = ibis.memtable({"ts": [1, 2], "increase": [1.0, 3.0]})
    >>> n = ibis.memtable({"ts": [1, 2], "increase": [10.0, 2.0]})
    >>> bad_total(b, n).execute()[["good", "total"]].values.tolist()
    [[9.0, 10.0], [0.0, 2.0]]
    """
    j = _combine(bad, total)
    good = j["second"] - ibis.least(j["first"], j["second"])
    return j.select("ts", good=good, total=j["second"]).order_by("ts")


def sli_events_source(
    store: Store, service: str, indicator: str, *, start: datetime, end: datetime, unit: Unit,
) -> ir.Table:
    """`(ts, good, total)` per bucket: sums of the `sli_events` rows of one service's indicator."""
    t = store.table("sli_events")
    t = t.filter(t.service == service, t.indicator == indicator, t.ts >= _ts(start), t.ts < _ts(end))
    t = t.mutate(ts=_bucket(t.ts, unit))
    return t.group_by("ts").aggregate(good=t.good.sum(), total=t.total.sum()).order_by("ts")


def _bounds(store: Store, metric_bucket: str, selector: Mapping[str, str]) -> dict[str, float | None]:
    """The `le` label texts of `metric_bucket`'s matching series (raw and rolled up), each with its bound."""
    if "le" in selector:
        raise ValueError("the selector must not name `le`; the threshold chooses the bucket")
    parts = [select_series(store.table(name), metric_bucket, selector) for name in ("telemetry_samples", ROLLUPS)]
    found = ibis.union(*[p.select(le=label_value(p.labels, "le")) for p in parts], distinct=True)
    return {le: le_bound(le) for le in found.execute()["le"].tolist()}


def bucket_labels(store: Store, metric_bucket: str, selector: Mapping[str, str], bound: float) -> list[str]:
    """The `le` label texts of `metric_bucket`'s series equal to `bound` as numbers (`1` and `1.0` alike).

    Raises ValueError listing the bounds that exist when none matches. The selector must not name `le`.
    """
    return _at_bound(_bounds(store, metric_bucket, selector), metric_bucket, bound)


def _at_bound(numbers: dict[str, float | None], metric_bucket: str, bound: float) -> list[str]:
    matching = [le for le, n in numbers.items() if n is not None and n == float(bound)]
    if not matching and bound == float("inf"):
        raise ValueError(f'{metric_bucket}: no le="+Inf" bucket for the total')
    if not matching:
        bounds = ", ".join(f"{n:g}" for n in sorted(n for n in numbers.values() if n is not None))
        raise ValueError(f"{metric_bucket}: no bucket with le={bound:g}; buckets: {bounds or 'none'}")
    return matching


def _le_regex(labels: list[str]) -> str:
    return "|".join(re.escape(le) for le in labels)


def bucket_selector(store: Store, metric_bucket: str, selector: Mapping[str, str], bound: float) -> dict[str, str]:
    """`selector` plus an `le` regex choosing the bucket at `bound` (for `counter_increase`)."""
    return {**selector, "le": _le_regex(bucket_labels(store, metric_bucket, selector, bound))}


def _has_series(store: Store, metric: str, selector: Mapping[str, str]) -> bool:
    return any(int(select_series(store.table(name), metric, selector).count().execute())
               for name in ("telemetry_samples", ROLLUPS))


def histogram_good_total(
    store: Store, metric_bucket: str, selector: Mapping[str, str] | None, threshold: float, *,
    start: datetime, end: datetime, unit: Unit, lookback: timedelta | None = None,
) -> ir.Table:
    """`(ts, good, total)` per bucket from histogram `_bucket` counters: good = increase of the bucket with
    `le` equal to `threshold` (compared as numbers), total = increase of the `le="+Inf"` bucket, or of the
    histogram's `_count` series (`metric_bucket` with `_bucket` replaced) when it has no `+Inf` bucket.

    Raises ValueError when the matching series have no bucket at the threshold, or neither a `+Inf` bucket
    nor a `_count` series. The selector must not name `le`.
    """
    selector = dict(selector or {})
    numbers = _bounds(store, metric_bucket, selector)
    good_le = _at_bound(numbers, metric_bucket, threshold)
    infinite = [le for le, n in numbers.items() if n == float("inf")]
    count = metric_bucket.removesuffix("_bucket") + "_count" if metric_bucket.endswith("_bucket") else None
    rule = histogram_total(bool(infinite), count is not None and _has_series(store, count, selector))
    if rule is None:
        raise ValueError(f'{metric_bucket}: no le="+Inf" bucket and no {count or "_count"} series for the total')
    def increase(metric: str, chosen: Mapping[str, str]) -> ir.Table:
        return counter_increase(store, metric, chosen, start=start, end=end, unit=unit, lookback=lookback)

    good = increase(metric_bucket, {**selector, "le": _le_regex(good_le)})
    total = (increase(metric_bucket, {**selector, "le": _le_regex(infinite)}) if rule == "+Inf"
             else increase(count or "", selector))
    j = _combine(good, total)
    return j.select("ts", good=j["first"], total=j["second"]).order_by("ts")
