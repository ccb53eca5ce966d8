"""Retention and downsampling: what `engmetrics retention plan | apply` do (policy: `retention_policy`).

At `as_of`, per dataset of the policy, in one transaction (`plan` runs the same work and rolls it back, so its
numbers are exactly what `apply` would do):

- `telemetry_samples`: raw rows older than the raw cutoff become buckets of the first rollup in
  `_telemetry_rollups` (sum, count, min, max of `value`, counter `increase` and `last`: `retention_tiers`),
  then are deleted; rollup rows older than their tier's cutoff become buckets of the next tier (sums of sums,
  counts and increases, min of mins, max of maxes, the latest `last`) and are deleted;
  the last tier's rows older than its cutoff are deleted. A bucket that already exists (late data) is merged,
  so sums stay exact. Each row lives in exactly one tier.
- `sli_events`: rolled up in place: rows older than a cutoff are replaced by one row per coarser bucket
  summing `good` and `total` (buckets already whole are left alone); rows past the last tier are deleted.
- any other dataset: rows whose time column is older than `raw` are deleted.

A run that changed a dataset raises its retention horizon (`telemetry.horizon.raise_horizon`) to the raw
cutoff in the same transaction: from then on every ingest path refuses rows dated before it, so a resent
sample is not counted a second time. Reads see every tier (`retention_points.read_series`).

Cutoffs: the raw cutoff is `as_of - raw` floored to the first rollup's resolution; tier i's is
`as_of - keep_i` floored to the next tier's resolution (its own for the last). Buckets are aligned to the Unix
epoch. Legal holds (`governance.holds.blocking_holds`) in force now keep the days they cover: rows on those
days are neither rolled up nor deleted (they stay at their tier, so nothing is counted twice), and the step
names each hold with the rows it kept. Storage is measured in the engine before and after: rows, and bytes as
8 per fixed-width value plus, per text value, its length + 4 (an uncompressed estimate); cost = bytes / 10^9
x `storage_cost_per_gb_month`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from ..governance import audit
from ..store import Store
from ..store.datasets import REGISTRY
from ..timeutil import as_utc
from .horizon import horizon, raise_horizon
from .retention_points import ROLLUPS, bucket_start, floor_to, read_series
from .retention_policy import DatasetRetention, RetentionPolicy, tier_problems
from .retention_tiers import BlockedRows, Step, Tier, regroup_sli_events, roll_up_telemetry, select_step

__all__ = ["BlockedRows", "DatasetRun", "RetentionReport", "Step", "Storage", "bucket_start", "floor_to",
           "read_series", "run_retention"]


@dataclass(frozen=True)
class Storage:
    rows: int
    bytes: int
    cost_per_month: float


@dataclass
class DatasetRun:
    """One dataset's steps, storage before and after, and its retention horizon after the run (None: none)."""

    dataset: str
    steps: list[Step]
    before: Storage
    after: Storage
    horizon: datetime | None = None


@dataclass
class RetentionReport:
    """What retention did (`applied`) or would do, per dataset."""

    as_of: datetime
    applied: bool
    storage_cost_per_gb_month: float
    datasets: list[DatasetRun]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _steps(name: str, spec: DatasetRetention, as_of: datetime) -> list[tuple[Tier, Step]]:
    """The tiers of one dataset in order, each with its (empty) step."""
    column = REGISTRY.get_dataset(name).time_column or ""
    tiers = spec.rollups
    if not tiers:
        return [(Tier(name, column), Step("raw", "delete", None, as_of - timedelta(seconds=spec.raw_seconds)))]
    raw = Tier(name, column, counters=name == "telemetry_samples")
    out = [(raw, Step("raw", "rollup", tiers[0].resolution,
                      floor_to(as_of - timedelta(seconds=spec.raw_seconds), tiers[0].width)))]
    for i, tier in enumerate(tiers):
        nxt = tiers[i + 1] if i + 1 < len(tiers) else None
        before = floor_to(as_of - timedelta(seconds=tier.keep_seconds), (nxt or tier).width)
        source = Tier(ROLLUPS, "ts", tier.resolution) if name == "telemetry_samples" else Tier(name, column)
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
        rows, holds = select_step(store, tier, step, name)
        if step.action == "rollup" and name == "sli_events":
            regroup_sli_events(store, rows, holds, step, widths[step.into or ""])
        elif step.rows:
            if step.action == "rollup":
                step.buckets = roll_up_telemetry(store, rows, step.into or "", widths[step.into or ""])
            where, params = tier.where_sql(step.before, holds)
            store.sql.execute(f"DELETE FROM {tier.table} WHERE {where}", params)
        steps.append(step)
    return DatasetRun(name, steps, before, _storage(store, tables, cost))


def run_retention(store: Store, policy: RetentionPolicy, as_of: datetime | date | None = None, *,
                  apply: bool = False, actor: str = "engmetrics") -> RetentionReport:
    """Plan (default: the work is done and rolled back) or `apply` the policy at `as_of` (default: now).

    Each dataset is one transaction; a dataset that changed gets its retention horizon raised to the raw
    cutoff and, when applied, a `retention.apply` audit entry (target: the dataset), in the same transaction.
    Applying again at the same `as_of` changes nothing. Raises ValueError, before any work, for a policy built
    in code that breaks a tier rule (`retention_policy.tier_problems`; the policy file's loader reports those
    with file and line).
    """
    problems = [f"{name}: {message}" for name, spec in policy.datasets.items()
                for _, message in tier_problems(name, spec)]
    if problems:
        raise ValueError("invalid retention policy: " + "; ".join(problems))
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
            if changed:  # the raw cutoff is at or after every bucket end and every row taken
                raise_horizon(con, name, run.steps[0].before, datetime.now(UTC))
            run.horizon = horizon(store, name)
            if apply and changed:
                audit.append(store, actor, "retention.apply", name, details={
                    "as_of": as_of.isoformat(), "policy": policy.source,
                    "horizon": run.horizon.isoformat() if run.horizon else None,
                    "steps": [{"tier": s.tier, "action": s.action, "into": s.into, "rows": s.rows,
                               "buckets": s.buckets, "blocked_by": [b.hold_id for b in s.blocked]}
                              for s in run.steps]})
            con.execute("COMMIT" if apply else "ROLLBACK")
        except Exception:
            con.execute("ROLLBACK")
            raise
        report.datasets.append(run)
    return report
