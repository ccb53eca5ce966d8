"""Retention horizons: once `retention apply` has rolled up (or deleted) a dataset's raw rows dated before an
instant, rows dated before it are refused from then on, by every ingest path (files, uploads, scrapes,
imports, the push receivers), with a reason. A resend or re-import of a sample that is already counted in a
rollup would otherwise be stored raw again and counted twice at the next apply.

The horizon of a dataset only moves forward (`raise_horizon`); `_retention_horizons` keeps one row per
dataset.

>>> from datetime import datetime, UTC
>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> raise_horizon(store.sql, "telemetry_samples", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC))
>>> horizon(store, "telemetry_samples")
datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
>>> [rule.message for rule in horizon_rules(store, "telemetry_samples")]
['dated before the retention horizon 2026-01-01T00:00:00+00:00: that period is already rolled up']
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..store import Rule, Store
from ..store.datasets import REGISTRY
from ..timeutil import as_utc
from .batch import split_rows

__all__ = ["horizon", "horizon_rules", "raise_horizon", "split_behind_horizon"]


def horizon(store: Store, dataset: str) -> datetime | None:
    """The instant before which `dataset` takes no more rows (UTC), or None."""
    row = store.sql.execute("SELECT before FROM _retention_horizons WHERE dataset = ?", [dataset]).fetchone()
    return as_utc(row[0]) if row else None


def raise_horizon(con: Any, dataset: str, before: datetime, now: datetime) -> None:
    """Move `dataset`'s horizon to `before` unless it is already later (inside the caller's transaction)."""
    con.execute("""
        INSERT INTO _retention_horizons VALUES (?, ?, ?)
        ON CONFLICT (dataset) DO UPDATE SET before = greatest(before, excluded.before), set_at = excluded.set_at""",
                [dataset, as_utc(before), as_utc(now)])


def _message(before: datetime) -> str:
    return f"dated before the retention horizon {before.isoformat()}: that period is already rolled up"


def horizon_rules(store: Store, dataset: str) -> tuple[Rule, ...]:
    """The ingest rule refusing rows of `dataset` dated before its horizon (none without a horizon or a time
    column)."""
    before = horizon(store, dataset)
    column = REGISTRY.get_dataset(dataset).time_column
    if before is None or column is None:
        return ()
    return (Rule(f'"{column}" >= TIMESTAMPTZ \'{before.isoformat()}\'', _message(before), column),)


def split_behind_horizon(store: Store, table: pa.Table, dataset: str = "telemetry_samples",
                         column: str = "ts") -> tuple[pa.Table, pa.Table]:
    """(kept, refused): rows of `table` dated before `dataset`'s horizon are refused, with a `reason`."""
    before = horizon(store, dataset)
    if before is None:
        return split_rows(table, pa.repeat(False, table.num_rows), "")
    behind = pc.less(table.column(column), pa.scalar(before, table.schema.field(column).type))
    return split_rows(table, behind, _message(before))
