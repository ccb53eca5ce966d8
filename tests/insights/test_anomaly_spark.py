"""The anomaly scan's series (rows per day of a dataset, SLI ratios per day and hour) are the same on PySpark
(local mode) as on DuckDB: the engine side is `truncate()` + `group_by`, the rest numpy on the small result."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engmetrics.insights.series import dataset_series, sli_series
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]
U = dt.UTC
START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 30)  # four ISO weeks, Monday to Monday
# deployments: 1-3 a day on weekdays of weeks 1, 2 and 4, none in week 3 nor at weekends: 40 rows
DEPLOYS = [(f"d{day}-{i}", "api", "production", dt.datetime(2026, 3, 2, 9, tzinfo=U) + dt.timedelta(days=day, hours=i),
            "success") for day in range(28) if day % 7 < 5 and not 14 <= day < 21 for i in range(1 + day % 3)]
# a few deployments a month: sparse, summed into weeks
RARE = [("r1", "web", "production", dt.datetime(2026, 3, 3, 23, 59, tzinfo=U), "success"),
        ("r2", "web", "production", dt.datetime(2026, 3, 17, tzinfo=U), "failure"),
        ("r3", "web", "production", dt.datetime(2026, 3, 18, 12, tzinfo=U), "success")]
SLI = [("a", "availability", dt.datetime(2026, 3, 2, 0, tzinfo=U), 90.0, 100.0),
       ("a", "availability", dt.datetime(2026, 3, 2, 13, tzinfo=U), 100.0, 100.0),
       ("a", "availability", dt.datetime(2026, 3, 4, 1, tzinfo=U), 5.0, 10.0),
       ("a", "availability", dt.datetime(2026, 3, 5, 1, tzinfo=U), 0.0, 0.0),
       ("b", "latency", dt.datetime(2026, 3, 3, 2, tzinfo=U), 1.0, 4.0)]
DEPLOY_SCHEMA = "deployment_id string, service string, environment string, started_at timestamp, status string"
SLI_SCHEMA = "service string, indicator string, ts timestamp, good double, total double"


def _stores(spark_session, deploys):
    import ibis

    spark_session.createDataFrame(deploys, DEPLOY_SCHEMA).createOrReplaceTempView("deployments")
    spark_session.createDataFrame(SLI, SLI_SCHEMA).createOrReplaceTempView("sli_events")
    duck = Store.open("duckdb://")
    duck.sql.executemany("INSERT INTO deployments (deployment_id, service, environment, started_at, status) "
                         "VALUES (?, ?, ?, ?, ?)", [list(r) for r in deploys])
    duck.sql.executemany("INSERT INTO sli_events (service, indicator, ts, good, total) VALUES (?, ?, ?, ?, ?)",
                         [list(r) for r in SLI])
    return duck, Store(ibis.pyspark.connect(spark_session), url="pyspark://")


def _same(a, b):
    assert (a.name, a.step, a.times, a.ends, a.counts) == (b.name, b.step, b.times, b.ends, b.counts)
    assert np.array_equal(a.values, b.values, equal_nan=True)


def test_daily_dataset_counts_on_pyspark(spark_session):
    duck, spark = _stores(spark_session, DEPLOYS)
    want = dataset_series(duck, "deployments", START, END)
    # weekdays of weeks 1, 2, 4 get 1 + day % 3 rows: day 0 -> 1, day 1 -> 2, day 2 -> 3, day 3 -> 1, ...
    assert want.step == dt.timedelta(days=1) and len(want.times) == 28 and want.values.sum() == len(DEPLOYS)
    assert want.values[:7].tolist() == [1, 2, 3, 1, 2, 0, 0] and want.values[14:21].tolist() == [0] * 7
    _same(want, dataset_series(spark, "deployments", START, END))
    duck.close()


def test_sparse_dataset_counts_become_weeks_on_pyspark(spark_session):
    duck, spark = _stores(spark_session, RARE)
    want = dataset_series(duck, "deployments", START, END)
    # first row on Tuesday 03-03: whole weeks from Monday 03-09: [0, 2 (03-17, 03-18), 0]; 03-03 falls before
    assert (want.step, want.times[0], want.values.tolist()) == (
        dt.timedelta(days=7), dt.datetime(2026, 3, 9, tzinfo=U), [0.0, 2.0, 0.0])
    _same(want, dataset_series(spark, "deployments", START, END))
    duck.close()


@pytest.mark.parametrize("hourly", [False, True])
def test_sli_ratios_on_pyspark(spark_session, hourly):
    duck, spark = _stores(spark_session, DEPLOYS)
    want = sli_series(duck, START, END, hourly=hourly)
    a = want[0]
    if not hourly:  # 03-02: (90 + 100) / 200; 03-03 none; 03-04: 0.5; 03-05: total 0 -> no value
        assert a.values[:4].tolist()[:1] == [0.95] and np.isnan(a.values[1]) and a.values[2] == 0.5
        assert np.isnan(a.values[3])
    else:
        assert (a.values[0], a.values[13]) == (0.9, 1.0) and np.isnan(a.values[1])
    got = sli_series(spark, START, END, hourly=hourly)
    assert len(got) == len(want) == 2
    for x, y in zip(want, got, strict=True):
        _same(x, y)
    duck.close()
