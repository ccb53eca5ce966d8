"""Store what the pull commands (`telemetry scrape`, `telemetry import-prometheus`) collected.

Into `telemetry_samples` (`write_samples`) the samples take the push receivers' path, in one transaction: what
`telemetry.admit.admit` refuses (a NaN value, a clock skew beyond the policy, a date before the retention horizon)
is quarantined with the reason, and the rest is upserted by (series, ts) under the source priority and overlap
window (`telemetry.dedup.store_samples`), so a series both scraped and pushed is kept once. Every row ends up
inserted, updated, unchanged or quarantined (a sample dropped as an overlap leaves the store unchanged: it counts
as unchanged, and `dropped` says how many of those it was).

Into other datasets (`sli_events`; `write_parts`) the rows go through the normal file ingestion.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..ingest import IngestResult, ingest_files
from ..store import Rule, Store
from .admit import admit, quarantine_samples
from .config import OVERLAP_WINDOW_SECONDS, ClockPolicy
from .dedup import COLUMNS, store_samples

__all__ = ["SampleWrite", "write_parts", "write_samples"]


@dataclass
class SampleWrite(IngestResult):
    """The accounting of pulled samples written to `telemetry_samples`, as `--json` prints it (`as_dict`):
    `read = inserted + updated + unchanged + quarantined`, as every ingest reports. `updated` counts samples that
    replaced a stored sample of their source and (series, ts) with another value, or that a newer sample of the
    same batch replaced; `unchanged` the same value again and the samples dropped for a better source within the
    overlap window (the store already holds that series from it), of which `dropped` gives the number; `evicted`
    stored samples of a lower-priority source deleted for them (rows of the store, not rows read)."""

    dropped: int = 0
    evicted: int = 0


def write_samples(store: Store, parts: Sequence[tuple[str, pa.Table]], *, priority: Sequence[str] = (),
                  window: float = OVERLAP_WINDOW_SECONDS, clocks: ClockPolicy | None = None) -> SampleWrite:
    """Write `parts` ((name, rows with the `telemetry.dedup.COLUMNS`)) to `telemetry_samples` in one transaction;
    a part's rows count as one request, in the order given (earlier parts delivered first). Parts without rows
    are left out of `files`."""
    kept = [(name, table.select(list(COLUMNS))) for name, table in parts if table.num_rows]
    result = SampleWrite("telemetry_samples", [name for name, _ in kept])
    if not kept:
        return result
    sizes = np.array([table.num_rows for _, table in kept], dtype=np.int64)
    batch = pa.concat_tables([table for _, table in kept])
    batch = batch.append_column("_req", pa.array(np.repeat(np.arange(1, len(kept) + 1), sizes), pa.int64()))
    con = store.sql
    con.execute("BEGIN TRANSACTION")
    try:
        admitted, refused = admit(store, batch, clocks or ClockPolicy())
        quarantined = quarantine_samples(con, refused)
        stored = store_samples(store, admitted.select([*COLUMNS, "_req"]), priority, window)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    result.read, result.quarantined = batch.num_rows, quarantined
    result.inserted, result.dropped = stored.inserted, stored.dropped
    result.unchanged = stored.unchanged + stored.dropped
    result.updated = stored.replaced - stored.unchanged + stored.superseded
    result.evicted = stored.evicted
    return result


def write_parts(store: Store, dataset: str, parts: Sequence[tuple[str, pa.Table]], *,
                rules: Sequence[Rule] = ()) -> IngestResult:
    """Ingest `parts` ((name, rows shaped like `dataset`)) into `dataset` as one batch through the file
    ingestion; `name` is what the accounting and the quarantine call the part. `rules` are checked after the
    dataset's own. Parts without rows are left out; with no rows at all nothing is written and every count is 0."""
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
