"""The reads across retention's tiers (Ibis calculations: `read_series`, and the SLO sources' counter and
histogram increases over raw samples plus `_telemetry_rollups`) give the same rows on PySpark as on DuckDB, over
a store after retention left raw samples, 5m and 1h rollups, and a late raw sample inside a rolled-up bucket;
windows whose edges cut buckets (only whole buckets read) and a lookback reaching the bucket before a sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from test_retention import AS_OF, POLICY, ten_minutes

from engmetrics.slo.sources import counter_increase, histogram_good_total
from engmetrics.store import Store
from engmetrics.telemetry.retention import read_series, run_retention

pytestmark = [pytest.mark.spark, pytest.mark.slow]
START = datetime(2026, 1, 1, tzinfo=UTC)
CUT = datetime(2026, 1, 18, 10, 2, tzinfo=UTC)  # inside the 5m bucket 10:00, before the late sample 10:02:30
SCHEMAS = {"telemetry_samples": "series string, ts timestamp, metric string, labels string, value double, "
                                "source string, received_at timestamp",
           "_telemetry_rollups": "series string, resolution string, ts timestamp, metric string, labels string, "
                                 "sum double, count bigint, min double, max double, increase double, last double"}


def _histogram(store: Store) -> None:
    """Buckets le=0.5, le=1.0 and +Inf each minute of 2026-01-18 10:00..10:09 (values i, 2i, 3i)."""
    for le, factor in (("0.5", 1), ("1.0", 2), ("+Inf", 3)):
        rows = [[f"lat{le}", datetime(2026, 1, 18, 10, i, tzinfo=UTC), "lat_bucket", json.dumps({"le": le}),
                 float(factor * i)] for i in range(10)]
        store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value) "
                              "VALUES (?, ?, ?, ?, ?)", rows)


def _reads(store: Store) -> list:
    def frame(t, *columns):
        return [(r["ts"].astimezone(UTC), *(r[c] for c in columns)) for r in t.to_pyarrow().to_pylist()]

    window = {"start": START, "end": AS_OF}
    return [frame(read_series(store, "a", START, AS_OF), "resolution", "sum", "count", "min", "max", "increase",
                  "last"),
            frame(counter_increase(store, "m", {}, **window, unit="minute"), "increase"),
            frame(histogram_good_total(store, "lat_bucket", {}, 1, **window, unit="hour"), "good", "total"),
            frame(read_series(store, "a", CUT, CUT + timedelta(minutes=7)), "resolution", "increase"),
            frame(counter_increase(store, "m", {}, start=CUT, end=CUT + timedelta(minutes=3), unit="minute",
                                   lookback=timedelta(minutes=1)), "increase")]


def test_reads_across_tiers_on_pyspark(spark_session):
    import ibis

    with Store.open("duckdb://") as duck:
        for start, values in (("2026-01-19 23:00:00+00", "i"), ("2026-01-18 10:00:00+00", "i"),
                              ("2026-01-15 12:00:00+00", "1")):
            ten_minutes(duck, start, values)
        _histogram(duck)
        run_retention(duck, POLICY, AS_OF, apply=True)
        duck.sql.execute("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES "
                         "('a', '2026-01-18 10:02:30+00', 'm', 100)")  # late, behind the horizon's back
        expected = _reads(duck)
        for name, schema in SCHEMAS.items():
            rows = duck.sql.execute(f"SELECT * FROM {name}").fetchall()
            spark_session.createDataFrame(rows, schema).createOrReplaceTempView(name)
    got = _reads(Store(ibis.pyspark.connect(spark_session)))
    assert got == expected
    assert [r[1] for r in expected[0]] == ["1h", "5m", "raw", "5m"] + ["raw"] * 10
    # 1h bucket of constant 1s: 0; 10:00 bucket 0..4 (0 after 1 is a reset: +0, then +4); the late 100 after
    # it: +96; the 10:05 bucket keeps what it held when rolled up (5 - 4, then four rises: 5); 23:00: 0 after
    # the bucket's last 9 is a reset (+0), then nine rises of 1
    assert [r[6] for r in expected[0]] == [0.0, 4.0, 96.0, 5.0, 0.0] + [1.0] * 9
    assert sum(i for _, i in expected[1]) == 0 + 4 + 96 + 5 + 0 + 9
    # le=1.0 rises 2 a minute, +Inf 3, over nine minutes, in two 5m buckets
    assert expected[2] == [(datetime(2026, 1, 18, 10, tzinfo=UTC), 18.0, 27.0)]
    # [10:02, 10:09) cuts the 10:00 bucket (starts before) and the 10:05 one (ends 10:10, after): the late
    # sample only, +96 over the 10:00 bucket's last 4
    late = datetime(2026, 1, 18, 10, 2, 30, tzinfo=UTC)
    assert expected[3] == [(late, "raw", 96.0)]
    # [10:02, 10:05) with a one-minute lookback: the 10:00 bucket ends at 10:05, after 10:01, so it is the late
    # sample's previous point (not counted itself): 96 in the 10:02 minute
    assert expected[4] == [(CUT, 96.0)]
