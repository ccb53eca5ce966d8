"""One series from two pipelines is kept once: the same (series, ts) sent by two sources is stored from the
one with the higher priority, and the overlap is counted in `_telemetry_overlaps`.

A source's priority is the position of the first prefix of `ReceiverSettings.source_priority` it starts
with (earlier wins); a source matching no prefix ranks after all listed ones. For each (series, ts):

- the same source again (a resend, a corrected value): the newest value replaces the stored one, no overlap;
- a higher-priority source replaces the stored sample; (series, new source, old source) is an overlap;
- a lower-priority source's sample is dropped; (series, stored source, new source) is an overlap;
- a different source of the *same* priority (a tie) is dropped: the first source to deliver keeps the
  sample, so two equal pipelines never flip the stored value back and forth.

Within one batch the same rules hold in arrival order (a batch row of the stored sample's own source goes
before another of the same priority). All of it is one join, one window query and one upsert per batch
in DuckDB (`store_samples`); the report reads the table back through Ibis (`overlaps`).

>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> overlaps(store)
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.coerce import quote_literal
from ..store import Store

__all__ = ["COLUMNS", "Stored", "overlaps", "rank_sql", "store_samples"]

# The pushed batch: the samples batch (`telemetry.batch.SCHEMA`) plus these, and `_req` (arrival order).
COLUMNS = ("series", "ts", "metric", "labels", "value", "source", "received_at")
_IN, _WIN = "_em_push", "_em_push_winners"


@dataclass(frozen=True)
class Stored:
    """What one batch did: `inserted` new (series, ts), `replaced` stored samples (same source or a higher
    one), `dropped` samples lost to a higher-priority or earlier equal source (counted as overlaps)."""

    inserted: int
    replaced: int
    dropped: int


def rank_sql(column: str, priority: Sequence[str]) -> str:
    """SQL giving the priority rank of `column` (0 best; `len(priority)` for a source matching no prefix).

    >>> rank_sql("source", ["scrape:", "otlp:"])
    "CASE WHEN starts_with(source, 'scrape:') THEN 0 WHEN starts_with(source, 'otlp:') THEN 1 ELSE 2 END"
    """
    whens = " ".join(f"WHEN starts_with({column}, {quote_literal(p)}) THEN {i}" for i, p in enumerate(priority))
    return f"CASE {whens} ELSE {len(priority)} END" if priority else "0"


def _rank_rows(con: Any, priority: Sequence[str], bounds: dict[str, Any]) -> None:
    """Each pushed row with the stored sample's source (`_stored`, `_held`) and its place (`_pos`) among the
    rows of its (series, ts): best rank, then the stored sample's own source, then the source that delivered
    first, then that source's newest row."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _em_push_ranked AS
        SELECT *, row_number() OVER (PARTITION BY series, ts
                                     ORDER BY _rank, source IS NOT DISTINCT FROM _stored DESC, _first, _req DESC)
                  AS _pos
        FROM (SELECT i.*, {rank_sql('i.source', priority)} AS _rank, t.source AS _stored,
                     t.series IS NOT NULL AS _held, {rank_sql('t.source', priority)} AS _stored_rank,
                     min(i._req) OVER (PARTITION BY i.series, i.ts, i.source) AS _first
              FROM {_IN} i LEFT JOIN telemetry_samples t
                   ON t.series = i.series AND t.ts = i.ts AND t.ts BETWEEN $lo AND $hi)""", bounds)


def _decide(con: Any) -> None:
    """The winner of each (series, ts) against the stored sample: `_act` is insert, replace or drop; `_kept`
    is the source the store holds afterwards. Every other pushed row of another source is an overlap."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {_WIN} AS
        SELECT * EXCLUDE (_pos, _first),
               CASE WHEN NOT _held THEN 'insert'
                    WHEN source IS NOT DISTINCT FROM _stored OR _rank < _stored_rank THEN 'replace'
                    ELSE 'drop' END AS _act
        FROM _em_push_ranked WHERE _pos = 1""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _em_push_lost AS
        SELECT r.series, CASE WHEN w._act = 'drop' THEN w._stored ELSE w.source END AS kept_source,
               r.source AS dropped_source, r.ts, true AS pushed
        FROM _em_push_ranked r JOIN {_WIN} w USING (series, ts)
        WHERE r.source IS DISTINCT FROM CASE WHEN w._act = 'drop' THEN w._stored ELSE w.source END
        UNION ALL
        SELECT series, source, _stored, ts, false FROM {_WIN}
        WHERE _act = 'replace' AND source IS DISTINCT FROM _stored""")


def _count_overlaps(con: Any) -> None:
    con.execute("""
        INSERT INTO _telemetry_overlaps
        SELECT series, coalesce(kept_source, ''), coalesce(dropped_source, ''), min(ts), max(ts), count(*)
        FROM _em_push_lost GROUP BY series, kept_source, dropped_source
        ON CONFLICT (series, kept_source, dropped_source) DO UPDATE SET
            first_ts = least(first_ts, excluded.first_ts), last_ts = greatest(last_ts, excluded.last_ts),
            samples = samples + excluded.samples""")


def _bounds(batch: pa.Table) -> dict[str, Any]:
    """The batch's time range: joins read the stored side only within it (DuckDB skips the rest)."""
    bounds = pc.min_max(batch.column("ts"))
    return {"lo": bounds["min"].as_py(), "hi": bounds["max"].as_py()}


def _all_new(con: Any, bounds: dict[str, Any]) -> bool:
    """True when no (series, ts) of the batch is stored or repeated within it: the common case, written by
    one plain insert."""
    held, repeated = con.execute(f"""
        SELECT (SELECT count(*) FROM {_IN} i SEMI JOIN telemetry_samples t
                ON t.series = i.series AND t.ts = i.ts AND t.ts BETWEEN $lo AND $hi),
               (SELECT count(*) FROM (SELECT 1 FROM {_IN} GROUP BY series, ts HAVING count(*) > 1))""",
                                 bounds).fetchone()
    return held == 0 and repeated == 0


def store_samples(store: Store, batch: pa.Table, priority: Sequence[str] = ()) -> Stored:
    """Upsert `batch` (columns `COLUMNS` plus `_req`, the arrival number of each row's request) into
    `telemetry_samples` by (series, ts) under the source priority, counting overlaps; inside the caller's
    transaction. Every row is inserted, replaces a stored sample, or is dropped as an overlap (or is a
    same-source resend superseded within the batch: `batch.num_rows` minus the three counts)."""
    con = store.sql
    if not batch.num_rows:
        return Stored(0, 0, 0)
    columns = ", ".join(COLUMNS)
    con.register(_IN, batch)
    try:
        bounds = _bounds(batch)
        if _all_new(con, bounds):
            con.execute(f"INSERT INTO telemetry_samples ({columns}) SELECT {columns} FROM {_IN}")
            return Stored(batch.num_rows, 0, 0)
        _rank_rows(con, priority, bounds)
        _decide(con)
        _count_overlaps(con)
        counts = dict(con.execute(f"SELECT _act, count(*) FROM {_WIN} GROUP BY _act").fetchall())
        dropped = con.execute("SELECT count(*) FROM _em_push_lost WHERE pushed").fetchone()[0]
        if counts.get("replace"):
            con.execute("DELETE FROM telemetry_samples t USING _em_push_winners d WHERE d._act = 'replace' "
                        "AND t.series = d.series AND t.ts = d.ts AND t.ts BETWEEN $lo AND $hi", bounds)
        con.execute(f"INSERT INTO telemetry_samples ({columns}) SELECT {columns} FROM _em_push_winners "
                    "WHERE _act <> 'drop'")
    finally:
        con.unregister(_IN)
        for table in ("_em_push_ranked", _WIN, "_em_push_lost"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return Stored(int(counts.get("insert", 0)), int(counts.get("replace", 0)), int(dropped))


def overlaps(store: Store) -> list[dict[str, Any]]:
    """The overlaps counted so far, one row per (series, kept_source, dropped_source): `first_ts`,
    `last_ts` (UTC datetimes) and `samples` dropped, ordered by series and sources."""
    table = store.table("_telemetry_overlaps")
    return table.order_by(["series", "kept_source", "dropped_source"]).to_pyarrow().to_pylist()
