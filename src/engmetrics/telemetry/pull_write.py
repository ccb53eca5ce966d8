"""Store what the pull commands (`telemetry scrape`, `telemetry import-prometheus`) collected, through the normal
ingestion (`engmetrics.ingest.ingest_files`): each part is written as a Parquet file and the parts are ingested
as one batch, so every row ends up inserted, updated, unchanged or quarantined with a reason (a NaN value, a
bucket with more good than total events, a scraped sample whose timestamp is beyond the clock policy's skew),
in one transaction.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..ingest import IngestResult, ingest_files
from ..store import Rule, Store

__all__ = ["write_parts"]


def write_parts(store: Store, dataset: str, parts: Sequence[tuple[str, pa.Table]], *,
                rules: Sequence[Rule] = ()) -> IngestResult:
    """Ingest `parts` ((name, rows shaped like `dataset`)) into `dataset` as one batch; `name` is what the
    accounting and the quarantine call the part (e.g. `scrape:api`). `rules` are checked after the dataset's own
    (e.g. `telemetry.clocks.ingest_rules`). Parts without rows are left out; with no rows at all nothing is
    written and every count is 0."""
    kept = [(name, table) for name, table in parts if table.num_rows]
    if not kept:
        return IngestResult(dataset, [])
    with tempfile.TemporaryDirectory(prefix="engmetrics-pull-") as folder:
        paths = []
        for index, (_, table) in enumerate(kept):
            path = Path(folder) / f"part-{index}.parquet"
            pq.write_table(table, path)
            paths.append(path)
        return ingest_files(store, dataset, paths, fmt="parquet", names=[name for name, _ in kept], rules=rules)
