"""Budget maths: hand-computed numbers for each OpenSLO budgeting method on small tables."""

from __future__ import annotations

import doctest
import math
from datetime import UTC, datetime, timedelta

import ibis
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.slo import budget
from engmetrics.slo.budget import slice_seconds
from engmetrics.slo.engine import error_budget, objective_budget
from engmetrics.slo.openslo import SLO
from engmetrics.slo.sources import sli_events_source
from engmetrics.store import Store

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
WINDOW = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 1, 2, tzinfo=UTC)}


def _at(minutes: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _events(rows: list[tuple[datetime, float, float]]) -> ibis.Table:
    """An in-memory `(ts, good, total)` table with a UTC timestamp column."""
    return ibis.memtable(pa.table({
        "ts": pa.array([r[0] for r in rows], pa.timestamp("us", tz="UTC")),
        "good": pa.array([r[1] for r in rows], pa.float64()),
        "total": pa.array([r[2] for r in rows], pa.float64()),
    }))


# One minute of heavy, perfect traffic, then a small minute at 50 % and a small perfect minute.
MIXED = [(_at(0), 1000, 1000), (_at(1), 5, 10), (_at(2), 10, 10)]


def test_doctests():
    assert doctest.testmod(budget).failed == 0


def test_occurrences_hand_computed():
    r = error_budget(_events(MIXED), method="Occurrences", target=0.99, **WINDOW)
    assert (r.good, r.total, r.bad) == (1015, 1020, 5)
    assert r.sli == pytest.approx(1015 / 1020)
    assert r.budget_total == pytest.approx(10.2)  # (1 - 0.99) x 1020 events
    assert r.budget_consumed == 5
    assert r.budget_remaining == pytest.approx(1 - 5 / 10.2)  # 0.5098
    assert not r.no_data and r.slices is None and r.good_slices is None


def test_timeslices_and_occurrences_disagree_on_the_same_data():
    occ = error_budget(_events(MIXED), method="Occurrences", target=0.99, **WINDOW)
    ts = error_budget(_events(MIXED), method="Timeslices", target=0.99, time_slice_target=0.99,
                      time_slice_window="1m", **WINDOW)
    assert occ.sli >= 0.99 and occ.budget_remaining > 0  # events: the SLO is met
    assert (ts.slices, ts.good_slices) == (3, 2)  # the 5/10 minute is a bad slice
    assert ts.sli == pytest.approx(2 / 3)
    assert ts.budget_total == pytest.approx(0.03)  # (1 - 0.99) x 3 slices
    assert ts.budget_consumed == 1
    assert ts.budget_remaining == pytest.approx(1 - 1 / 0.03)  # -32.33: slices: badly missed
    assert (ts.good, ts.total) == (1015, 1020)


def test_ratio_timeslices_hand_computed():
    r = error_budget(_events(MIXED), method="RatioTimeslices", target=0.99, time_slice_window="1m", **WINDOW)
    assert r.slices == 3 and r.good_slices is None
    assert r.sli == pytest.approx((1 + 0.5 + 1) / 3)  # mean of per-slice ratios, not 1015/1020
    assert r.budget_total == pytest.approx(0.03)
    assert r.budget_consumed == pytest.approx(0.5)  # sum of per-slice error ratios
    assert r.budget_remaining == pytest.approx(1 - (1 / 6) / 0.01)  # -15.67


def test_negative_remaining_budget_occurrences():
    r = error_budget(_events([(_at(0), 95, 100)]), method="Occurrences", target=0.99, **WINDOW)
    assert r.budget_total == pytest.approx(1.0)
    assert r.budget_consumed == 5
    assert r.budget_remaining == pytest.approx(-4.0)


def test_slice_exactly_at_time_slice_target_is_good():
    rows = [(_at(0), 99, 100), (_at(1), 19, 20), (_at(2), 989, 1000)]
    r = error_budget(_events(rows), method="Timeslices", target=0.5, time_slice_target=0.99,
                     time_slice_window="1m", **WINDOW)
    assert (r.slices, r.good_slices) == (3, 1)  # 99/100 == 0.99 good; 19/20 and 989/1000 bad
    r = error_budget(_events(rows[1:2]), method="Timeslices", target=0.5, time_slice_target=0.95,
                     time_slice_window="1m", **WINDOW)
    assert r.good_slices == 1  # 19/20 == 0.95 exactly


def test_finer_buckets_are_aggregated_to_the_slice_before_the_ratio():
    rows = [(_at(0), 50, 50), (_at(0.5), 49, 50)]  # two 30 s buckets: 99/100 for the minute
    r = error_budget(_events(rows), method="Timeslices", target=0.5, time_slice_target=0.99,
                     time_slice_window="1m", **WINDOW)
    assert (r.slices, r.good_slices) == (1, 1)
    r = error_budget(_events(rows), method="RatioTimeslices", target=0.5, time_slice_window="1m", **WINDOW)
    assert r.slices == 1 and r.sli == pytest.approx(0.99)


def test_multi_unit_slice_width():
    rows = [(_at(0), 10, 10), (_at(4), 0, 10), (_at(5), 10, 10)]
    r = error_budget(_events(rows), method="Timeslices", target=0.5, time_slice_target=0.9,
                     time_slice_window="5m", **WINDOW)
    assert (r.slices, r.good_slices) == (2, 1)  # [10:00, 10:05) is 10/20; [10:05, 10:10) is 10/10
    one_minute = error_budget(_events(rows), method="Timeslices", target=0.5, time_slice_target=0.9,
                              time_slice_window="1m", **WINDOW)
    assert (one_minute.slices, one_minute.good_slices) == (3, 2)
    sixty_seconds = error_budget(_events(rows), method="Timeslices", target=0.5, time_slice_target=0.9,
                                 time_slice_window="60s", **WINDOW)
    assert (sixty_seconds.slices, sixty_seconds.good_slices) == (3, 2)  # epoch path equals truncate path


def test_slices_without_events_are_not_counted():
    rows = [(_at(0), 10, 10), (_at(10), 0, 0), (_at(20), 0, 10)]  # 10:01-10:19 absent, 10:10 zero traffic
    r = error_budget(_events(rows), method="Timeslices", target=0.9, time_slice_target=0.9,
                     time_slice_window="1m", **WINDOW)
    assert (r.slices, r.good_slices) == (2, 1)
    assert r.budget_total == pytest.approx(0.2)
    r = error_budget(_events(rows), method="RatioTimeslices", target=0.9, time_slice_window="1m", **WINDOW)
    assert r.slices == 2 and r.sli == pytest.approx(0.5)


@pytest.mark.parametrize("method", ["Occurrences", "Timeslices", "RatioTimeslices"])
@pytest.mark.parametrize("rows", [
    [],
    [(_at(0), 0, 0), (_at(1), 0, 0)],  # buckets without events
    [(datetime(2026, 1, 2, tzinfo=UTC), 5, 10)],  # only at `end`, outside [start, end)
], ids=["no-rows", "zero-traffic", "outside-window"])
def test_empty_window_is_no_data(method, rows):
    r = error_budget(_events(rows), method=method, target=0.99, time_slice_target=0.9,
                     time_slice_window="1m", **WINDOW)
    assert r.no_data
    assert r.sli is None and r.budget_consumed is None and r.budget_remaining is None
    assert r.budget_total == 0 and r.total == 0


def test_window_is_half_open():
    rows = [(WINDOW["start"], 1, 2), (WINDOW["end"] - timedelta(seconds=1), 3, 4), (WINDOW["end"], 100, 100)]
    r = error_budget(_events(rows), method="Occurrences", target=0.9, **WINDOW)
    assert (r.good, r.total) == (4, 6)


def test_naive_window_bounds_are_utc():
    naive = {k: v.replace(tzinfo=None) for k, v in WINDOW.items()}
    r = error_budget(_events(MIXED), method="Occurrences", target=0.99, **naive)
    assert r.total == 1020


def test_store_source_and_reference_objective(shared_data):
    doc = yaml.safe_load((shared_data / "openslo/budgeting-method/timeslices-slo.yaml").read_text())
    slo = SLO.model_validate(doc)
    internal, sla = slo.spec.objectives  # target 0.995 and 0.99, both timeSliceTarget 0.99 over 1m
    with Store.open("duckdb://") as store:
        rows = [("web", "availability", _at(i), 100 if i % 50 else 98, 100) for i in range(200)]
        store.sql.executemany("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)", rows)
        events = sli_events_source(store, "web", "availability", unit="minute", **WINDOW)
        results = [objective_budget(events, o, slo.spec.budgetingMethod, **WINDOW) for o in (internal, sla)]
    for r in results:
        assert (r.slices, r.good_slices) == (200, 196)  # minutes 0, 50, 100, 150 at 0.98 are bad
        assert r.sli == pytest.approx(0.98)
        assert r.budget_consumed == 4
    assert results[0].budget_total == pytest.approx(1.0)  # (1 - 0.995) x 200
    assert results[0].budget_remaining == pytest.approx(-3.0)
    assert results[1].budget_total == pytest.approx(2.0)
    assert results[1].budget_remaining == pytest.approx(-1.0)


def test_reference_ratio_timeslices_objective(shared_data):
    doc = yaml.safe_load((shared_data / "openslo/budgeting-method/ratio-timeslices.yaml").read_text())
    slo = SLO.model_validate(doc)
    rows = [(_at(i), 995, 1000) for i in range(4)]  # every minute at 0.995, target 0.99
    r = objective_budget(_events(rows), slo.spec.objectives[0], slo.spec.budgetingMethod, **WINDOW)
    assert r.sli == pytest.approx(0.995)
    assert r.budget_remaining == pytest.approx(0.5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "Timeslices", "time_slice_window": "1m"}, "timeSliceTarget"),
    ({"method": "Timeslices", "time_slice_target": 0.9}, "timeSliceWindow"),
    ({"method": "RatioTimeslices"}, "timeSliceWindow"),
    ({"method": "RatioTimeslices", "time_slice_window": "1M"}, "time slice window"),
    ({"method": "Timeslices", "time_slice_window": "1m", "time_slice_target": 1.5}, "timeSliceTarget"),
    ({"method": "Occurrences", "target": 1.0}, "target"),
    ({"method": "Daily"}, "budgeting method"),
])
def test_invalid_arguments(kwargs, message):
    kwargs = {"target": 0.99, **kwargs}
    with pytest.raises(ValueError, match=message):
        error_budget(_events(MIXED), **WINDOW, **kwargs)


def test_empty_window_bounds_refused():
    with pytest.raises(ValueError, match="empty"):
        error_budget(_events(MIXED), method="Occurrences", target=0.9, start=T0, end=T0)


def test_slice_seconds():
    assert [slice_seconds(d) for d in ("30s", "1m", "5m", "1h", "1d", "1w")] == [30, 60, 300, 3600, 86400, 604800]
    for bad in ("0m", "1M", "1Q", "m", "1.5m"):
        with pytest.raises(ValueError):
            slice_seconds(bad)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    buckets=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=6),
    extra_bad=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 50)), min_size=1, max_size=4),
    target=st.sampled_from([0.9, 0.99, 0.995, 0.999]),
)
def test_occurrences_remaining_never_rises_as_bad_events_are_added(buckets, extra_bad, target):
    counts = [[min(a, b), max(a, b) or 1] for a, b in buckets]  # good <= total, total > 0

    def remaining() -> float:
        rows = [(_at(i), g, n) for i, (g, n) in enumerate(counts)]
        r = error_budget(_events(rows), method="Occurrences", target=target, **WINDOW)
        assert r.budget_remaining is not None and math.isfinite(r.budget_remaining)
        return r.budget_remaining

    previous = remaining()
    for index, bad in extra_bad:
        counts[index % len(counts)][1] += bad  # bad events: total grows, good does not
        current = remaining()
        assert current <= previous + 1e-12
        previous = current


def test_a_slice_cut_by_the_window_start_is_left_out():
    # 5-minute slices; the window starts at 10:02, inside the slice 10:00-10:05: that slice (bad events at
    # 10:02 and 10:03) is not counted; the slice 10:05-10:10 is; the window's `good`/`total` are its slices'
    rows = [(_at(2), 0, 10), (_at(3), 0, 10), (_at(5), 10, 10)]
    r = error_budget(_events(rows), method="Timeslices", target=0.5, time_slice_target=0.9, time_slice_window="5m",
                     start=_at(2), end=_at(60))
    assert (r.slices, r.good_slices, r.total) == (1, 1, 10)
