"""The series cache (`telemetry.series_cache`) and remote-write decoding with it: a series seen before gives
the same rows as a cold decode, keys stand for label bytes exactly, a failed request leaves nothing behind,
and the cache stays within its capacity."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.errors import InputError
from engmetrics.telemetry.batch import labels_json, series_key
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request
from engmetrics.telemetry.series_cache import SeriesCache


def _made(calls: list[list[int]]):
    def make(miss: np.ndarray) -> pa.Table:
        calls.append(miss.tolist())
        return pa.table({"series": [f"s{i}" for i in miss.tolist()], "labels": ["{}"] * miss.size,
                         "metric": ["m"] * miss.size})
    return make


def test_misses_are_made_once_and_rows_keep_the_order_of_the_keys():
    cache, calls = SeriesCache(capacity=10), []
    first = cache.resolve([b"a", b"b", b"c"], _made(calls))
    # b and c known (made as s1, s2 in the first call); x and y new: made as s1, s3 of the second call
    second = cache.resolve([b"c", b"x", b"b", b"y"], _made(calls))
    assert first.column("series").to_pylist() == ["s0", "s1", "s2"]
    assert second.column("series").to_pylist() == ["s2", "s1", "s1", "s3"]
    assert calls == [[0, 1, 2], [1, 3]]
    assert cache.resolve([b"y", b"a"], _made(calls)).column("series").to_pylist() == ["s3", "s0"]
    assert calls == [[0, 1, 2], [1, 3]]  # all known: nothing made


def test_none_keys_are_made_every_time_and_capacity_starts_afresh():
    cache, calls = SeriesCache(capacity=3), []
    cache.resolve([None, b"a"], _made(calls))
    cache.resolve([None, b"a"], _made(calls))
    assert calls == [[0, 1], [0]] and len(cache) == 1
    cache.resolve([b"b", b"c", b"d"], _made(calls))  # 1 + 3 > 3: a new generation holds b, c, d
    assert len(cache) == 3
    cache.resolve([b"a"], _made(calls))
    assert calls[-1] == [0]


def test_an_error_while_making_remembers_nothing():
    cache = SeriesCache()

    def failing(miss: np.ndarray) -> pa.Table:
        raise InputError("bad series")

    with pytest.raises(InputError):
        cache.resolve([b"a"], failing)
    assert len(cache) == 0


def test_a_failed_remote_write_request_leaves_no_series_behind():
    cache = SeriesCache()
    body = encode_write_request([({"__name__": "ok", "job": "a"}, [(1.0, 1)]), ({"job": "b"}, [(1.0, 1)])])
    with pytest.raises(InputError, match="timeseries 1: needs exactly one non-empty __name__"):
        decode_write_request(body, cache=cache)
    assert len(cache) == 0


def test_the_series_numbers_in_errors_are_the_requests_even_when_others_are_cached():
    cache = SeriesCache()
    known = ({"__name__": "up", "job": "a"}, [(1.0, 1)])
    decode_write_request(encode_write_request([known]), cache=cache)
    with pytest.raises(InputError, match="timeseries 2: needs exactly one non-empty __name__"):
        decode_write_request(encode_write_request([known, known, ({"job": "x"}, [(1.0, 1)])]), cache=cache)


def test_concurrent_decodes_agree_with_a_cold_decode():
    bodies = [encode_write_request([({"__name__": f"m{i % 7}", "k": str(i % 11 + t)}, [(float(i), 1000 + t)])
                                    for i in range(300)]) for t in range(6)]
    expected = [decode_write_request(b, cache=SeriesCache()).samples for b in bodies]
    cache, failures = SeriesCache(capacity=500), []

    def work(k: int) -> None:
        for j in range(12):
            n = (k + j) % len(bodies)
            if not decode_write_request(bodies[n], cache=cache).samples.equals(expected[n]):
                failures.append(n)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(cache) <= 500


_labels = st.dictionaries(st.sampled_from(["job", "a", "zone", "i"]), st.text(max_size=5), max_size=3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["up", "x:y"]), _labels), min_size=1, max_size=8),
       st.lists(st.integers(0, 7), min_size=1, max_size=8))
def test_warm_decodes_equal_the_reference_texts(first, picks):
    """A second request mixing known and new series gives each the texts `series_key`/`labels_json` give."""
    cache = SeriesCache(capacity=6)  # small: some runs start a new generation midway
    decode_write_request(encode_write_request([({"__name__": m, **labels}, [(1.0, 5)]) for m, labels in first]),
                         cache=cache)
    second = [first[i % len(first)] if i % 2 else ("new", {"n": str(i)}) for i in picks]
    t = decode_write_request(encode_write_request([({"__name__": m, **labels}, [(2.0, 6)]) for m, labels in second]),
                             cache=cache).samples
    assert t.column("series").to_pylist() == [series_key(m, labels) for m, labels in second]
    assert t.column("labels").to_pylist() == [labels_json(labels) for _, labels in second]
    assert t.column("metric").to_pylist() == [m for m, _ in second]
