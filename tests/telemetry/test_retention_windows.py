"""Windows over retention's tiers: a rollup bucket counts only when it lies wholly inside the window (never data
after `end`), `lookback` reaches the bucket holding a window's previous sample, and rollup resolutions longer
than a day are refused (a legal hold inside a multi-day bucket inflated counter increases for good).
Expected figures are worked out by hand in the comments, or in plain Python from the generated samples."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.errors import ValidationFailed
from engmetrics.governance.holds import place_hold, release_hold
from engmetrics.slo.sources import counter_increase
from engmetrics.store import Store
from engmetrics.telemetry.retention import read_series, run_retention
from engmetrics.telemetry.retention_policy import (
    DatasetRetention,
    RetentionPolicy,
    Rollup,
    load_retention_policy,
)

T0 = datetime(2026, 1, 10, 10, tzinfo=UTC)
HOURLY = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="1d", rollups=[Rollup(resolution="1h",
                                                                                            keep="30d")])})


def minutes(store: Store, n: int = 240) -> None:
    """Counter `c` rising 1 a minute: value i at T0 + i minutes (10:00 .. 13:59)."""
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value) "
                          "VALUES ('c', ?, 'req_total', '{}', ?)", [[T0 + timedelta(minutes=i), float(i)]
                                                                    for i in range(n)])


def increase(store: Store, start: datetime, end: datetime, lookback: timedelta | None = None) -> float:
    t = counter_increase(store, "req_total", start=start, end=end, unit="minute", lookback=lookback).execute()
    return float(t["increase"].sum())


def at(hour: int, minute: int = 0) -> datetime:
    return T0.replace(hour=hour, minute=minute)


def test_a_window_inside_a_bucket_reads_no_data_from_outside_it(store):
    minutes(store)
    # raw: the samples at 11:58 .. 12:02 each rise 1
    assert increase(store, at(11, 58), at(12, 3)) == 5
    run_retention(store, HOURLY, datetime(2026, 1, 20, tzinfo=UTC), apply=True)
    assert store.count("telemetry_samples") == 0  # four 1h buckets: 10:00, 11:00, 12:00, 13:00
    # no hourly bucket lies inside [11:58, 12:03): nothing, not the 60 of the 12:00 bucket (most of it after end)
    assert increase(store, at(11, 58), at(12, 3)) == 0
    # [11:30, 13:00) covers only the 12:00 bucket whole: 60 (the raw read gave 90), never more than the truth
    assert increase(store, at(11, 30), at(13)) == 60
    # whole buckets read as before: 11:00 and 12:00 hold 60 each; 10:00 holds minutes 1..59 = 59, so 10:00-14:00
    # is 59 + 3 x 60 = 239, the 239 rises of the raw samples
    assert increase(store, at(11), at(13)) == 120
    assert increase(store, at(10), at(14)) == 239
    rows = read_series(store, "c", at(11, 30), at(13)).to_pyarrow().to_pylist()
    assert [(r["ts"], r["count"], r["sum"]) for r in rows] == [(at(12), 60, sum(range(120, 180)))]
    assert read_series(store, "c", at(11, 58), at(12, 3)).count().execute() == 0


def test_lookback_reaches_the_bucket_before_the_first_raw_sample(store):
    minutes(store)
    # as of 2026-01-11 12:30 the raw cutoff is 12:00 on the 10th: 10:00 and 11:00 roll up, 12:00 .. 13:59 stay raw
    run_retention(store, HOURLY, datetime(2026, 1, 11, 12, 30, tzinfo=UTC), apply=True)
    assert store.count("telemetry_samples") == 120
    # 12:00 .. 12:04 hold 120 .. 124; the previous point is the 11:00 bucket (last 119), which starts before
    # 11:55 = start - lookback but ends after it: 5 rises, none lost
    assert increase(store, at(12), at(12, 5), lookback=timedelta(minutes=5)) == 5
    assert increase(store, at(12), at(12, 5)) == 5


def test_a_merged_late_sample_is_the_buckets_last_and_reads_stay_the_same(store):
    minutes(store)
    as_of = datetime(2026, 1, 11, 12, 30, tzinfo=UTC)  # 10:00 and 11:00 roll up; 12:00 .. 13:59 stay raw
    run_retention(store, HOURLY, as_of, apply=True)
    store.sql.execute("INSERT INTO telemetry_samples (series, ts, metric, labels, value) "
                      "VALUES ('c', '2026-01-10 11:30:00+00', 'req_total', '{}', 500)")  # behind the horizon's back
    # read order: the 11:00 bucket (its samples), then the late 500: +381 over the bucket's last 119; 12:00 (120)
    # after 500 is a reset: +120; then 119 rises. 59 (10:00) + 60 (11:00) + 381 + 120 + 119 = 739
    assert increase(store, at(10), at(14)) == 739
    run_retention(store, HOURLY, as_of, apply=True)
    # the late sample merged into 11:00: increase 60 + 381, and its 500 is the bucket's last (the latest in read
    # order), so 12:00 still counts +120 from it: the same 739
    assert store.sql.execute("SELECT count, increase, last FROM _telemetry_rollups WHERE ts = ?",
                             [at(11)]).fetchall() == [(61, 441.0, 500.0)]
    assert increase(store, at(10), at(14)) == 739


def test_a_day_long_or_longer_bucket_must_divide_a_day(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "retention.yaml").write_text(
        "datasets:\n  telemetry_samples:\n    raw: 1d\n    rollups:\n      - {resolution: 1d, keep: 2d}\n"
        "      - {resolution: 7d, keep: 400d}\n")
    with pytest.raises(ValidationFailed) as failed:
        load_retention_policy(tmp_path)
    assert str(failed.value).startswith("policies/retention.yaml:6: ERROR [retention] resolution 7d must divide a "
                                        "day (1d at most): legal holds keep whole days")
    policy = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="1d", rollups=[
        Rollup(resolution="1d", keep="2d"), Rollup(resolution="7d", keep="400d")])})
    with Store.open("duckdb://") as store, pytest.raises(ValueError, match="telemetry_samples: resolution 7d"):
        run_retention(store, policy, datetime(2026, 3, 1, tzinfo=UTC), apply=True)


def test_a_held_day_inside_day_buckets_keeps_increases_and_last_exact(store):
    # the reviewer's case with day buckets: +1 an hour for 21 days from 2026-01-01 (value h at hour h), a hold
    # on 2026-01-10
    hours = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(21 * 24)]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES ('c', ?, 'c_total', ?)",
                          [[ts, float(h)] for h, ts in enumerate(hours)])
    policy = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="1d", rollups=[
        Rollup(resolution="1h", keep="2d"), Rollup(resolution="1d", keep="400d")])})
    place_hold(store, "dataset", "telemetry_samples", from_date=date(2026, 1, 10), to_date=date(2026, 1, 10),
               reason="r", actor="legal")

    def total() -> float:
        rows = read_series(store, "c", hours[0], hours[0] + timedelta(days=60)).to_pyarrow().to_pylist()
        return sum(r["increase"] or 0 for r in rows)

    assert total() == 503  # 504 samples, 503 rises of 1
    run_retention(store, policy, datetime(2026, 3, 1, tzinfo=UTC), apply=True)
    assert store.count("telemetry_samples") == 24 and total() == 503  # the held day stays raw
    release_hold(store, "hold-1", actor="legal")
    run_retention(store, policy, datetime(2026, 3, 1, tzinfo=UTC), apply=True)
    assert store.count("telemetry_samples") == 0 and total() == 503
    days = store.sql.execute("SELECT resolution, ts, count, increase, last FROM _telemetry_rollups "
                             "ORDER BY ts").fetchall()
    # day k (0-based) holds hours 24k .. 24k+23: last 24k + 23; increase 24 (23 for the first day: no
    # previous sample); the held day, rolled after the release, is day 9: last 239
    assert days == [("1d", hours[0] + timedelta(days=k), 24, 23.0 if k == 0 else 24.0, 24.0 * k + 23)
                    for k in range(21)]


def rises(values: list[int]) -> list[int]:
    """Prometheus-style increase of each sample over the one before (a drop: the new value); 0 for the first."""
    return [0] + [b if b < a else b - a for a, b in itertools.pairwise(values)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.integers(0, 30), min_size=2, max_size=40),
       windows=st.lists(st.tuples(st.integers(0, 240), st.integers(1, 240)), min_size=1, max_size=6))
def test_a_window_reads_its_whole_buckets_and_nothing_else(values, windows):
    # samples every 6 minutes from 10:00 (at most four hours), rolled into hourly buckets: a window [a, b)
    # (minutes after 10:00) reads the samples in it before the rollup, and after it only the samples of the
    # hours lying wholly inside it
    stamps = [6 * i for i in range(len(values))]
    with Store.open("duckdb://") as store:
        store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value) "
                              "VALUES ('c', ?, 'req_total', '{}', ?)",
                              [[T0 + timedelta(minutes=m), float(v)] for m, v in zip(stamps, values, strict=True)])
        spans = [(a, a + width) for a, width in windows]
        before = [increase(store, T0 + timedelta(minutes=a), T0 + timedelta(minutes=b)) for a, b in spans]
        run_retention(store, HOURLY, datetime(2026, 1, 20, tzinfo=UTC), apply=True)
        after = [increase(store, T0 + timedelta(minutes=a), T0 + timedelta(minutes=b)) for a, b in spans]
    inc = rises(values)
    for (a, b), got_before, got_after in zip(spans, before, after, strict=True):
        assert got_before == sum(x for m, x in zip(stamps, inc, strict=True) if a <= m < b)
        whole = [h for h in range(5) if a <= 60 * h and 60 * (h + 1) <= b]
        assert got_after == sum(x for m, x in zip(stamps, inc, strict=True) if m // 60 in whole)
