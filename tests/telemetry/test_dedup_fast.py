"""The fast path of `telemetry.dedup.store_samples` (one source, new (series, ts), no other source near: one plain
insert) is exact. Hand-checked cases at the edges of the ranges its checks read (a stored (series, ts) is looked
for within the batch's own time range, another source within that range widened by the window and then on the
batch's metrics), and a property
test of its decision against a plain-Python definition and of the store against the model of
test_dedup_window.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dedup import PRIORITY, _batch, _stored
from test_dedup_window import SOURCES, _model

from engmetrics.store import Store
from engmetrics.telemetry import dedup
from engmetrics.telemetry.dedup import overlaps, store_samples

# The dedup is the telemetry write path (DuckDB's transaction, temp tables and upsert: writes may be
# engine-specific, DESIGN.md), not a store calculation: no PySpark run.
pytestmark = pytest.mark.duckdb_only

A, B, C = 'up{job="a"}', 'up{job="b"}', 'down{job="a"}'


def test_stored_samples_at_both_ends_of_the_batch_are_replaced_not_duplicated(store):
    store_samples(store, _batch([(A, 10, 1.0, "remote_write:1", 1), (A, 30, 3.0, "remote_write:1", 1)]), PRIORITY)
    again = store_samples(store, _batch([(A, 10, 2.0, "remote_write:1", 2), (A, 20, 2.0, "remote_write:1", 2),
                                         (A, 30, 5.0, "remote_write:1", 2)]), PRIORITY)
    # 10 s and 30 s are the batch's first and last ts and stored: replaced (2); 20 s is new (1)
    assert (again.inserted, again.replaced, again.dropped) == (1, 2, 0)
    assert _stored(store) == {(A, 10): (2.0, "remote_write:1"), (A, 20): (2.0, "remote_write:1"),
                              (A, 30): (5.0, "remote_write:1")}
    assert store.sql.execute("SELECT count(*) FROM telemetry_samples").fetchone()[0] == 3


def test_another_source_exactly_one_window_away_is_near_and_one_second_more_is_not(store):
    store_samples(store, _batch([(A, 0, 1.0, "remote_write:2", 1)]), PRIORITY, 20)
    # 20 s after the stored sample of remote_write:2, equal priority: the stored source keeps the series
    near = store_samples(store, _batch([(A, 20, 2.0, "remote_write:1", 2)]), PRIORITY, 20)
    # 41 s: 21 s from every stored sample of the series (0 s; 20 s was dropped): a new sample
    far = store_samples(store, _batch([(A, 41, 3.0, "remote_write:1", 3)]), PRIORITY, 20)
    assert (near.inserted, near.dropped, far.inserted, far.dropped) == (0, 1, 1, 0)
    assert _stored(store) == {(A, 0): (1.0, "remote_write:2"), (A, 41): (3.0, "remote_write:1")}
    assert [(o["kept_source"], o["dropped_source"], o["samples"]) for o in overlaps(store)] == [
        ("remote_write:2", "remote_write:1", 1)]


def test_another_source_near_in_time_on_another_series_is_no_overlap(store):
    store_samples(store, _batch([(B, 0, 1.0, "otlp:1", 1)]), PRIORITY)
    result = store_samples(store, _batch([(A, 0, 2.0, "remote_write:1", 2), (A, 5, 2.0, "remote_write:1", 2)]),
                           PRIORITY)
    assert (result.inserted, result.dropped) == (2, 0)
    assert overlaps(store) == []


def _decided(store: Store, batch, window: float) -> bool:
    """The fast path's decision for `batch` (registered as `store_samples` does)."""
    store.sql.register(dedup._IN, batch)
    try:
        return dedup._all_new(store.sql, batch, dedup._params(batch, window))
    finally:
        store.sql.unregister(dedup._IN)


def test_another_source_near_on_another_metric_only_takes_the_fast_path(store):
    store_samples(store, _batch([(C, 0, 1.0, "otlp:1", 1)]), PRIORITY)
    # otlp:1 is near in time, but only on metric `down`: no series of the batch can be its
    assert _decided(store, _batch([(A, 5, 2.0, "remote_write:1", 2)]), 60)
    store_samples(store, _batch([(B, 0, 1.0, "otlp:1", 3)]), PRIORITY)
    # now on metric `up` too, another series: checked series by series, still all new
    assert _decided(store, _batch([(A, 5, 2.0, "remote_write:1", 4)]), 60)
    store_samples(store, _batch([(A, 0, 1.0, "otlp:1", 5)]), PRIORITY)
    assert not _decided(store, _batch([(A, 5, 2.0, "remote_write:1", 6)]), 60)


Row = tuple[str, int, float, str, int]


def _all_new_by_definition(stored: dict[tuple[str, int], tuple[float, str]], rows: list[Row], window: int) -> bool:
    """No (series, ts) twice in the batch or already stored, one source, and per series no stored sample of
    another source from the batch's first ts of the series minus the window to its last plus the window."""
    keys = [(series, second) for series, second, *_ in rows]
    if len(set(keys)) < len(keys) or any(k in stored for k in keys) or len({r[3] for r in rows}) > 1:
        return False
    spans = {s: (min(t for x, t, *_ in rows if x == s), max(t for x, t, *_ in rows if x == s)) for s, *_ in rows}
    return not any(s in spans and src != rows[0][3] and spans[s][0] - window <= t <= spans[s][1] + window
                   for (s, t), (_, src) in stored.items())


_shared = Store.open("duckdb://")
_one_source = st.tuples(st.sampled_from(SOURCES), st.lists(st.tuples(st.sampled_from([A, B, C]), st.integers(0, 60),
                                                                   st.integers(0, 9)), min_size=1, max_size=8))


@settings(max_examples=60, deadline=None)
@given(st.lists(_one_source, min_size=1, max_size=4), st.sampled_from([0, 5, 20]))
def test_the_fast_path_is_taken_exactly_when_all_is_new_and_the_store_follows_the_model(batches, window):
    """Batches of one source each (the receivers' common case): the fast path's decision equals the definition,
    and after every batch the store equals the rules' model."""
    _shared.sql.execute("DELETE FROM telemetry_samples; DELETE FROM _telemetry_overlaps")
    model: dict[tuple[str, int], tuple[float, str]] = {}
    for request, (source, samples) in enumerate(batches, start=1):
        rows: list[Row] = [(series, second, float(value), source, request) for series, second, value in samples]
        batch = _batch(rows)
        assert _decided(_shared, batch, window) == _all_new_by_definition(model, rows, window)
        model, dropped, _ = _model(model, rows, window)
        result = store_samples(_shared, batch, PRIORITY, window)
        assert _stored(_shared) == model
        assert result.dropped == dropped
