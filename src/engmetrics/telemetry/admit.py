"""What every telemetry_samples write path (push receivers, scrape, import) refuses before it stores samples,
and how refused samples reach the ingest quarantine.

A sample is refused when its value is NaN or infinite (the store keeps finite values, as file ingestion
does), when its clock skew is beyond the clock policy (`clocks.split_skewed`), or when it is dated before the
dataset's retention horizon (`horizon.split_behind_horizon`: its period is already rolled up).

>>> from datetime import datetime, UTC
>>> from engmetrics.store import Store
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> table = pa.table({"ts": [t, t], "received_at": [t, t], "value": [1.0, float("nan")]})
>>> kept, refused = admit(Store.open("duckdb://"), table, ClockPolicy())
>>> kept.num_rows, [(column, bad.num_rows) for bad, column in refused]
(1, [('value', 1), ('ts', 0), ('ts', 0)])
"""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..store import Store
from .batch import split_rows
from .clocks import split_skewed
from .config import ClockPolicy
from .horizon import split_behind_horizon

__all__ = ["admit", "quarantine_samples", "split_non_finite"]

_NOT_FINITE = "value is not a finite number (NaN, infinite or missing); the store keeps finite values only"


def split_non_finite(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(finite rows, NaN/±Inf/null rows with a `reason`), as file ingestion refuses them too.

    >>> kept, bad = split_non_finite(pa.table({"value": [1.0, float("nan"), float("inf"), None]}))
    >>> kept.column("value").to_pylist(), bad.num_rows
    ([1.0], 3)
    """
    return split_rows(table, pc.invert(pc.is_finite(table.column("value")).fill_null(False)), _NOT_FINITE)


def admit(store: Store, table: pa.Table, clocks: ClockPolicy) -> tuple[pa.Table, list[tuple[pa.Table, str]]]:
    """(kept samples, [(refused samples with a `reason`, the column at fault)]) for a table with at least
    `ts`, `received_at` and `value`."""
    finite, not_finite = split_non_finite(table)
    timely, skewed = split_skewed(finite, clocks)
    kept, behind = split_behind_horizon(store, timely)
    return kept, [(not_finite, "value"), (skewed, "ts"), (behind, "ts")]


def quarantine_samples(con: Any, refused: list[tuple[pa.Table, str]]) -> int:
    """Refused samples (columns series, ts, value, received_at, source, reason) into the ingest quarantine,
    one entry each with the sample as JSON and the source as its file; inside the caller's transaction.
    Returns how many."""
    batch_id = uuid.uuid4().hex
    for bad, column in refused:
        if not bad.num_rows:
            continue
        con.register("_em_refused", bad)
        try:
            con.execute("""
                INSERT INTO _quarantine SELECT ?, 'telemetry_samples', source, NULL, ?, reason,
                       to_json(struct_pack(series, ts, value, received_at))::VARCHAR, now() FROM _em_refused""",
                        [batch_id, column])
        finally:
            con.unregister("_em_refused")
    return sum(bad.num_rows for bad, _ in refused)
