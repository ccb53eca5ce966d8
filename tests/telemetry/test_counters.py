"""Counter increases with resets and histogram good/total, hand-checked; invariants as properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.errors import InputError
from engmetrics.telemetry.counters import counter_increases, histogram_good_total, histogram_total, le_bound

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _batch(rows: list[tuple[str, int, float]], metric: str = "m", labels: str = "{}") -> pa.Table:
    """Rows of (series, seconds after T0, value)."""
    return pa.table({
        "series": [r[0] for r in rows], "ts": pa.array([T0 + timedelta(seconds=r[1]) for r in rows],
                                                      pa.timestamp("us", tz="UTC")),
        "metric": [metric] * len(rows), "labels": [labels] * len(rows), "value": [float(r[2]) for r in rows],
    })


def test_increases_with_a_reset_per_series_in_any_order():
    batch = _batch([("b", 60, 4), ("a", 120, 2), ("a", 0, 5), ("b", 0, 1), ("a", 60, 8), ("a", 180, 6),
                    ("a", 240, 6)])
    t = counter_increases(batch)
    # a: 5 -> 8 (+3), 8 -> 2 is a reset (+2), 2 -> 6 (+4), 6 -> 6 (+0); b: 1 -> 4 (+3)
    assert t.column("series").to_pylist() == ["a", "a", "a", "a", "b"]
    assert t.column("increase").to_pylist() == [3.0, 2.0, 4.0, 0.0, 3.0]
    assert [ts - T0 for ts in t.column("ts").to_pylist()] == [timedelta(seconds=s) for s in (60, 120, 180, 240, 60)]


def test_increases_summed_per_bucket():
    batch = _batch([("a", 0, 5), ("a", 60, 8), ("a", 120, 2), ("a", 180, 6), ("a", 240, 6), ("b", 0, 1),
                    ("b", 60, 4)])
    t = counter_increases(batch, every=timedelta(minutes=2))
    # a's increases at 60 s (+3) | 120 s (+2) and 180 s (+4) | 240 s (+0) fall in buckets 0, 120 and 240 s
    assert t.to_pylist() == [
        {"series": "a", "ts": T0, "increase": 3.0},
        {"series": "a", "ts": T0 + timedelta(seconds=120), "increase": 6.0},
        {"series": "a", "ts": T0 + timedelta(seconds=240), "increase": 0.0},
        {"series": "b", "ts": T0, "increase": 3.0},
    ]


def test_empty_and_single_sample_batches():
    assert counter_increases(_batch([])).num_rows == 0
    assert counter_increases(_batch([("a", 0, 1)]), every=timedelta(minutes=1)).num_rows == 0


@pytest.mark.parametrize(("rows", "every", "message"), [
    ([("a", 0, 1), ("a", 0, 2)], None, "counter series a: two samples at"),
    ([("a", 0, 1), ("a", 60, float("nan"))], None, "counter series a: NaN value"),
    ([("a", 0, 1)], timedelta(0), "must be positive"),
])
def test_bad_counter_input(rows, every, message):
    with pytest.raises(InputError, match=message):
        counter_increases(_batch(rows), every=every)


def test_a_batch_without_the_columns_is_refused():
    with pytest.raises(InputError, match="lacks column"):
        counter_increases(pa.table({"series": ["a"], "value": [1.0]}))


def _histogram() -> pa.Table:
    """Two pods of `lat`; pod x writes le="1.0", pod y le="1" (the same bound)."""
    x, y = '{"le": "%s", "pod": "x"}', '{"le": "%s", "pod": "y"}'
    parts = []
    for le, values_x, values_y in (("0.5", (1, 4, 6), (0, 2, 1)), ("1", (2, 7, 10), (0, 3, 2)),
                                   ("+Inf", (3, 9, 13), (1, 4, 3))):
        le_x = "1.0" if le == "1" else le
        parts.append(_batch([(f"lat_bucket{{x,{le_x}}}", 60 * i, v) for i, v in enumerate(values_x)],
                            "lat_bucket", x % le_x))
        parts.append(_batch([(f"lat_bucket{{y,{le}}}", 60 * i, v) for i, v in enumerate(values_y)],
                            "lat_bucket", y % le))
    parts.append(_batch([("lat_count{x}", 60 * i, v) for i, v in enumerate((3, 9, 13))], "lat_count"))
    parts.append(_batch([("lat_count{y}", 60 * i, v) for i, v in enumerate((1, 4, 3))], "lat_count"))
    return pa.concat_tables(parts)


def test_histogram_good_total_at_a_bound():
    t = histogram_good_total(_histogram(), "lat", 1.0, timedelta(minutes=1))
    # good (le=1): x 2 -> 7 -> 10 gives +5, +3; y 0 -> 3 -> 2 gives +3, then a reset: +2
    # total (count): x 3 -> 9 -> 13 gives +6, +4; y 1 -> 4 -> 3 gives +3, reset: +3
    assert t.to_pylist() == [
        {"ts": T0 + timedelta(seconds=60), "good": 8.0, "total": 9.0},
        {"ts": T0 + timedelta(seconds=120), "good": 5.0, "total": 7.0},
    ]
    wide = histogram_good_total(_histogram(), "lat", 0.5, timedelta(hours=1))
    # good (le=0.5): x +3, +2; y +2, reset +1 -> 8 in the one hour bucket; total 6 + 4 + 3 + 3 = 16
    assert wide.to_pylist() == [{"ts": T0, "good": 8.0, "total": 16.0}]


def test_histogram_threshold_not_a_bound_names_the_bounds():
    with pytest.raises(InputError, match=r"no bucket with le=0.75; the bucket bounds are: 0.5, 1, inf"):
        histogram_good_total(_histogram(), "lat", 0.75, timedelta(minutes=1))
    finite = _histogram().filter(pa.compute.invert(pa.compute.match_substring(pa.compute.field("labels"), "Inf")))
    no_count = finite.filter(pa.compute.equal(pa.compute.field("metric"), "lat_bucket"))
    with pytest.raises(InputError, match='no le="\\+Inf" bucket and no lat_count series for the total'):
        histogram_good_total(no_count, "lat", 1.0, timedelta(minutes=1))


def _total_rule_histogram(infinite: str | None, with_count: bool) -> pa.Table:
    """le="1.0" rises 5, 3; the +Inf bucket (spelled `infinite`) 10, 2; `_count` 11, 3 (deliberately not equal
    to +Inf, to see which one counts)."""
    parts = [_batch([("b1", 60 * i, v) for i, v in enumerate((0, 5, 8))], "lat_bucket", '{"le": "1.0"}')]
    if infinite:
        parts.append(_batch([("bi", 60 * i, v) for i, v in enumerate((0, 10, 12))], "lat_bucket",
                            f'{{"le": "{infinite}"}}'))
    if with_count:
        parts.append(_batch([("c", 60 * i, v) for i, v in enumerate((0, 11, 14))], "lat_count"))
    return pa.concat_tables(parts)


@pytest.mark.parametrize(("infinite", "with_count", "totals"), [
    ("+Inf", True, [10.0, 2.0]),   # the +Inf bucket wins over _count
    ("Inf", True, [10.0, 2.0]),    # another spelling of the same bound
    ("+Inf", False, [10.0, 2.0]),
    (None, True, [11.0, 3.0]),     # no +Inf bucket: _count
])
def test_histogram_total_is_the_inf_bucket_else_count(infinite, with_count, totals):
    t = histogram_good_total(_total_rule_histogram(infinite, with_count), "lat", 1, timedelta(minutes=1))
    assert t.column("good").to_pylist() == [5.0, 3.0] and t.column("total").to_pylist() == totals


@pytest.mark.parametrize(("text", "bound"), [("1", 1.0), ("1.0", 1.0), ("1e0", 1.0), (" 0.25 ", 0.25),
                                             ("+Inf", float("inf")), ("Inf", float("inf")), ("inf", float("inf")),
                                             ("NaN", None), ("slow", None), ("", None), (None, None)])
def test_le_bound(text, bound):
    assert le_bound(text) == bound


def test_histogram_total_rule():
    assert [histogram_total(i, c) for i, c in ((True, True), (True, False), (False, True), (False, False))] == [
        "+Inf", "+Inf", "_count", None]


_steps = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(start=st.floats(min_value=0, max_value=1e6), steps=_steps)
def test_without_resets_increases_add_up_to_last_minus_first(start, steps):
    values = start + np.cumsum([0.0, *steps])  # never decreasing: no reset
    t = counter_increases(_batch([("a", 15 * i, v) for i, v in enumerate(values)]), every=timedelta(minutes=1))
    assert sum(t.column("increase").to_pylist()) == pytest.approx(values[-1] - values[0], rel=1e-9, abs=1e-6)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(min_value=0, max_value=1e9)), max_size=60))
def test_increases_are_never_negative(samples):
    t = counter_increases(_batch([(s, i, v) for i, (s, v) in enumerate(samples)]))
    assert all(x >= 0 for x in t.column("increase").to_pylist())
    per_series = {s: sum(1 for x, _ in samples if x == s) for s, _ in samples}
    assert t.num_rows == sum(n - 1 for n in per_series.values())
