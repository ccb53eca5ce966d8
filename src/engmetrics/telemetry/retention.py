"""Retention and downsampling: what `engmetrics retention plan | apply` do (policy: `retention_policy`).

At `as_of`, per dataset of the policy, in one transaction (`plan` runs the same work and rolls it back, so its
numbers are exactly what `apply` would do):

- `telemetry_samples`: raw rows older than the raw cutoff become buckets of the first rollup in
  `_telemetry_rollups` (sum, count, min, max of `value`), then are deleted; rollup rows older than their tier's
  cutoff become buckets of the next tier (sums of sums and counts, min of mins, max of maxes) and are deleted;
  the last tier's rows older than its cutoff are deleted. A bucket that already exists (late data) is merged,
  so sums stay exact. Each row lives in exactly one tier.
- `sli_events`: rolled up in place: rows older than a cutoff are replaced by one row per coarser bucket
  summing `good` and `total` (buckets already whole are left alone); rows past the last tier are deleted.
- any other dataset: rows whose time column is older than `raw` are deleted.

Cutoffs: the raw cutoff is `as_of - raw` floored to the first rollup's resolution; tier i's is
`as_of - keep_i` floored to the next tier's resolution (its own for the last). Buckets are aligned to the Unix
epoch. Legal holds (`governance.holds.blocking_holds`) in force now keep the days they cover: rows on those
days are neither rolled up nor deleted (they stay at their tier, so nothing is counted twice), and the step
names each hold with the rows it kept. Storage is measured in the engine before and after: rows, and bytes as
8 per fixed-width value plus, per text value, its length + 4 (an uncompressed estimate); cost = bytes / 10^9
x `storage_cost_per_gb_month`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..governance import audit
from ..governance.holds import Hold, blocking_holds
from ..slo.durations import duration_seconds
from ..store import Store
from ..store.datasets import REGISTRY
from ..timeutil import UTC_TIMESTAMP, as_utc
from .retention_policy import DatasetRetention, RetentionPolicy

__all__ = ["BlockedRows", "DatasetRun", "RetentionReport", "Step", "Storage", "bucket_start", "floor_to",
           "read_series", "run_retention"]

ROLLUPS = "_telemetry_rollups"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


@dataclass(frozen=True)
class Storage:
    rows: int
    bytes: int
    cost_per_month: float


@dataclass
class DatasetRun:
    dataset: str
    steps: list[Step]
    before: Storage
    after: Storage


@dataclass
class RetentionReport:
    """What retention did (`applied`) or would do, per dataset."""

    as_of: datetime
    applied: bool
    storage_cost_per_gb_month: float
    datasets: list[DatasetRun]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def floor_to(at: datetime, width: int) -> datetime:
    """`at` floored to a multiple of `width` seconds since the Unix epoch."""
    seconds = int((at - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % width)


def bucket_start(ts: ir.TimestampValue, width: int) -> ir.TimestampValue:
    """The start of the epoch-aligned bucket of `width` seconds holding `ts` (portable Ibis)."""
    return ((ts.epoch_seconds() // width) * width).as_timestamp("s").cast(UTC_TIMESTAMP)


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
class _Tier:
    """Rows of one tier of one dataset: a table (with `resolution` for a rollup tier) and its time column."""

    table: str
    column: str
    resolution: str | None = None

    def rows(self, store: Store) -> ir.Table:
        t = store.table(self.table)
        return t.filter(t.resolution == self.resolution) if self.resolution else t

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


def _select(store: Store, tier: _Tier, step: Step, dataset: str) -> tuple[ir.Table, list[Hold]]:
    """This step's rows (outside held days), filling the step's counts and the holds that kept rows."""
    t = tier.rows(store)
    col = t[tier.column]
    old = t.filter(col < ibis.timestamp(step.before))
    n, lo, hi = _range(old, tier.column)
    holds = blocking_holds(store, dataset, lo.date(), hi.date()) if n else []
    for hold in holds:
        kept = old.filter(_inside(old[tier.column], *_day_range(hold)))
        rows, first, last = _range(kept, tier.column)
        step.blocked.append(BlockedRows(hold.hold_id, hold.reason, rows, first, last))
    for hold in holds:
        old = old.filter(~_inside(old[tier.column], *_day_range(hold)))
    step.rows, step.first_ts, step.last_ts = _range(old, tier.column) if holds else (n, lo, hi)
    return old, holds


def _telemetry_rollup(store: Store, rows: ir.Table, raw: bool, resolution: str, width: int) -> int:
    """Insert (merging into existing buckets) the `resolution` buckets of `rows`; the number of buckets."""
    b = bucket_start(rows.ts, width)
    if raw:
        agg = rows.group_by(series=rows.series, ts=b).aggregate(
            metric=rows.metric.max(), labels=rows.labels.max(), sum=rows.value.sum(), count=rows.count(),
            min=rows.value.min(), max=rows.value.max())
    else:
        agg = rows.group_by(series=rows.series, ts=b).aggregate(
            metric=rows.metric.max(), labels=rows.labels.max(), sum=rows["sum"].sum(), count=rows["count"].sum(),
            min=rows["min"].min(), max=rows["max"].max())
    agg = agg.mutate(resolution=ibis.literal(resolution))
    columns = ["series", "resolution", "ts", "metric", "labels", "sum", "count", "min", "max"]
    sql = ibis.to_sql(agg.select(columns), dialect="duckdb")
    buckets = int(agg.count().execute())
    store.sql.execute(f"""INSERT INTO {ROLLUPS} ({', '.join(columns)}) {sql}
        ON CONFLICT (series, resolution, ts) DO UPDATE SET sum = {ROLLUPS}.sum + excluded.sum,
            count = {ROLLUPS}.count + excluded.count, min = least({ROLLUPS}.min, excluded.min),
            max = greatest({ROLLUPS}.max, excluded.max)""")
    return buckets


def _sli_regroup(store: Store, rows: ir.Table, holds: list[Hold], step: Step, width: int) -> None:
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
    where, params = _Tier("sli_events", "ts").where_sql(step.before, holds)
    con.execute(f"""DELETE FROM sli_events USING _retention_new r WHERE sli_events.service = r.service
        AND sli_events.indicator = r.indicator AND sli_events.ts >= r.bucket
        AND sli_events.ts < r.bucket + to_seconds({width}::BIGINT) AND {where}""", params)
    con.execute("INSERT INTO sli_events (service, indicator, ts, good, total) "
                "SELECT service, indicator, bucket, good, total FROM _retention_new")
    con.execute("DROP TABLE _retention_new")


def _steps(name: str, spec: DatasetRetention, as_of: datetime) -> list[tuple[_Tier, Step]]:
    """The tiers of one dataset in order, each with its (empty) step."""
    column = REGISTRY.get_dataset(name).time_column or ""
    tiers = spec.rollups
    if not tiers:
        return [(_Tier(name, column), Step("raw", "delete", None, as_of - timedelta(seconds=spec.raw_seconds)))]
    out = [(_Tier(name, column), Step("raw", "rollup", tiers[0].resolution,
                                      floor_to(as_of - timedelta(seconds=spec.raw_seconds), tiers[0].width)))]
    for i, tier in enumerate(tiers):
        nxt = tiers[i + 1] if i + 1 < len(tiers) else None
        before = floor_to(as_of - timedelta(seconds=tier.keep_seconds), (nxt or tier).width)
        source = _Tier(ROLLUPS, "ts", tier.resolution) if name == "telemetry_samples" else _Tier(name, column)
        out.append((source, Step(tier.resolution, "rollup" if nxt else "delete", nxt and nxt.resolution, before)))
    return out


def _widths(spec: DatasetRetention) -> dict[str, int]:
    return {t.resolution: t.width for t in spec.rollups}


def _storage(store: Store, tables: list[str], cost: float) -> Storage:
    """Rows and estimated bytes of `tables` (module docstring), measured in the engine."""
    rows = size = 0
    for name in tables:
        t = store.table(name)
        texts = [c for c, kind in t.schema().items() if kind.is_string()]
        fixed = len(t.columns) - len(texts)
        aggs = {"n": t.count()} | {f"l{i}": t[c].length().sum() for i, c in enumerate(texts)}
        row = t.aggregate(**aggs).execute().iloc[0]
        n = int(row["n"])
        chars = sum(int(row[f"l{i}"]) for i in range(len(texts)) if pd.notna(row[f"l{i}"]))  # all-null: NaN
        rows, size = rows + n, size + n * (8 * fixed + 4 * len(texts)) + chars
    return Storage(rows, size, size / 1e9 * cost)


def _run_dataset(store: Store, name: str, spec: DatasetRetention, as_of: datetime, cost: float) -> DatasetRun:
    tables = [name, ROLLUPS] if name == "telemetry_samples" and spec.rollups else [name]
    before = _storage(store, tables, cost)
    steps = []
    widths = _widths(spec)
    for tier, step in _steps(name, spec, as_of):
        rows, holds = _select(store, tier, step, name)
        if step.action == "rollup" and name == "sli_events":
            _sli_regroup(store, rows, holds, step, widths[step.into or ""])
        elif step.rows:
            if step.action == "rollup":
                step.buckets = _telemetry_rollup(store, rows, tier.resolution is None, step.into or "",
                                                 widths[step.into or ""])
            where, params = tier.where_sql(step.before, holds)
            store.sql.execute(f"DELETE FROM {tier.table} WHERE {where}", params)
        steps.append(step)
    return DatasetRun(name, steps, before, _storage(store, tables, cost))


def run_retention(store: Store, policy: RetentionPolicy, as_of: datetime | date | None = None, *,
                  apply: bool = False, actor: str = "engmetrics") -> RetentionReport:
    """Plan (default: the work is done and rolled back) or `apply` the policy at `as_of` (default: now).

    Each dataset is one transaction; an applied dataset that changed appends a `retention.apply` audit entry
    (target: the dataset) in the same transaction. Applying again at the same `as_of` changes nothing.
    """
    if as_of is None:
        as_of = datetime.now(UTC)
    elif not isinstance(as_of, datetime):
        as_of = datetime.combine(as_of, datetime.min.time(), UTC)
    as_of = as_utc(as_of)
    report = RetentionReport(as_of, apply, policy.storage_cost_per_gb_month, [])
    con = store.sql
    for name, spec in policy.datasets.items():
        con.execute("BEGIN TRANSACTION")
        try:
            run = _run_dataset(store, name, spec, as_of, policy.storage_cost_per_gb_month)
            changed = any(s.rows or s.buckets for s in run.steps)
            if apply and changed:
                audit.append(store, actor, "retention.apply", name, details={
                    "as_of": as_of.isoformat(), "policy": policy.source,
                    "steps": [{"tier": s.tier, "action": s.action, "into": s.into, "rows": s.rows,
                               "buckets": s.buckets, "blocked_by": [b.hold_id for b in s.blocked]}
                              for s in run.steps]})
            con.execute("COMMIT" if apply else "ROLLBACK")
        except Exception:
            con.execute("ROLLBACK")
            raise
        report.datasets.append(run)
    return report


def read_series(store: Store, series: str, start: datetime, end: datetime) -> ir.Table:
    """One `telemetry_samples` series over [start, end) at the finest resolution available for each part:
    raw samples where kept, else the finest rollup bucket not covered by a finer tier. Columns: `ts`,
    `resolution` (`raw` or the rollup's), `sum`, `count`, `min`, `max` (a raw sample: its value, count 1),
    ordered by `ts`. A bucket counts where it starts: align the window to the coarsest resolution in it for
    exact sums.

    >>> store = Store.open("duckdb://")
    >>> _ = store.sql.execute("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES "
    ...     "('up', '2026-01-01 00:01:00+00', 'up', 1), ('up', '2026-01-01 00:02:00+00', 'up', 0)")
    >>> read_series(store, "up", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    ...             ).to_pyarrow().column("sum").to_pylist()
    [1.0, 0.0]
    """
    lo, hi = ibis.timestamp(as_utc(start)), ibis.timestamp(as_utc(end))
    raw = store.table("telemetry_samples")
    raw = raw.filter(raw.series == series, raw.ts >= lo, raw.ts < hi)
    parts = [raw.select(ts=raw.ts.cast(UTC_TIMESTAMP), resolution=ibis.literal("raw"), sum=raw.value,
                        count=ibis.literal(1, "int64"), min=raw.value, max=raw.value)]
    rolled = store.table(ROLLUPS)
    rolled = rolled.filter(rolled.series == series, rolled.ts >= lo, rolled.ts < hi)
    present = rolled.select("resolution").distinct().to_pyarrow().column("resolution").to_pylist()
    finer: list[ir.Table] = [raw.select("ts")]
    for resolution in sorted(present, key=duration_seconds):
        tier = rolled.filter(rolled.resolution == resolution)
        width = duration_seconds(resolution)
        covered = ibis.union(*[f.select(ts=bucket_start(f.ts, width)) for f in finer]).distinct()
        kept = tier.anti_join(covered, tier.ts == covered.ts)
        parts.append(kept.select(ts=kept.ts.cast(UTC_TIMESTAMP), resolution=kept.resolution, sum=kept["sum"],
                                 count=kept["count"], min=kept["min"], max=kept["max"]))
        finer.append(tier.select("ts"))
    return ibis.union(*parts).order_by("ts")
