"""Dedup across pipelines at the same ts (window 0): one (series, ts) kept once by source priority, overlaps
counted (hand-checked), the time window (HA pairs) and a property test against a model of the rules are in
test_dedup_window.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from engmetrics.store import Store
from engmetrics.telemetry.dedup import overlaps, rank_sql, store_samples

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _batch(rows: list[tuple[str, int, float, str, int]]) -> pa.Table:
    """rows: (series, second, value, source, request number)."""
    return pa.table({
        "series": [r[0] for r in rows], "ts": pa.array([T0 + timedelta(seconds=r[1]) for r in rows],
                                                       pa.timestamp("us", "UTC")),
        "metric": [r[0].split("{")[0] for r in rows], "labels": ["{}"] * len(rows),
        "value": pa.array([r[2] for r in rows], pa.float64()), "source": [r[3] for r in rows],
        "received_at": pa.array([T0] * len(rows), pa.timestamp("us", "UTC")),
        "_req": pa.array([r[4] for r in rows], pa.int64()),
    })


def _stored(store: Store) -> dict[tuple[str, int], tuple[float, str]]:
    rows = store.sql.execute("SELECT series, epoch(ts)::BIGINT, value, source FROM telemetry_samples").fetchall()
    return {(s, int(t - T0.timestamp())): (v, src) for s, t, v, src in rows}


PRIORITY = ["scrape:", "remote_write:"]


def test_lower_priority_is_dropped_and_counted(store):
    first = store_samples(store, _batch([("up", 0, 1.0, "scrape:a", 1), ("up", 15, 1.0, "scrape:a", 1)]), PRIORITY, 0)
    assert (first.inserted, first.replaced, first.dropped) == (2, 0, 0)
    # the remote-write copy of both samples, plus one sample only it has
    second = store_samples(store, _batch([("up", 0, 9.0, "remote_write:p", 2), ("up", 15, 9.0, "remote_write:p", 2),
                                          ("up", 30, 9.0, "remote_write:p", 2)]), PRIORITY, 0)
    assert (second.inserted, second.replaced, second.dropped) == (1, 0, 2)
    assert _stored(store) == {("up", 0): (1.0, "scrape:a"), ("up", 15): (1.0, "scrape:a"),
                              ("up", 30): (9.0, "remote_write:p")}
    assert overlaps(store) == [{"series": "up", "kept_source": "scrape:a", "dropped_source": "remote_write:p",
                                "first_ts": T0, "last_ts": T0 + timedelta(seconds=15), "samples": 2}]


def test_higher_priority_replaces_and_same_source_updates(store):
    store_samples(store, _batch([("up", 0, 9.0, "remote_write:p", 1), ("up", 15, 9.0, "remote_write:p", 1)]),
                  PRIORITY, 0)
    result = store_samples(store, _batch([("up", 0, 1.0, "scrape:a", 2)]), PRIORITY, 0)
    assert (result.inserted, result.replaced, result.dropped) == (0, 1, 0)
    resend = store_samples(store, _batch([("up", 15, 7.0, "remote_write:p", 3)]), PRIORITY, 0)
    assert (resend.inserted, resend.replaced, resend.dropped) == (0, 1, 0)
    assert _stored(store) == {("up", 0): (1.0, "scrape:a"), ("up", 15): (7.0, "remote_write:p")}
    assert [(o["kept_source"], o["dropped_source"], o["samples"]) for o in overlaps(store)] == [
        ("scrape:a", "remote_write:p", 1)]


def test_ties_keep_the_first_source_within_and_across_batches(store):
    # otlp:x and otlp:y both rank last (unlisted); x delivered first in the batch, so x is kept
    result = store_samples(store, _batch([("m", 0, 1.0, "otlp:x", 1), ("m", 0, 2.0, "otlp:y", 2),
                                          ("m", 0, 3.0, "otlp:x", 3)]), PRIORITY, 0)
    assert (result.inserted, result.replaced, result.dropped) == (1, 0, 1)
    assert _stored(store) == {("m", 0): (3.0, "otlp:x")}  # x's newest value
    later = store_samples(store, _batch([("m", 0, 5.0, "otlp:y", 4)]), PRIORITY, 0)
    assert (later.inserted, later.replaced, later.dropped) == (0, 0, 1)
    assert [(o["kept_source"], o["dropped_source"], o["samples"]) for o in overlaps(store)] == [
        ("otlp:x", "otlp:y", 2)]


def test_rank_sql_without_priority_ranks_everything_equal():
    assert rank_sql("source", []) == "0"
