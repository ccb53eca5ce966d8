"""One series from two pipelines is kept once: where two sources deliver samples of the same series within a
time window of each other, only the better source's samples are stored, and the overlap is counted in
`_telemetry_overlaps`.

A source's priority is the position of the first prefix of `ReceiverSettings.source_priority` it starts
with (earlier wins); a source matching no prefix ranks after all listed ones. Two sources are *near* for a
series when they have samples of it at most `window` seconds apart (`ReceiverSettings.overlap_window_seconds`;
0 means the same `ts` only). Two Prometheus replicas scraping one target 5 s apart are near with any window
of 5 s or more; so are a scrape and a remote-write of the same exporter. For each incoming sample:

- a sample of the same source and the same (series, ts) (a resend, a corrected value): the newest value
  replaces the stored one (`replaced`; `unchanged` when the value is the same), no overlap;
- a sample near a sample of a *better* source (stored or in the same batch) is dropped: (series, better
  source, its source) is an overlap. Better means a higher priority; at equal priority (a tie), the source
  that delivered first keeps the series: a stored sample beats an incoming one, and within a batch the source
  whose first request for the series arrived first wins. So two equal pipelines never interleave;
- a sample kept where stored samples of a source of *lower priority* are near deletes them (`evicted` at
  other timestamps, `replaced` at its own): the overlap is counted as (series, its source, the evicted source).

A source that stops (a replica going down) leaves no sample near the other's, which then fills the gap. A
sample is judged against every near sample of a better source, also one that is itself dropped in the same
batch (three pipelines chained within a window lose a little more than the strict rule would).

The common case (every series of the batch from one source, no other source near on its metrics, no repeated
(series, ts)) is two or three cheap checks (`_all_new`) and one plain insert. The rest is a few joins and one
upsert per batch in DuckDB (`store_samples`), inside the caller's transaction: each row is compared with the
first and last sample of each other source in its window-wide time bucket and the two beside it, not with every
near sample. The report reads the table back through Ibis (`overlaps`).

>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> overlaps(store)
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.coerce import quote_literal
from ..store import Store
from .config import OVERLAP_WINDOW_SECONDS

__all__ = ["COLUMNS", "Stored", "overlaps", "rank_sql", "store_samples"]

# The pushed batch: the samples batch (`telemetry.batch.SCHEMA`) plus these, and `_req` (arrival order).
COLUMNS = ("series", "ts", "metric", "labels", "value", "source", "received_at")
_INSERT = f"INSERT INTO telemetry_samples ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM "
_IN = "_em_push"
_TEMP = ("_em_in", "_em_src", "_em_near", "_em_beaten", "_em_win", "_em_evict")


@dataclass(frozen=True)
class Stored:
    """What one batch did. Per incoming sample: `inserted` (a new (series, ts)), `replaced` (a stored sample
    of the same (series, ts) is now this one; `unchanged`, a part of `replaced`: same source and value),
    `dropped` (lost to a better source near it), or superseded by a newer sample of its source and
    (series, ts) in the same batch (`superseded`). Besides: `evicted` stored samples of a lower-priority
    source at other timestamps near a kept sample, deleted."""

    inserted: int
    replaced: int
    dropped: int
    unchanged: int = 0
    superseded: int = 0
    evicted: int = 0


def rank_sql(column: str, priority: Sequence[str]) -> str:
    """SQL giving the priority rank of `column` (0 best; `len(priority)` for a source matching no prefix).

    >>> rank_sql("source", ["scrape:", "otlp:"])
    "CASE WHEN starts_with(source, 'scrape:') THEN 0 WHEN starts_with(source, 'otlp:') THEN 1 ELSE 2 END"
    """
    whens = " ".join(f"WHEN starts_with({column}, {quote_literal(p)}) THEN {i}" for i, p in enumerate(priority))
    return f"CASE {whens} ELSE {len(priority)} END" if priority else "0"


def _params(batch: pa.Table, window: float) -> dict[str, Any]:
    """The batch's time range (`t0`, `t1`), that range widened by the window (`lo`, `hi`: joins read the
    stored side only within it: DuckDB skips the rest) and the window in microseconds (`w`)."""
    bounds = pc.min_max(batch.column("ts"))
    t0, t1, pad = bounds["min"].as_py(), bounds["max"].as_py(), timedelta(seconds=window)
    return {"t0": t0, "t1": t1, "lo": t0 - pad, "hi": t1 + pad, "w": round(window * 1e6)}


def _run(con: Any, sql: str, params: dict[str, Any]) -> Any:
    """Execute `sql` with the parameters of `params` it uses (DuckDB refuses unused ones)."""
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def _all_new(con: Any, batch: pa.Table, params: dict[str, Any]) -> bool:
    """True when no (series, ts) of the batch repeats or is stored, every series of the batch comes from one
    source, and no stored sample of another source lies within the window of the batch's samples of the series.

    The common batch (one source, new timestamps, no other source stored in its range) is decided by two cheap
    checks. A stored (series, ts) of the batch lies within the batch's own time range, so one aggregate over
    the batch and the stored rows of that range finds a (series, ts) repeated or already stored. It groups by
    the series' 64-bit hash, cheaper than its text: a collision only sends the batch the exact way, as a stored
    duplicate does. DuckDB skips the other row groups by their ts bounds, and the series keys of the window
    around the range are never read. "Another source within the widened range" is a
    filter on the `ts` and `source` columns with the batch's source as a constant. When there is one (two
    pipelines pushing at once), a third check reads the `metric` column of those rows: a series is its
    metric name followed by its labels (the dataset's rule; the decoders and scrapes build it so), so another
    source near only on other metrics cannot hold a series of the batch. Only a batch of several sources, or
    with another source near on a metric of the batch, is checked series by series."""
    sources = batch.column("source")
    alone = sources.null_count == 0 and pc.count_distinct(sources).as_py() == 1
    params = {**params, "src": sources[0].as_py()}
    others = "SELECT 1 FROM telemetry_samples WHERE ts BETWEEN $lo AND $hi AND source IS DISTINCT FROM $src"
    twice, near = _run(con, f"""
        SELECT EXISTS (SELECT 1 FROM (SELECT hash(series) AS h, ts FROM {_IN} UNION ALL
                                      SELECT hash(series), ts FROM telemetry_samples WHERE ts BETWEEN $t0 AND $t1)
                       GROUP BY h, ts HAVING count(*) > 1),
               {f'EXISTS ({others})' if alone else 'true'}""", params).fetchone()
    if twice:
        return False
    if alone and (not near or not _run(con, f"""
            SELECT EXISTS ({others} AND metric IN (SELECT DISTINCT metric FROM {_IN}))""", params).fetchone()[0]):
        return True
    (conflicts,) = _run(con, f"""
        WITH per AS (SELECT series, min(source) AS source, count(DISTINCT coalesce(source, '')) AS sources,
                            count(source) < count(*) AS some_null, min(ts) AS t0, max(ts) AS t1
                     FROM {_IN} GROUP BY series)
        SELECT (SELECT count(*) FROM per WHERE sources > 1 OR (some_null AND source IS NOT NULL))
             + (SELECT count(*) FROM per p SEMI JOIN telemetry_samples t
                ON t.series = p.series AND t.source IS DISTINCT FROM p.source AND t.ts BETWEEN $lo AND $hi
                   AND t.ts BETWEEN p.t0 - to_microseconds($w) AND p.t1 + to_microseconds($w))""",
                        params).fetchone()
    return conflicts == 0


def _bucket(column: str, params: dict[str, Any]) -> str:
    """SQL of the window-wide time bucket of `column` (its microsecond itself with a window of 0)."""
    us = f"epoch_us({column})"
    return us if params["w"] == 0 else f"floor({us} / {params['w']})::BIGINT"


def _candidates(con: Any, priority: Sequence[str], params: dict[str, Any]) -> None:
    """`_em_in`: the batch numbered (`_row`) with each row's `_rank`, time bucket `_b` and `_order` (its
    source's place among the batch's sources of the series: rank, then first request); `_em_near`: per series,
    source and bucket, the first and last `ts` of the batch's rows and (`_stored`) of the stored samples of the
    batch's series in the widened range. A sample within the window of a row lies in the row's bucket or one of
    the two beside it, so the rows are compared with a few buckets instead of every near sample."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _em_src AS
        SELECT series, source, dense_rank() OVER (PARTITION BY series ORDER BY _rank, _first, source) AS _order
        FROM (SELECT series, source, {rank_sql('source', priority)} AS _rank, min(_req) AS _first
              FROM {_IN} GROUP BY series, source)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _em_in AS
        SELECT i.*, {rank_sql('i.source', priority)} AS _rank, s._order, {_bucket('i.ts', params)} AS _b
        FROM (SELECT *, row_number() OVER () AS _row FROM {_IN}) i
             JOIN _em_src s ON s.series = i.series AND s.source IS NOT DISTINCT FROM i.source""")
    _run(con, f"""
        CREATE OR REPLACE TEMP TABLE _em_near AS
        SELECT series, source, _b, any_value(_rank) AS _rank, any_value(_order) AS _order, false AS _stored,
               min(ts) AS t0, max(ts) AS t1
        FROM _em_in GROUP BY series, source, _b
        UNION ALL
        SELECT series, source, _b, {rank_sql('source', priority)}, NULL, true, t0, t1
        FROM (SELECT series, source, {_bucket('ts', params)} AS _b, min(ts) AS t0, max(ts) AS t1
              FROM telemetry_samples WHERE ts BETWEEN $lo AND $hi AND series IN (SELECT series FROM _em_src)
              GROUP BY ALL)""", params)


# x (a bucket of another source's samples of the series) beats r: a better rank, or at the same rank x is stored
# or x's source delivered first in the batch; and a sample of x lies within the window of r (any sample of the
# same bucket; the last of the bucket before, the first of the bucket after).
_BEATS = """x.series = r.series AND x._b BETWEEN r._b - 1 AND r._b + 1 AND x.source IS DISTINCT FROM r.source
            AND (x._rank < r._rank OR (x._rank = r._rank AND (x._stored OR x._order < r._order)))
            AND CASE WHEN x._b = r._b THEN true WHEN x._b < r._b THEN x.t1 >= r.ts - to_microseconds($w)
                     ELSE x.t0 <= r.ts + to_microseconds($w) END"""
# the best of several beating sources: lowest rank, then stored, then first delivered
_BEST = "arg_min(x.source, x._rank * 1000000 + coalesce(x._order, 0))"


def _decide(con: Any, priority: Sequence[str], params: dict[str, Any]) -> None:
    """`_em_beaten`: dropped rows and the source that beat them; `_em_win`: per (series, ts) the newest
    surviving row (`_held`: the stored sample there is of the same source; `_same`: and has its value);
    `_em_evict`: stored samples of a lower-priority source near a winner."""
    _run(con, f"""
        CREATE OR REPLACE TEMP TABLE _em_beaten AS
        SELECT r._row, any_value(r.series) AS series, any_value(r.ts) AS ts, any_value(r.source) AS source,
               {_BEST} AS kept_source
        FROM _em_in r JOIN _em_near x ON {_BEATS} GROUP BY r._row""", params)
    _run(con, """
        CREATE OR REPLACE TEMP TABLE _em_win AS
        SELECT w.*, s.series IS NOT NULL AS _held, coalesce(s.value = w.value, false) AS _same
        FROM (SELECT * FROM _em_in ANTI JOIN _em_beaten USING (_row)
              QUALIFY row_number() OVER (PARTITION BY series, ts ORDER BY _req DESC, _row DESC) = 1) w
        LEFT JOIN telemetry_samples s ON s.series = w.series AND s.ts = w.ts AND s.ts BETWEEN $lo AND $hi
                                         AND s.source IS NOT DISTINCT FROM w.source""", params)
    _run(con, f"""
        CREATE OR REPLACE TEMP TABLE _em_evict AS
        SELECT y.series, y.ts, y.source, arg_min(x.source, x._order) AS kept_source
        FROM (SELECT series, ts, source, {rank_sql('source', priority)} AS _rank FROM telemetry_samples
              WHERE ts BETWEEN $lo AND $hi AND series IN (SELECT series FROM _em_win)) y
             JOIN _em_win x ON x.series = y.series AND x._rank < y._rank
                               AND x.ts BETWEEN y.ts - to_microseconds($w) AND y.ts + to_microseconds($w)
        GROUP BY y.series, y.ts, y.source""", params)


def _count_overlaps(con: Any) -> None:
    con.execute("""
        INSERT INTO _telemetry_overlaps
        SELECT series, coalesce(kept_source, ''), coalesce(source, ''), min(ts), max(ts), count(*)
        FROM (SELECT series, ts, source, kept_source FROM _em_beaten
              UNION ALL SELECT series, ts, source, kept_source FROM _em_evict)
        GROUP BY series, kept_source, source
        ON CONFLICT (series, kept_source, dropped_source) DO UPDATE SET
            first_ts = least(first_ts, excluded.first_ts), last_ts = greatest(last_ts, excluded.last_ts),
            samples = samples + excluded.samples""")


def store_samples(store: Store, batch: pa.Table, priority: Sequence[str] = (),
                  window: float = OVERLAP_WINDOW_SECONDS) -> Stored:
    """Upsert `batch` (columns `COLUMNS` plus `_req`, the arrival number of each row's request) into
    `telemetry_samples` under the source priority and the overlap `window` (seconds), counting overlaps;
    inside the caller's transaction. Every row is inserted, replaces a stored sample, is dropped as an overlap,
    or is superseded within the batch: `inserted + replaced + dropped + superseded == batch.num_rows`."""
    con = store.sql
    if not batch.num_rows:
        return Stored(0, 0, 0)
    con.register(_IN, batch)
    try:
        params = _params(batch, window)
        if _all_new(con, batch, params):
            con.execute(_INSERT + _IN)
            return Stored(batch.num_rows, 0, 0)
        return _store_exactly(con, batch.num_rows, priority, params)
    finally:
        con.unregister(_IN)


def _store_exactly(con: Any, rows: int, priority: Sequence[str], params: dict[str, Any]) -> Stored:
    """`store_samples` of a batch `_all_new` could not clear: decided row by row in temporary tables, dropped
    at the end (after a failure the caller's ROLLBACK removes them, and its error is the one raised)."""
    _candidates(con, priority, params)
    _decide(con, priority, params)
    _count_overlaps(con)
    won, held, same, dropped, evicted, at_winner = con.execute("""
        SELECT (SELECT count(*) FROM _em_win), (SELECT count(*) FROM _em_win WHERE _held),
               (SELECT count(*) FROM _em_win WHERE _same), (SELECT count(*) FROM _em_beaten),
               (SELECT count(*) FROM _em_evict),
               (SELECT count(*) FROM _em_evict e SEMI JOIN _em_win w USING (series, ts))""").fetchone()
    _run(con, """
        DELETE FROM telemetry_samples t USING (
            SELECT series, ts FROM _em_evict UNION ALL SELECT series, ts FROM _em_win WHERE _held AND NOT _same
        ) d WHERE t.series = d.series AND t.ts = d.ts AND t.ts BETWEEN $lo AND $hi""", params)
    con.execute(_INSERT + "_em_win WHERE NOT _same")
    for table in _TEMP:
        con.execute(f"DROP TABLE {table}")
    replaced = held + at_winner
    return Stored(inserted=won - replaced, replaced=replaced, dropped=dropped, unchanged=same,
                  superseded=rows - won - dropped, evicted=evicted - at_winner)


def overlaps(store: Store) -> list[dict[str, Any]]:
    """The overlaps counted so far, one row per (series, kept_source, dropped_source): `first_ts`,
    `last_ts` (UTC datetimes) and `samples` dropped or evicted, ordered by series and sources."""
    table = store.table("_telemetry_overlaps")
    return table.order_by(["series", "kept_source", "dropped_source"]).to_pyarrow().to_pylist()
