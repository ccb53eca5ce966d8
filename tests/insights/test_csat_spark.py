"""The CSAT engine-side join and aggregations give the same tables on PySpark (local mode) as on DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest

from engmetrics.insights.csat_data import daily_experience, daily_sli, last_response_day, window_stats
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]
U = dt.UTC
CSAT = [("R1", dt.datetime(2026, 3, 2, 10, tzinfo=U), "free", "a", 4.0, 5),
        ("R2", dt.datetime(2026, 3, 2, 12, tzinfo=U), "free", "a", 2.0, 5),
        ("R3", dt.datetime(2026, 3, 2, 13, tzinfo=U), "pro", "a", 9.0, 10),
        ("R4", dt.datetime(2026, 3, 3, 12, tzinfo=U), None, "a", 5.0, 5),
        ("R5", dt.datetime(2026, 3, 2, 12, tzinfo=U), "free", None, 1.0, 5),
        ("R6", dt.datetime(2026, 3, 5, 12, tzinfo=U), "free", "a", 3.0, 5)]
INCIDENTS = [("I1", "a", dt.datetime(2026, 3, 2, 11, tzinfo=U), dt.datetime(2026, 3, 2, 11, 5, tzinfo=U), None,
              dt.datetime(2026, 3, 2, 11, 30, tzinfo=U)),
             ("I2", "a", None, dt.datetime(2026, 3, 5, 11, tzinfo=U), None, None)]
SLI = [("a", "availability", dt.datetime(2026, 3, 1, 23, tzinfo=U), 10.0, 10.0),
       ("a", "availability", dt.datetime(2026, 3, 2, tzinfo=U), 90.0, 100.0),
       ("a", "availability", dt.datetime(2026, 3, 2, 13, tzinfo=U), 100.0, 100.0),
       ("a", "latency", dt.datetime(2026, 3, 2, tzinfo=U), 0.0, 0.0)]
CSAT_SCHEMA = "response_id string, ts timestamp, segment string, service string, score double, scale bigint"
INCIDENT_SCHEMA = ("incident_id string, service string, impact_started_at timestamp, declared_at timestamp, "
                   "mitigated_at timestamp, resolved_at timestamp")
SLI_SCHEMA = "service string, indicator string, ts timestamp, good double, total double"


@pytest.fixture(scope="module")
def stores(spark_session):
    import ibis

    spark_session.createDataFrame(CSAT, CSAT_SCHEMA).createOrReplaceTempView("csat")
    spark_session.createDataFrame(INCIDENTS, INCIDENT_SCHEMA).createOrReplaceTempView("incidents")
    spark_session.createDataFrame(SLI, SLI_SCHEMA).createOrReplaceTempView("sli_events")
    duck = Store.open("duckdb://")
    duck.sql.executemany("INSERT INTO csat (response_id, ts, segment, service, score, scale) VALUES (?, ?, ?, ?, ?, ?)",
                         [list(r) for r in CSAT])
    duck.sql.executemany("INSERT INTO incidents (incident_id, service, severity, impact_started_at, declared_at, "
                         "mitigated_at, resolved_at) VALUES (?, ?, 2, ?, ?, ?, ?)", [list(r) for r in INCIDENTS])
    duck.sql.executemany("INSERT INTO sli_events (service, indicator, ts, good, total) VALUES (?, ?, ?, ?, ?)",
                         [list(r) for r in SLI])
    yield duck, Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    duck.close()


def _records(frame):
    return sorted(tuple(round(v, 12) if isinstance(v, float) else v for v in row)
                  for row in frame.itertuples(index=False))


def test_daily_experience_on_pyspark(stores):
    duck, spark = stores
    args = (dt.datetime(2026, 3, 1, tzinfo=U), dt.datetime(2026, 3, 6, tzinfo=U))
    want = _records(daily_experience(duck, *args, incident_window=dt.timedelta(days=1)))
    assert len(want) == 4  # hand-checked in test_csat.py
    assert _records(daily_experience(spark, *args, incident_window=dt.timedelta(days=1))) == want
    unexposed = _records(daily_experience(duck, *args, incident_window=None))  # incidents not read
    assert unexposed == [r[:-1] for r in want]
    assert _records(daily_experience(spark, *args, incident_window=None)) == unexposed


def test_daily_sli_on_pyspark(stores):
    duck, spark = stores
    args = (dt.date(2026, 3, 1), dt.date(2026, 3, 3), ["a"])
    want = _records(daily_sli(duck, *args))
    assert len(want) == 2
    assert _records(daily_sli(spark, *args)) == want


def test_window_stats_and_last_day_on_pyspark(stores):
    duck, spark = stores
    args = (dt.datetime(2026, 3, 1, tzinfo=U), dt.datetime(2026, 3, 3, tzinfo=U), dt.datetime(2026, 3, 6, tzinfo=U))
    want = _records(window_stats(duck, *args))
    got = _records(window_stats(spark, *args))
    assert [r[:4] for r in got] == [r[:4] for r in want]
    assert [r[4] for r in got] == pytest.approx([r[4] for r in want], nan_ok=True)
    assert last_response_day(spark) == last_response_day(duck) == dt.date(2026, 3, 5)
