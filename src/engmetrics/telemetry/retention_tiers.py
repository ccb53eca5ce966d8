"""The writing side of retention: select one tier's rows older than a cutoff (outside legal holds), roll them
up into the next tier (merging into buckets that exist) or regroup `sli_events` in place.

A telemetry rollup bucket keeps `sum`, `count`, `min`, `max` of the values it took, and for counters
`increase` (the sum of the increases of its samples, each sample's increase from the previous point of the
series in any tier, resets counted as in `retention_points.points`) and `last` (the value of its latest
sample). Rolling buckets into a coarser tier sums sums, counts and increases, takes the min of mins and max
of maxes, and keeps the latest bucket's `last`; a bucket merged with an existing one adds its figures and its
`last` (when it has one) replaces the existing one. That keeps the latest: a bucket lies within one day (the
policy refuses longer resolutions), so a legal hold never keeps rows inside a bucket that is rolled up without
them, and the only rows merged into an existing bucket are late arrivals written behind the retention
horizon's back, which every read orders after the bucket's own samples (`retention_points.points`); taking
their `last` keeps every read the same before and after the merge. The aggregation is Ibis (`group_by`,
`argmax`); the insert with `ON CONFLICT` and the deletes are DuckDB SQL (writes may be engine-specific).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..governance.holds import Hold, blocking_holds
from ..store import Store
from ..timeutil import as_utc
from .retention_points import ROLLUPS, bucket_start, points

__all__ = ["BlockedRows", "Step", "Tier", "regroup_sli_events", "roll_up_telemetry", "select_step"]


@dataclass(frozen=True)
class BlockedRows:
    """Rows a legal hold kept from a step."""

    hold_id: str
    reason: str
    rows: int
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass
class Step:
    """One tier's work: `action` is `rollup` (into `into`) or `delete`, on rows of `tier` dated before `before`."""

    tier: str
    action: str
    into: str | None
    before: datetime
    rows: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    buckets: int = 0
    blocked: list[BlockedRows] = field(default_factory=list)


def _day_range(hold: Hold) -> tuple[datetime | None, datetime | None]:
    lo = datetime.combine(hold.from_date, datetime.min.time(), UTC) if hold.from_date else None
    hi = datetime.combine(hold.to_date + timedelta(days=1), datetime.min.time(), UTC) if hold.to_date else None
    return lo, hi


def _inside(ts: ir.TimestampValue, lo: datetime | None, hi: datetime | None) -> ir.BooleanValue:
    cond = ibis.literal(True)
    if lo is not None:
        cond &= ts >= ibis.timestamp(lo)
    if hi is not None:
        cond &= ts < ibis.timestamp(hi)
    return cond


def _inside_sql(column: str, lo: datetime | None, hi: datetime | None) -> tuple[str, list[Any]]:
    parts, params = ["TRUE"], []
    if lo is not None:
        parts.append(f'"{column}" >= ?')
        params.append(lo)
    if hi is not None:
        parts.append(f'"{column}" < ?')
        params.append(hi)
    return " AND ".join(parts), params


@dataclass
class Tier:
    """Rows of one tier of one dataset: a table (with `resolution` for a rollup tier) and its time column.
    `counters`: the raw tier of `telemetry_samples` with rollups, whose rows carry their counter increases."""

    table: str
    column: str
    resolution: str | None = None
    counters: bool = False

    def rows(self, store: Store, before: datetime, *, increases: bool = False) -> ir.Table:
        """This tier's rows dated before `before`; with `increases`, those of a `counters` tier as points with
        their counter increases (`retention_points.points`)."""
        t = store.table(self.table)
        t = t.filter(t[self.column] < ibis.timestamp(before))
        if self.resolution:
            return t.filter(t.resolution == self.resolution)
        if self.counters and increases:  # a sample's previous point is older than it: `before` bounds both
            rolled = store.table(ROLLUPS)
            p = points(t, rolled.filter(rolled.ts < ibis.timestamp(before)))
            return p.filter(p.resolution == "raw")
        return t

    def where_sql(self, before: datetime, holds: list[Hold]) -> tuple[str, list[Any]]:
        """SQL selecting this tier's rows older than `before` outside the held days (for DELETE)."""
        sql, params = f'"{self.column}" < ?', [before]
        if self.resolution:
            sql, params = sql + " AND resolution = ?", [*params, self.resolution]
        for hold in holds:
            inside, more = _inside_sql(self.column, *_day_range(hold))
            sql, params = f"{sql} AND NOT ({inside})", [*params, *more]
        return sql, params


def _range(t: ir.Table, column: str) -> tuple[int, datetime | None, datetime | None]:
    row = t.aggregate(n=t.count(), lo=t[column].min(), hi=t[column].max()).execute().iloc[0]
    stamp = lambda v: as_utc(pd.Timestamp(v).to_pydatetime()) if pd.notna(v) else None  # noqa: E731 (dates too)
    return int(row["n"]), stamp(row["lo"]), stamp(row["hi"])


def select_step(store: Store, tier: Tier, step: Step, dataset: str) -> tuple[ir.Table, list[Hold]]:
    """This step's rows (outside held days; with their increases for a `counters` tier), filling the step's
    counts and the holds that kept rows."""
    old = tier.rows(store, step.before)
    n, lo, hi = _range(old, tier.column)
    holds = blocking_holds(store, dataset, lo.date(), hi.date()) if n else []
    for hold in holds:
        kept = old.filter(_inside(old[tier.column], *_day_range(hold)))
        rows, first, last = _range(kept, tier.column)
        step.blocked.append(BlockedRows(hold.hold_id, hold.reason, rows, first, last))

    def outside_holds(t: ir.Table) -> ir.Table:
        for hold in holds:
            t = t.filter(~_inside(t[tier.column], *_day_range(hold)))
        return t

    old = outside_holds(old)
    step.rows, step.first_ts, step.last_ts = _range(old, tier.column) if holds else (n, lo, hi)
    return (outside_holds(tier.rows(store, step.before, increases=True)) if tier.counters else old), holds


def roll_up_telemetry(store: Store, rows: ir.Table, resolution: str, width: int) -> int:
    """Insert (merging into existing buckets) the `resolution` buckets of `rows` (raw points of
    `retention_points.points` or rollup rows); returns the number of buckets."""
    agg = rows.group_by(series=rows.series, ts=bucket_start(rows.ts, width)).aggregate(
        metric=rows.metric.max(), labels=rows.labels.max(), sum=rows["sum"].sum(), count=rows["count"].sum(),
        min=rows["min"].min(), max=rows["max"].max(), increase=rows.increase.sum().fill_null(0.0),
        last=rows["last"].argmax(rows.ts))
    agg = agg.mutate(resolution=ibis.literal(resolution))
    columns = ["series", "resolution", "ts", "metric", "labels", "sum", "count", "min", "max", "increase", "last"]
    sql = ibis.to_sql(agg.select(columns), dialect="duckdb")
    con = store.sql
    con.execute(f"CREATE OR REPLACE TEMP TABLE _retention_buckets AS {sql}")
    buckets = con.execute("SELECT count(*) FROM _retention_buckets").fetchone()[0]
    con.execute(f"""INSERT INTO {ROLLUPS} ({', '.join(columns)}) SELECT * FROM _retention_buckets
        ON CONFLICT (series, resolution, ts) DO UPDATE SET sum = {ROLLUPS}.sum + excluded.sum,
            count = {ROLLUPS}.count + excluded.count, min = least({ROLLUPS}.min, excluded.min),
            max = greatest({ROLLUPS}.max, excluded.max),
            increase = coalesce({ROLLUPS}.increase, 0) + excluded.increase,
            last = coalesce(excluded.last, {ROLLUPS}.last)""")
    con.execute("DROP TABLE _retention_buckets")
    return int(buckets)


def regroup_sli_events(store: Store, rows: ir.Table, holds: list[Hold], step: Step, width: int) -> None:
    """Replace the rows of `sli_events` in buckets of `width` that are not yet one whole bucket."""
    m = rows.mutate(bucket=bucket_start(rows.ts, width))
    g = m.group_by("service", "indicator", "bucket").aggregate(
        n=m.count(), first=m.ts.min(), last=m.ts.max(), good=m.good.sum(), total=m.total.sum())
    g = g.filter((g.n > 1) | (g.first != g.bucket))
    con = store.sql
    con.execute(f"CREATE OR REPLACE TEMP TABLE _retention_new AS {ibis.to_sql(g, dialect='duckdb')}")
    step.rows, step.buckets = con.execute("SELECT coalesce(sum(n), 0)::BIGINT, count(*) FROM _retention_new").fetchone()
    lo, hi = con.execute("SELECT min(first), max(last) FROM _retention_new").fetchone()
    step.first_ts, step.last_ts = (as_utc(lo), as_utc(hi)) if lo else (None, None)
    where, params = Tier("sli_events", "ts").where_sql(step.before, holds)
    con.execute(f"""DELETE FROM sli_events USING _retention_new r WHERE sli_events.service = r.service
        AND sli_events.indicator = r.indicator AND sli_events.ts >= r.bucket
        AND sli_events.ts < r.bucket + to_seconds({width}::BIGINT) AND {where}""", params)
    con.execute("INSERT INTO sli_events (service, indicator, ts, good, total) "
                "SELECT service, indicator, bucket, good, total FROM _retention_new")
    con.execute("DROP TABLE _retention_new")
