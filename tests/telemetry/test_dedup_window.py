"""HA-pair dedup per time window (`telemetry.dedup.store_samples` with `window`): two pipelines sending one series
at different sample times keep one stream. Hand-checked cases, and a property test against a plain-Python model
of the rules (module docstring of `telemetry.dedup`)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from test_dedup import PRIORITY, T0, _batch, _stored

from engmetrics.store import Store
from engmetrics.telemetry.counters import counter_increases
from engmetrics.telemetry.dedup import overlaps, store_samples

SERIES = 'jobs_total{job="app"}'


def _increases(store: Store) -> list[float]:
    table = store.table("telemetry_samples").select("series", "ts", "value").to_pyarrow()
    return counter_increases(table).column("increase").to_pylist()


def test_two_replicas_five_seconds_apart_keep_one_stream(store):
    """Replicas A and B (equal priority: neither is listed) scrape one counter 5 s apart; B's exporter copy
    counts from 1000. They deliver alternately, one request per scrape, A first. With a window of 60 s every B
    sample lies within 5 s of an A sample, stored before it: B is dropped, A's stream alone is stored."""
    a = [(0, 100.0), (15, 110.0), (30, 120.0), (45, 130.0)]
    b = [(5, 1000.0), (20, 1010.0), (35, 1020.0), (50, 1030.0)]
    request = 0
    results = []
    for (ta, va), (tb, vb) in zip(a, b, strict=True):
        for second, value, source in ((ta, va, "remote_write:prom-a"), (tb, vb, "remote_write:prom-b")):
            request += 1
            results.append(store_samples(store, _batch([(SERIES, second, value, source, request)]), PRIORITY, 60))
    assert [(r.inserted, r.dropped) for r in results] == [(1, 0), (0, 1)] * 4
    assert _stored(store) == {(SERIES, t): (v, "remote_write:prom-a") for t, v in a}
    # increases of A alone: 110-100, 120-110, 130-120; interleaved (100, 1000, 110, ...) would fake resets
    assert _increases(store) == [10.0, 10.0, 10.0]
    assert overlaps(store) == [{"series": SERIES, "kept_source": "remote_write:prom-a",
                                "dropped_source": "remote_write:prom-b", "first_ts": T0 + timedelta(seconds=5),
                                "last_ts": T0 + timedelta(seconds=50), "samples": 4}]


def test_without_a_window_both_streams_stay_and_fake_resets(store):
    """The same deliveries with window 0 (same ts only): nothing overlaps, the streams interleave."""
    for request, (second, value, source) in enumerate([(0, 100.0, "rw:a"), (5, 1000.0, "rw:b"), (15, 110.0, "rw:a"),
                                                       (20, 1010.0, "rw:b")], start=1):
        store_samples(store, _batch([(SERIES, second, value, source, request)]), PRIORITY, 0)
    # 100 -> 1000: +900; 1000 -> 110: a reset, +110; 110 -> 1010: +900
    assert _increases(store) == [900.0, 110.0, 900.0] and overlaps(store) == []


def test_a_higher_priority_source_evicts_the_stored_lower_one(store):
    """remote_write delivers at 5, 20, 35 s; the scrape (listed first) then delivers 0, 15, 30, 45 s in one
    batch: every stored remote_write sample is within 5 s of a scrape sample, so all 3 are evicted."""
    store_samples(store, _batch([(SERIES, t, 1000.0 + t, "remote_write:p", 1) for t in (5, 20, 35)]), PRIORITY, 60)
    result = store_samples(store, _batch([(SERIES, t, 100.0 + t, "scrape:app", 2) for t in (0, 15, 30, 45)]),
                           PRIORITY, 60)
    assert (result.inserted, result.replaced, result.dropped, result.evicted) == (4, 0, 0, 3)
    assert _stored(store) == {(SERIES, t): (100.0 + t, "scrape:app") for t in (0, 15, 30, 45)}
    assert [(o["kept_source"], o["dropped_source"], o["first_ts"], o["last_ts"], o["samples"])
            for o in overlaps(store)] == [("scrape:app", "remote_write:p", T0 + timedelta(seconds=5),
                                           T0 + timedelta(seconds=35), 3)]
    # a late remote_write sample near the scrape's is dropped; one 90 s after the last scrape sample is kept
    late = store_samples(store, _batch([(SERIES, 50, 1.0, "remote_write:p", 3), (SERIES, 135, 2.0, "remote_write:p",
                                                                                3)]), PRIORITY, 60)
    assert (late.inserted, late.dropped, late.evicted) == (1, 1, 0)


def test_a_replica_that_stops_is_replaced_by_the_other_and_does_not_take_back(store):
    """Window 15 s. A delivers 0..45 s and stops; B's 50 s lies 5 s from A's 45 s (dropped), its 65 s and 80 s lie
    20 s and more from any A sample (kept: B fills the gap). A returns at 90 s, 10 s after B's stored 80 s: at
    equal priority the stored stream wins, so A is dropped until B stops in turn."""
    store_samples(store, _batch([(SERIES, t, float(t), "otlp:a", 1) for t in (0, 15, 30, 45)]), PRIORITY, 15)
    b = store_samples(store, _batch([(SERIES, t, float(t), "otlp:b", 2) for t in (50, 65, 80)]), PRIORITY, 15)
    assert (b.inserted, b.dropped) == (2, 1)
    back = store_samples(store, _batch([(SERIES, 90, 90.0, "otlp:a", 3)]), PRIORITY, 15)
    assert (back.inserted, back.dropped) == (0, 1)
    assert sorted(t for _, t in _stored(store)) == [0, 15, 30, 45, 65, 80]
    assert [(o["kept_source"], o["dropped_source"], o["samples"]) for o in overlaps(store)] == [
        ("otlp:a", "otlp:b", 1), ("otlp:b", "otlp:a", 1)]


def test_one_batch_with_both_replicas_keeps_the_first_to_deliver(store):
    """Both replicas in one batch (B's request arrived first): B keeps the series, A's near samples are dropped;
    a resend of B's 5 s sample with the same value is unchanged, with a new value replaced."""
    result = store_samples(store, _batch([(SERIES, 5, 1.0, "otlp:b", 1), (SERIES, 0, 9.0, "otlp:a", 2),
                                          (SERIES, 20, 2.0, "otlp:b", 3), (SERIES, 15, 9.0, "otlp:a", 3)]),
                           PRIORITY, 60)
    assert (result.inserted, result.dropped, result.superseded) == (2, 2, 0)
    again = store_samples(store, _batch([(SERIES, 5, 1.0, "otlp:b", 4), (SERIES, 20, 3.0, "otlp:b", 4),
                                         (SERIES, 20, 4.0, "otlp:b", 5)]), PRIORITY, 60)
    # 5 s: same value (unchanged, part of replaced); 20 s twice: the newer (4.0) replaces, the older superseded
    assert (again.inserted, again.replaced, again.unchanged, again.superseded) == (0, 2, 1, 1)
    assert _stored(store) == {(SERIES, 5): (1.0, "otlp:b"), (SERIES, 20): (4.0, "otlp:b")}


# ---- property test: a plain-Python model of the rules ------------------------------------------------------------

Row = tuple[str, int, float, str, int]  # series, second, value, source, request
SOURCES = ["scrape:1", "remote_write:1", "remote_write:2", "otlp:1"]


def _rank(source: str) -> int:
    return next((i for i, p in enumerate(PRIORITY) if source.startswith(p)), len(PRIORITY))


def _model(stored: dict[tuple[str, int], tuple[float, str]], rows: list[Row], window: int
           ) -> tuple[dict[tuple[str, int], tuple[float, str]], int, int]:
    """The store after one batch, how many rows were dropped and how many (series, ts) were kept: a row is
    dropped when another source has a sample of its series (stored, or in the batch) at most `window` s away
    that ranks better, or ranks the same and is stored or delivered the series first in the batch; of the rest
    the newest per (series, ts) is kept; stored samples of a worse-ranked source within the window of a kept row
    are deleted."""
    first: dict[tuple[str, str], int] = {}
    for series, _, _, source, req in rows:
        first[(series, source)] = min(first.get((series, source), req), req)

    def key(series: str, source: str) -> tuple:
        return (_rank(source), first[(series, source)], source)

    def beaten(series: str, second: int, source: str) -> bool:
        near_stored = any(s == series and abs(t - second) <= window and src != source and _rank(src) <= _rank(source)
                          for (s, t), (_, src) in stored.items())
        near_batch = any(s == series and abs(t - second) <= window and src != source
                         and key(s, src) < key(series, source) for s, t, _, src, _ in rows)
        return near_stored or near_batch

    kept: dict[tuple[str, int], tuple[float, str, int, int]] = {}
    dropped = 0
    for index, (series, second, value, source, req) in enumerate(rows):
        if beaten(series, second, source):
            dropped += 1
        elif (series, second) not in kept or (req, index) > kept[(series, second)][2:]:
            kept[(series, second)] = (value, source, req, index)
    after = {k: v for k, v in stored.items()
             if not any(s == k[0] and abs(t - k[1]) <= window and _rank(src) < _rank(v[1])
                        for (s, t), (_, src, _, _) in kept.items())}
    after.update({k: (value, source) for k, (value, source, _, _) in kept.items()})
    return after, dropped, len(kept)


_rows = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 40), st.integers(0, 9),
                           st.sampled_from(SOURCES)), min_size=1, max_size=10)
_shared = Store.open("duckdb://")


@settings(max_examples=40, deadline=None)
@given(st.lists(_rows, min_size=1, max_size=4), st.sampled_from([0, 5, 20]))
def test_store_samples_follows_the_model_and_accounts_for_every_row(batches, window):
    """Requests are numbered in arrival order (a few rows each); the store equals the model after every batch,
    the dropped rows are the model's, each kept (series, ts) is inserted or replaced once, and the other rows of a
    kept (series, ts) (older same-source copies in the batch) are superseded."""
    _shared.sql.execute("DELETE FROM telemetry_samples; DELETE FROM _telemetry_overlaps")
    model: dict[tuple[str, int], tuple[float, str]] = {}
    request = 0
    for rows in batches:
        numbered: list[Row] = []
        for i, (series, second, value, source) in enumerate(rows):
            request += i % 3 == 0  # three rows a request
            numbered.append((series, second, float(value), source, request))
        model, dropped, kept = _model(model, numbered, window)
        result = store_samples(_shared, _batch(numbered), PRIORITY, window)
        assert _stored(_shared) == model
        assert (result.dropped, result.inserted + result.replaced) == (dropped, kept)
        assert result.superseded == len(numbered) - dropped - kept

