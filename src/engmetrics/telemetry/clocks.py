"""Clock checks per telemetry source: can its event times (`ts`) be trusted next to when we received them
(`received_at`)?

Skew is `received_at - ts` in whole seconds (each instant floored to its second, as every engine can): positive
when a sample arrives after it was taken, as it should. Per source the engine computes

- `skew_median_seconds`, `skew_p99_seconds`: exact quantiles with linear interpolation (DuckDB
  `quantile_cont`, Spark `percentile`; the same definition as `engmetrics.quantiles.percentile`). ClickHouse's
  `quantile` is approximate: run these checks there only with that caveat;
- `future`: samples with `ts > received_at + future_tolerance_seconds`;
- `out_of_order`: samples of a series received after a sample of the same series with a later `ts` (in
  receive order, ties ordered by `ts`, so equal receive times never count);
- samples whose |skew| exceeds `max_skew_seconds`: these are quarantined (`split_skewed` for pushed, scraped
  and imported batches, `skew_rule` for files through `engmetrics ingest`). `stored_clocks` counts a source's
  skew-quarantined samples from `_quarantine` (`quarantined_skew`), so a source whose samples are all refused
  is still judged `skewed` instead of looking clean.

and Python turns the row into a verdict. A median skew within `timezone_tolerance_seconds` of a whole,
non-zero number of hours means the source writes timestamps in another zone: a source writing local time
in UTC-2 as if it were UTC is 2 h behind and gets `timezone_offset_hours` = 2 (one in UTC+2 gets -2).

>>> timezone_offset_hours(7230.0, ClockPolicy())  # 2 h 0 min 30 s: 2 h behind, 30 s of delivery delay
2
>>> timezone_offset_hours(5400.0, ClockPolicy()) is None  # 1.5 h is no whole-hour offset
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engmetrics.errors import InputError
from engmetrics.store.registry import Rule

from .batch import split_rows
from .config import ClockPolicy

__all__ = ["SKEW_REASON", "VERDICTS", "ClockPolicy", "SourceClock", "StoredClock", "clock_aggregate",
           "clock_report", "ingest_rules", "quarantined_skew", "skew_rule", "skew_seconds", "split_skewed",
           "stored_clocks", "timezone_offset_hours", "verdict"]

SKEW_REASON = "clock skew "  # how the reasons of `split_skewed` start
# In order of precedence: the first that applies is the source's verdict.
VERDICTS = ("insufficient_data", "timezone_offset", "skewed", "future", "out_of_order", "ok")


@dataclass(frozen=True)
class SourceClock:
    """One source's clock check, as `engmetrics telemetry clocks --json` prints it (`to_json`)."""

    source: str
    samples: int
    skew_median_seconds: float | None
    skew_p99_seconds: float | None
    future: int
    out_of_order: int
    timezone_offset_hours: int | None
    verdict: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def skew_seconds(table: ir.Table) -> ir.IntegerValue:
    """`received_at - ts` in whole seconds, as an Ibis expression (both instants floored to the second)."""
    return (table.received_at.epoch_seconds().floor() - table.ts.epoch_seconds().floor()).cast("int64")


def clock_aggregate(table: ir.Table, policy: ClockPolicy | None = None, series: str | None = "series") -> ir.Table:
    """Per source: samples, skew_median, skew_p99, future, out_of_order, beyond_max (an Ibis expression).

    `table` needs `source`, `ts`, `received_at` and, unless `series` is None (then a source is one series),
    the `series` column. Rows with a null `ts` or `received_at` are no samples.
    """
    policy = policy or ClockPolicy()
    needed = ["source", "ts", "received_at", *([series] if series else [])]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"clock checks need column(s) {missing}; the table has {list(table.columns)}")
    rows = table.filter(table.ts.notnull(), table.received_at.notnull())
    order = ibis.cumulative_window(group_by=[rows.source, *([rows[series]] if series else [])],
                                   order_by=[rows.received_at, rows.ts])
    rows = rows.mutate(_skew=skew_seconds(rows), _late=rows.ts < rows.ts.max().over(order))

    def count(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.ifelse(1, 0).sum()

    return rows.group_by("source").aggregate(
        samples=rows.count(),
        skew_median=rows._skew.quantile(0.5),
        skew_p99=rows._skew.quantile(0.99),
        future=count(rows._skew < -policy.future_tolerance_seconds),
        out_of_order=count(rows._late),
        beyond_max=count(rows._skew.abs() > policy.max_skew_seconds),
    ).order_by("source")


def timezone_offset_hours(skew_median: float | None, policy: ClockPolicy) -> int | None:
    """The whole, non-zero number of hours the median skew lies within the tolerance of, else None."""
    if skew_median is None:
        return None
    hours = round(skew_median / 3600.0)
    near = abs(skew_median - hours * 3600.0) <= policy.timezone_tolerance_seconds
    return int(hours) if hours != 0 and near else None


def verdict(samples: int, offset: int | None, beyond_max: int, future: int, out_of_order: int,
            policy: ClockPolicy) -> str:
    """The first of VERDICTS that applies."""
    if samples < policy.min_samples:
        return "insufficient_data"
    if offset is not None:
        return "timezone_offset"
    if beyond_max > policy.skewed_share * samples:
        return "skewed"
    if future:
        return "future"
    return "out_of_order" if out_of_order else "ok"


def _source_clock(row: dict[str, Any], policy: ClockPolicy, quarantined: int = 0) -> SourceClock:
    """A `clock_aggregate` row as a SourceClock; `quarantined` skew-quarantined samples count as samples beyond
    `max_skew_seconds` (for `insufficient_data` and `skewed`; the skew figures are the stored samples')."""
    enough = row["samples"] >= policy.min_samples
    offset = timezone_offset_hours(row["skew_median"], policy) if enough else None
    future, late = int(row["future"] or 0), int(row["out_of_order"] or 0)
    return SourceClock(
        source=row["source"], samples=row["samples"],
        skew_median_seconds=None if row["skew_median"] is None else float(row["skew_median"]),
        skew_p99_seconds=None if row["skew_p99"] is None else float(row["skew_p99"]),
        future=future, out_of_order=late, timezone_offset_hours=offset,
        verdict=verdict(row["samples"] + quarantined, offset, int(row["beyond_max"] or 0) + quarantined, future,
                        late, policy))


def clock_report(table: ir.Table, policy: ClockPolicy | None = None, series: str | None = "series"
                 ) -> list[SourceClock]:
    """Every source's clock check, by source name; the engine aggregates, Python decides the verdicts."""
    policy = policy or ClockPolicy()
    return [_source_clock(row, policy) for row in clock_aggregate(table, policy, series).to_pyarrow().to_pylist()]


def quarantined_skew(quarantine: ir.Table, *, since: datetime | None = None, source: str | None = None
                     ) -> ir.Table:
    """Per source, `n` samples of `telemetry_samples` quarantined for clock skew (an Ibis expression over the
    store's `_quarantine`): the entries of `split_skewed` (column `ts`, reason `clock skew ...`), which the push
    receivers and the pull commands write with the source as `source_file`. `since` keeps entries quarantined
    (that is, received) at or after it; `source` one source."""
    q = quarantine.filter(quarantine.dataset == "telemetry_samples", quarantine["column"] == "ts",
                          quarantine.reason.startswith(SKEW_REASON))
    if since is not None:
        q = q.filter(q.quarantined_at >= since)
    if source is not None:
        q = q.filter(q.source_file == source)
    return q.group_by(source=q.source_file).aggregate(n=q.count())


@dataclass(frozen=True)
class StoredClock:
    """A source's clock check over the store (`stored_clocks`): `clock`, `without_received_at`, its stored
    samples that have no receive time (loaded from files), which no clock check can judge, and
    `quarantined_skew`, its samples refused for clock skew (in the verdict, not in the skew figures)."""

    clock: SourceClock
    without_received_at: int
    quarantined_skew: int = 0

    def to_json(self) -> dict[str, Any]:
        """`SourceClock.to_json()` plus `without_received_at` and `quarantined_skew`."""
        return {**self.clock.to_json(), "without_received_at": self.without_received_at,
                "quarantined_skew": self.quarantined_skew}


def _counts(table: ir.Table) -> dict[str | None, int]:
    return {row["source"]: int(row["n"]) for row in table.to_pyarrow().to_pylist()}


def stored_clocks(table: ir.Table, policy: ClockPolicy | None = None, *, since: datetime | None = None,
                  source: str | None = None, quarantine: ir.Table | None = None) -> list[StoredClock]:
    """Every source's clock check over `table` (the store's `telemetry_samples`), by source name (no source
    last); a source whose samples all lack `received_at` is listed with 0 samples (`insufficient_data`).
    With `quarantine` (the store's `_quarantine`), each source's skew-quarantined samples (`quarantined_skew`)
    count as samples beyond `max_skew_seconds`, and a source with only such samples is listed too.

    `since` keeps samples received at or after it (samples without a receive time: taken at or after it;
    quarantined ones: quarantined at or after it); `source` keeps one source (exact name).
    """
    policy = policy or ClockPolicy()
    if source is not None:
        table = table.filter(table.source == source)
    if since is not None:
        table = table.filter(ibis.coalesce(table.received_at, table.ts) >= since)
    rows = {row["source"]: row for row in clock_aggregate(table, policy).to_pyarrow().to_pylist()}
    unstamped = table.filter(table.received_at.isnull())
    skipped = _counts(unstamped.group_by("source").aggregate(n=unstamped.count()))
    refused = {} if quarantine is None else _counts(quarantined_skew(quarantine, since=since, source=source))
    none = {"samples": 0, "skew_median": None, "skew_p99": None, "future": 0, "out_of_order": 0, "beyond_max": 0}
    return [StoredClock(_source_clock(rows.get(name) or {**none, "source": name}, policy, refused.get(name, 0)),
                        skipped.get(name, 0), refused.get(name, 0))
            for name in sorted(rows.keys() | skipped.keys() | refused.keys(), key=lambda s: (s is None, s or ""))]


def skew_rule(policy: ClockPolicy) -> Rule:
    """The ingest rule (`store.registry.Rule`, DuckDB SQL) that quarantines a sample whose |received_at - ts|,
    both floored to the second as in `split_skewed`, exceeds `max_skew_seconds`. A sample without
    `received_at` passes: it has no receive time to judge.

    >>> skew_rule(ClockPolicy(max_skew_seconds=600)).message
    'clock skew (received_at - ts) beyond the maximum of 600 s'
    """
    limit = float(policy.max_skew_seconds)
    return Rule(f"abs(floor(epoch(received_at)) - floor(epoch(ts))) <= {limit!r}",
                f"clock skew (received_at - ts) beyond the maximum of {limit:g} s", "received_at")


def ingest_rules(dataset: str, policy: ClockPolicy) -> tuple[Rule, ...]:
    """The setting-driven rules a file ingest of `dataset` adds to the dataset's own: the skew rule for
    `telemetry_samples`, none for the others.

    >>> [r.column for r in ingest_rules("telemetry_samples", ClockPolicy())], ingest_rules("deployments", ClockPolicy())
    (['received_at'], ())
    """
    return (skew_rule(policy),) if dataset == "telemetry_samples" else ()


def _epoch_seconds(table: pa.Table, column: str, nullable: bool = False) -> np.ndarray:
    """Whole seconds since the epoch, floored; with `nullable`, a null is 0 (the caller masks it)."""
    if column not in table.column_names:
        raise InputError(f"clock quarantine needs column {column!r}; the table has {table.column_names}")
    values = table.column(column)
    if not pa.types.is_timestamp(values.type):
        raise InputError(f"column {column!r} has type {values.type}; expected a timestamp")
    if values.null_count and not nullable:
        raise InputError(f"column {column!r} has {values.null_count} null value(s); every sample needs it")
    micros = pc.fill_null(pc.cast(pc.cast(values, pa.timestamp("us", values.type.tz)), pa.int64()), 0)
    return micros.to_numpy(zero_copy_only=False) // 1_000_000  # floored to the second


def split_skewed(table: pa.Table, policy: ClockPolicy | None = None) -> tuple[pa.Table, pa.Table]:
    """(kept, quarantined): samples whose |received_at - ts| exceeds `max_skew_seconds` are quarantined with
    a `reason` naming their skew (naive timestamps are taken as UTC, like every stored instant). A sample without
    `received_at` (imported history) is kept: it has no receive time to judge, as in `skew_rule`.

    >>> from datetime import datetime
    >>> t = pa.table({"ts": [datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 12)],
    ...               "received_at": [datetime(2026, 1, 1, 12, 0, 5)] * 2})
    >>> kept, bad = split_skewed(t)
    >>> kept.num_rows, bad.column("reason").to_pylist()
    (1, ['clock skew 7205 s (received_at - ts) beyond the maximum of 3600 s'])
    """
    policy = policy or ClockPolicy()
    skew = _epoch_seconds(table, "received_at", nullable=True) - _epoch_seconds(table, "ts")
    beyond = (np.abs(skew) > policy.max_skew_seconds) & table.column("received_at").is_valid().to_numpy(
        zero_copy_only=False)
    reason = pc.binary_join_element_wise(
        "clock skew ", pc.cast(pa.array(skew[beyond]), pa.string()),
        f" s (received_at - ts) beyond the maximum of {policy.max_skew_seconds:g} s", "")
    return split_rows(table, beyond, reason)
