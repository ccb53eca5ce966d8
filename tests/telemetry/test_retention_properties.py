"""Properties: retention keeps sum, count, min and max exact over every window aligned to the coarsest resolution,
across raw, 5m and 1h tiers; with late samples (after the horizon) between any sequence of applies, the total
sum, count and counter increase of each series equal the raw truth (the expected figures are computed here in
plain Python from the generated samples)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.store import Store
from engmetrics.telemetry.horizon import horizon
from engmetrics.telemetry.retention import read_series, run_retention
from engmetrics.telemetry.retention_policy import DatasetRetention, RetentionPolicy, Rollup

START = datetime(2026, 3, 1, tzinfo=UTC)
HOURS = 12
POLICY = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="2h", rollups=[
    Rollup(resolution="5m", keep="5h"), Rollup(resolution="1h", keep="400d")])})

samples = st.lists(st.tuples(st.integers(0, HOURS * 3600 - 1), st.integers(-1000, 1000)), min_size=1, max_size=60,
                   unique_by=lambda s: s[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples=samples, as_of_hours=st.integers(0, HOURS + 6), twice=st.booleans())
def test_sums_exact_across_tiers(samples, as_of_hours, twice):
    with Store.open("duckdb://") as store:
        store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES ('s', ?, 'm', ?)",
                              [[START + timedelta(seconds=sec), float(v)] for sec, v in samples])
        as_of = START + timedelta(hours=as_of_hours, minutes=17)
        for _ in range(2 if twice else 1):
            run_retention(store, POLICY, as_of, apply=True)
        rows = read_series(store, "s", START, START + timedelta(hours=HOURS)).to_pyarrow().to_pylist()
        assert store.count("telemetry_samples") + store.count("_telemetry_rollups") <= len(samples)
    for first in range(HOURS):
        for last in range(first + 1, HOURS + 1):
            lo, hi = START + timedelta(hours=first), START + timedelta(hours=last)
            expected = [v for sec, v in samples if first * 3600 <= sec < last * 3600]
            got = [r for r in rows if lo <= r["ts"] < hi]
            assert sum(r["count"] for r in got) == len(expected)
            assert sum(r["sum"] for r in got) == sum(expected)
            if expected:
                assert min(r["min"] for r in got) == min(expected) and max(r["max"] for r in got) == max(expected)


def increase_truth(values: list[float]) -> float:
    """Prometheus-style increase of a counter's values in time order: rises, and the new value after a drop."""
    return sum(b if b < a else b - a for a, b in itertools.pairwise(values))


def test_increase_truth_by_hand():
    assert increase_truth([5, 8, 2, 6]) == 3 + 2 + 4 and increase_truth([7]) == 0


point = st.tuples(st.sampled_from("st"), st.integers(0, HOURS * 3600 - 1), st.integers(0, 50))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.lists(point, min_size=1, max_size=40, unique_by=lambda p: p[:2]),
       runs=st.lists(st.tuples(st.integers(0, HOURS + 6), st.lists(point, max_size=8)), min_size=1, max_size=4))
def test_late_samples_and_any_applies_keep_totals_exact(first, runs):
    kept = {(name, sec): value for name, sec, value in first}
    with Store.open("duckdb://") as store:
        insert = "INSERT INTO telemetry_samples (series, ts, metric, value) VALUES (?, ?, 'm', ?)"
        store.sql.executemany(insert, [[n, START + timedelta(seconds=sec), float(v)] for (n, sec), v in kept.items()])
        for hours, late in runs:
            edge = horizon(store, "telemetry_samples")
            allowed = {(n, sec): v for n, sec, v in late if (n, sec) not in kept
                       and (edge is None or START + timedelta(seconds=sec) >= edge)}
            for (n, sec), v in allowed.items():
                store.sql.execute(insert, [n, START + timedelta(seconds=sec), float(v)])
            kept |= allowed
            run_retention(store, POLICY, START + timedelta(hours=hours, minutes=17), apply=True)
        got = {name: read_series(store, name, START, START + timedelta(hours=HOURS)).to_pyarrow().to_pylist()
               for name in "st"}
    for name in "st":
        values = [v for (n, sec), v in sorted(kept.items(), key=lambda item: item[0][1]) if n == name]
        rows = got[name]
        assert sum(r["count"] for r in rows) == len(values)
        assert sum(r["sum"] for r in rows) == sum(values)
        assert sum(r["increase"] or 0 for r in rows) == increase_truth(values)


SLI_POLICY = RetentionPolicy({"sli_events": DatasetRetention(raw="2h", rollups=[
    Rollup(resolution="1h", keep="5h"), Rollup(resolution="6h", keep="400d")])})
events = st.lists(st.tuples(st.integers(0, 24 * 60 - 1), st.integers(0, 50), st.integers(0, 50)), min_size=1,
                  max_size=60, unique_by=lambda e: e[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events, as_of_hours=st.integers(0, 30), twice=st.booleans())
def test_sli_events_sums_exact_in_place(events, as_of_hours, twice):
    with Store.open("duckdb://") as store:
        store.sql.executemany("INSERT INTO sli_events VALUES ('svc', 'ok', ?, ?, ?)",
                              [[START + timedelta(minutes=m), float(min(a, b)), float(max(a, b))]
                               for m, a, b in events])
        for _ in range(2 if twice else 1):
            run_retention(store, SLI_POLICY, START + timedelta(hours=as_of_hours, minutes=41), apply=True)
        rows = store.sql.execute("SELECT ts, good, total FROM sli_events").fetchall()
    for first in range(4):
        for last in range(first + 1, 5):
            lo, hi = first * 360, last * 360
            expected = [(min(a, b), max(a, b)) for m, a, b in events if lo <= m < hi]
            got = [(g, t) for ts, g, t in rows if START + timedelta(minutes=lo) <= ts < START + timedelta(minutes=hi)]
            assert sum(g for g, _ in got) == sum(g for g, _ in expected)
            assert sum(t for _, t in got) == sum(t for _, t in expected)
