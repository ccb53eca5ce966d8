"""Indicator sources: hand-computed good/total per bucket on small data in an in-memory store, read from raw
samples and from retention's rollups."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.slo import sources
from engmetrics.slo.sources import (
    bad_total,
    counter_increase,
    histogram_good_total,
    ratio_source,
    sli_events_source,
)
from engmetrics.store import Store
from engmetrics.telemetry.retention import run_retention
from engmetrics.telemetry.retention_policy import DatasetRetention, RetentionPolicy, Rollup

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
DAY = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 1, 2, tzinfo=UTC)}


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        yield s


def _events(store, rows):
    store.sql.executemany("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)", rows)


def _samples(store, series, metric, labels, values, *, step=timedelta(minutes=1), t0=T0):
    rows = [(series, t0 + i * step, metric, json.dumps(labels), float(v), None) for i, v in enumerate(values)]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", rows)


def _rows(table, *columns):
    frame = table.execute()
    return [(row["ts"].to_pydatetime(), *(float(row[c]) for c in columns)) for _, row in frame.iterrows()]


def _at(minutes=0, hours=0):
    return T0 + timedelta(minutes=minutes, hours=hours)


def test_doctests():
    assert doctest.testmod(sources).failed == 0


def test_sli_events_summed_per_bucket_within_start_end(store):
    _events(store, [
        ("checkout", "availability", _at(minutes=5), 9, 10),
        ("checkout", "availability", _at(minutes=55), 4, 5),
        ("checkout", "availability", _at(hours=1, minutes=1), 7, 7),
        ("checkout", "latency", _at(minutes=5), 1, 100),  # other indicator
        ("search", "availability", _at(minutes=5), 1, 100),  # other service
        ("checkout", "availability", _at(hours=2), 1, 100),  # at `end`: excluded
        ("checkout", "availability", _at(minutes=-1), 1, 100),  # before `start`: excluded
    ])
    t = sli_events_source(store, "checkout", "availability", start=T0, end=_at(hours=2), unit="hour")
    assert list(t.columns) == ["ts", "good", "total"]
    assert _rows(t, "good", "total") == [(_at(), 13.0, 15.0), (_at(hours=1), 7.0, 7.0)]
    by_day = sli_events_source(store, "checkout", "availability", start=T0, end=_at(hours=2), unit="day")
    assert _rows(by_day, "good", "total") == [(datetime(2026, 1, 1, tzinfo=UTC), 20.0, 22.0)]


def test_naive_datetimes_are_utc(store):
    _events(store, [("checkout", "availability", _at(), 1, 2)])
    t = sli_events_source(store, "checkout", "availability",
                          start=datetime(2026, 1, 1, 10), end=datetime(2026, 1, 1, 10, 1), unit="minute")
    assert _rows(t, "good", "total") == [(_at(), 1.0, 2.0)]


def test_unknown_unit_is_an_error(store):
    with pytest.raises(ValueError, match="unknown bucket unit"):
        sli_events_source(store, "checkout", "availability", **DAY, unit="fortnight")


def test_counter_reset_counts_the_new_value(store):
    _samples(store, "a", "req_total", {"code": "200"}, [0, 10, 25, 3, 8])
    t = counter_increase(store, "req_total", {}, **DAY, unit="minute")
    assert list(t.columns) == ["ts", "increase"]
    assert _rows(t, "increase") == [(_at(1), 10.0), (_at(2), 15.0), (_at(3), 3.0), (_at(4), 5.0)]
    hourly = counter_increase(store, "req_total", None, **DAY, unit="hour")
    assert _rows(hourly, "increase") == [(_at(), 33.0)]


def test_two_series_summed_per_bucket(store):
    _samples(store, "a", "req_total", {"code": "200", "pod": "a"}, [0, 10, 25])
    _samples(store, "b", "req_total", {"code": "200", "pod": "b"}, [100, 101, 5])
    _samples(store, "c", "other_total", {"code": "200"}, [0, 1000, 2000])  # other metric
    t = counter_increase(store, "req_total", {}, **DAY, unit="minute")
    assert _rows(t, "increase") == [(_at(1), 11.0), (_at(2), 20.0)]


def test_selector_is_a_full_match_regex(store):
    _samples(store, "s500", "req_total", {"code": "500", "path": "/api"}, [0, 4])
    _samples(store, "s503", "req_total", {"path": "/api", "code": "503"}, [0, 2])
    _samples(store, "s200", "req_total", {"code": "200", "path": "/api"}, [0, 100])
    _samples(store, "s5000", "req_total", {"code": "5000"}, [0, 1000])  # not a full match of 5..
    _samples(store, "none", "req_total", {"path": "/api"}, [0, 10000])  # no code label

    def total(selector):
        frame = counter_increase(store, "req_total", selector, **DAY, unit="day").execute()
        return frame["increase"].tolist()

    assert total({"code": "5.."}) == [6.0]
    assert total({"code": "5..", "path": "/api"}) == [6.0]
    assert total({"code": "500|200"}) == [104.0]
    assert total({"code": "4.."}) == []
    assert total({"code": "5"}) == []
    assert total({"code": ""}) == [10000.0]  # an absent label has the empty value, as in Prometheus
    assert total({"code": ".+"}) == [1106.0]


def test_selector_tolerates_json_whitespace_and_ignores_values_that_look_like_keys(store):
    rows = [
        ("x", _at(), "m", '{ "code" : "500" }', 0.0, None), ("x", _at(1), "m", '{ "code" : "500" }', 3.0, None),
        ("y", _at(), "m", '{"note":"code","code":"200"}', 0.0, None),
        ("y", _at(1), "m", '{"note":"code","code":"200"}', 7.0, None),
    ]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", rows)
    assert counter_increase(store, "m", {"code": "5.."}, **DAY, unit="day").execute()["increase"].tolist() == [3.0]
    assert counter_increase(store, "m", {"code": "200"}, **DAY, unit="day").execute()["increase"].tolist() == [7.0]


def test_invalid_label_name_is_an_error(store):
    with pytest.raises(ValueError, match="invalid label name"):
        counter_increase(store, "m", {'co"de': "5.."}, **DAY, unit="day")


def test_counter_boundary_uses_the_sample_before_start(store):
    _samples(store, "a", "req_total", {}, [0, 10, 25, 30], step=timedelta(minutes=30))  # 10:00 .. 11:30
    first = counter_increase(store, "req_total", {}, start=T0, end=_at(hours=1), unit="hour")
    second = counter_increase(store, "req_total", {}, start=_at(hours=1), end=_at(hours=2), unit="hour")
    assert _rows(first, "increase") == [(_at(), 10.0)]  # the 11:00 sample (25) is at `end`: excluded
    assert _rows(second, "increase") == [(_at(hours=1), 20.0)]  # 25 - 10 and 30 - 25
    bounded = counter_increase(store, "req_total", {}, start=_at(hours=1), end=_at(hours=2), unit="hour",
                               lookback=timedelta(minutes=10))
    assert _rows(bounded, "increase") == [(_at(hours=1), 5.0)]  # the 10:30 sample is beyond the lookback


def test_ratio_source_from_good_and_total_counters(store):
    _samples(store, "ok", "req_total", {"code": "200"}, [0, 9, 18, 20])
    _samples(store, "err", "req_total", {"code": "500"}, [0, 1, 2, 10])
    good = counter_increase(store, "req_total", {"code": "2.."}, **DAY, unit="minute")
    total = counter_increase(store, "req_total", {}, **DAY, unit="minute")
    t = ratio_source(good, total)
    assert list(t.columns) == ["ts", "good", "total"]
    assert _rows(t, "good", "total") == [(_at(1), 9.0, 10.0), (_at(2), 9.0, 10.0), (_at(3), 2.0, 10.0)]


def test_bad_total_converts_to_good(store):
    _samples(store, "ok", "req_total", {"code": "200"}, [0, 9, 18, 20])
    _samples(store, "err", "req_total", {"code": "500"}, [5, 5, 6, 14])  # no errors in the first minute
    bad = counter_increase(store, "req_total", {"code": "5.."}, **DAY, unit="minute")
    total = counter_increase(store, "req_total", {}, **DAY, unit="minute")
    assert _rows(bad_total(bad, total), "good", "total") == [
        (_at(1), 9.0, 9.0), (_at(2), 9.0, 10.0), (_at(3), 2.0, 10.0),
    ]


def test_ratio_with_a_bucket_missing_on_one_side(store):
    _samples(store, "ok", "good_total", {}, [0, 5])  # good counter stops after 10:01
    _samples(store, "all", "all_total", {}, [0, 6, 8])
    good = counter_increase(store, "good_total", {}, **DAY, unit="minute")
    total = counter_increase(store, "all_total", {}, **DAY, unit="minute")
    assert _rows(ratio_source(good, total), "good", "total") == [(_at(1), 5.0, 6.0), (_at(2), 0.0, 2.0)]


def _histogram(store, le_values, counts, extra=None):
    for le, values in zip(le_values, counts, strict=True):
        labels = {"le": le, **(extra or {})}
        _samples(store, f"lat{sorted(labels.items())}", "lat_seconds_bucket", labels, values)


def test_histogram_threshold_matches_le_numerically(store):
    _histogram(store, ["0.5", "1.0", "+Inf"], [[0, 4, 8], [0, 7, 12], [0, 10, 20]])
    for threshold in (1, 1.0):
        t = histogram_good_total(store, "lat_seconds_bucket", {}, threshold, **DAY, unit="minute")
        assert list(t.columns) == ["ts", "good", "total"]
        assert _rows(t, "good", "total") == [(_at(1), 7.0, 10.0), (_at(2), 5.0, 10.0)]
    half = histogram_good_total(store, "lat_seconds_bucket", None, 0.5, **DAY, unit="hour")
    assert _rows(half, "good", "total") == [(_at(), 8.0, 20.0)]


def test_histogram_sums_series_and_honours_the_selector(store):
    _histogram(store, ["1", "+Inf"], [[0, 3], [0, 4]], {"pod": "a", "route": "/pay"})
    _histogram(store, ["1", "+Inf"], [[10, 2], [20, 5]], {"pod": "b", "route": "/pay"})  # reset
    _histogram(store, ["1", "+Inf"], [[0, 100], [0, 1000]], {"pod": "c", "route": "/health"})
    t = histogram_good_total(store, "lat_seconds_bucket", {"route": "/pay"}, 1, **DAY, unit="day")
    assert _rows(t, "good", "total") == [(datetime(2026, 1, 1, tzinfo=UTC), 5.0, 9.0)]


def test_histogram_without_the_threshold_bucket_is_an_error(store):
    _histogram(store, ["0.5", "1", "+Inf"], [[0, 1], [0, 2], [0, 3]])
    with pytest.raises(ValueError, match=r"no bucket with le=0\.25; buckets: 0\.5, 1"):
        histogram_good_total(store, "lat_seconds_bucket", {}, 0.25, **DAY, unit="minute")


def test_histogram_total_is_the_inf_bucket_else_count(store):
    # le="1" rises 7 then 5; _count rises 11 then 9 (not what +Inf says, to see which one counts)
    _histogram(store, ["1"], [[0, 7, 12]])
    _samples(store, "count", "lat_seconds_count", {}, [0, 11, 20])
    t = histogram_good_total(store, "lat_seconds_bucket", {}, 1, **DAY, unit="minute")
    assert _rows(t, "good", "total") == [(_at(1), 7.0, 11.0), (_at(2), 5.0, 9.0)]
    _histogram(store, ["+Inf"], [[0, 10, 20]])  # now a +Inf bucket exists: it wins
    t = histogram_good_total(store, "lat_seconds_bucket", {}, 1, **DAY, unit="minute")
    assert _rows(t, "good", "total") == [(_at(1), 7.0, 10.0), (_at(2), 5.0, 10.0)]


ROLL = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="1h", rollups=[Rollup(resolution="5m", keep="1d")])})


def test_counters_read_rollups_where_raw_samples_are_gone(store):
    _samples(store, "a", "req_total", {"code": "200"}, [0, 10, 25, 3, 8, 12, 20])  # minutes 0..6
    before = _rows(counter_increase(store, "req_total", {}, **DAY, unit="hour"), "increase")
    run_retention(store, ROLL, _at(hours=1, minutes=5), apply=True)  # raw cutoff 10:05
    assert store.count("telemetry_samples") == 2
    # minutes 0..4 are one 5m bucket at 10:00: 10 + 15 + 3 (reset) + 5 = 33; then 12 - 8 = 4 and 20 - 12 = 8
    per_minute = counter_increase(store, "req_total", {"code": "2.."}, **DAY, unit="minute")
    assert _rows(per_minute, "increase") == [(_at(), 33.0), (_at(5), 4.0), (_at(6), 8.0)]
    assert _rows(counter_increase(store, "req_total", {}, **DAY, unit="hour"), "increase") == before == [
        (_at(), 45.0)]


def test_histograms_read_rollups_where_raw_samples_are_gone(store):
    _histogram(store, ["0.5", "1.0", "+Inf"], [[0, 4, 8, 9, 9, 9, 12], [0, 7, 12, 14, 15, 15, 19],
                                               [0, 10, 20, 22, 24, 25, 30]])
    before = _rows(histogram_good_total(store, "lat_seconds_bucket", {}, 1, **DAY, unit="hour"), "good", "total")
    run_retention(store, ROLL, _at(hours=1, minutes=5), apply=True)
    assert store.sql.execute("SELECT count(*) FROM telemetry_samples").fetchone() == (6,)  # minutes 5, 6
    # 10:00 bucket: le=1 rises 7 + 5 + 2 + 1 = 15, +Inf 24; then 15 -> 15 (0) and 15 -> 19 (4); 25 - 24, 30 - 25
    t = histogram_good_total(store, "lat_seconds_bucket", {}, 1, **DAY, unit="minute")
    assert _rows(t, "good", "total") == [(_at(), 15.0, 24.0), (_at(5), 0.0, 1.0), (_at(6), 4.0, 5.0)]
    assert _rows(histogram_good_total(store, "lat_seconds_bucket", {}, 1, **DAY, unit="hour"),
                 "good", "total") == before == [(_at(), 19.0, 30.0)]
    store.sql.execute("DELETE FROM telemetry_samples")  # only rollups left: the bounds are still found there
    assert _rows(histogram_good_total(store, "lat_seconds_bucket", {}, 0.5, **DAY, unit="hour"),
                 "good", "total") == [(_at(), 9.0, 24.0)]


def test_histogram_without_inf_bucket_or_count_or_with_le_selector_is_an_error(store):
    _histogram(store, ["1"], [[0, 2]])
    with pytest.raises(ValueError, match=r'no le="\+Inf" bucket and no lat_seconds_count series'):
        histogram_good_total(store, "lat_seconds_bucket", {}, 1, **DAY, unit="minute")
    with pytest.raises(ValueError, match="must not name `le`"):
        histogram_good_total(store, "lat_seconds_bucket", {"le": "1"}, 1, **DAY, unit="minute")


@pytest.mark.spark
@pytest.mark.slow
def test_sources_give_the_same_results_on_pyspark(store, spark_session):
    import ibis

    _events(store, [("checkout", "availability", _at(5), 9, 10), ("checkout", "availability", _at(70), 3, 4)])
    _samples(store, "ok", "req_total", {"code": "200"}, [0, 9, 18, 2, 7])
    _samples(store, "err", "req_total", {"code": "500"}, [0, 1, 2, 10, 10])
    _histogram(store, ["0.5", "1.0", "+Inf"], [[0, 4, 8], [0, 7, 12], [0, 10, 20]])
    spark = ibis.pyspark.connect(spark_session)
    for name in ("sli_events", "telemetry_samples"):
        table = store.table(name).drop("received_at") if name == "telemetry_samples" else store.table(name)
        spark_session.createDataFrame(table.to_pyarrow().to_pandas()).createOrReplaceTempView(name)  # (all-null
        # received_at: Spark cannot infer a type for it, and the sources do not read it)
    spark_session.createDataFrame(store.table("_telemetry_rollups").to_pyarrow()).createOrReplaceTempView(
        "_telemetry_rollups")  # empty: Arrow keeps the column types (rollups on Spark: test_retention_spark)
    on_spark = Store(spark, url="pyspark://")

    def results(s):
        good = counter_increase(s, "req_total", {"code": "2.."}, **DAY, unit="minute")
        bad = counter_increase(s, "req_total", {"code": "5.."}, **DAY, unit="minute")
        total = counter_increase(s, "req_total", {}, **DAY, unit="minute")
        return [
            _rows(sli_events_source(s, "checkout", "availability", **DAY, unit="hour"), "good", "total"),
            _rows(total, "increase"), _rows(ratio_source(good, total), "good", "total"),
            _rows(bad_total(bad, total), "good", "total"),
            _rows(histogram_good_total(s, "lat_seconds_bucket", {}, 1, **DAY, unit="minute"), "good", "total"),
        ]

    expected = results(store)
    assert expected[1] == [(_at(1), 10.0), (_at(2), 10.0), (_at(3), 10.0), (_at(4), 5.0)]
    assert [[(ts.replace(tzinfo=UTC), *v) for ts, *v in r] for r in results(on_spark)] == expected
