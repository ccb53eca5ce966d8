"""The usage counting (`engmetrics.insights.usage.usage`) and the decision log's filters
(`engmetrics.insights.decisions.list_decisions`) give the same answers on PySpark (local mode) as the hand counts
below, which tests/insights/test_usage.py and test_decisions.py check on DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest

from engmetrics.insights.decisions import list_decisions
from engmetrics.insights.usage import Usage, usage
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]
U = dt.UTC


@pytest.fixture(scope="module")
def spark_store(spark_session):
    import ibis

    spark = spark_session
    spark.createDataFrame([
        ("a", "api", None, dt.datetime(2026, 3, 1, tzinfo=U)),
        ("a", "web", None, dt.datetime(2026, 3, 31, 23, tzinfo=U)),
        ("a", "api", None, dt.datetime(2026, 4, 1, tzinfo=U)),  # after the period
        ("b", "web", None, dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=U)),  # before it
    ], "metric string, channel string, actor string, viewed_at timestamp").createOrReplaceTempView("_views")
    spark.createDataFrame([
        ("D1", dt.date(2026, 3, 31), "t1", "platform", ["a", "b"], None),
        ("D2", dt.date(2026, 4, 1), "t2", None, ["a"], "improved"), ("D3", dt.date(2026, 3, 2), "t3", None, [], None),
    ], "decision_id string, date date, title string, owner_team string, metrics array<string>, outcome string"
    ).createOrReplaceTempView("decisions")
    spark.createDataFrame([
        ("f1", "b"), ("f2", None), ("f3", "b"), ("f4", "c"), ("f5", "c"), ("f6", "d"), ("f7", "d"),
    ], "finding_id string, metric string").createOrReplaceTempView("_anomaly_findings")
    spark.createDataFrame([
        ("f4", "false_positive", dt.datetime(2026, 3, 11, tzinfo=U)),
        ("f6", "acknowledged", dt.datetime(2026, 3, 20, tzinfo=U)),
        ("f7", "acknowledged", dt.datetime(2026, 3, 7, tzinfo=U)),
    ], "finding_id string, status string, marked_at timestamp").createOrReplaceTempView("_anomaly_marks")
    spark.createDataFrame([
        ("anomaly:f1", "slack", dt.datetime(2026, 3, 5, tzinfo=U)),
        ("anomaly:f1", "pager", dt.datetime(2026, 3, 5, 0, 1, tzinfo=U)),
        ("anomaly:f2", "slack", dt.datetime(2026, 3, 5, tzinfo=U)),
        ("anomaly:f3", "slack", dt.datetime(2026, 4, 2, tzinfo=U)),
        ("anomaly:f4", "slack", dt.datetime(2026, 3, 10, tzinfo=U)),
        ("anomaly:f7", "slack", dt.datetime(2026, 3, 6, tzinfo=U)),
        ("slo:a:fast-burn", "slack", dt.datetime(2026, 3, 5, tzinfo=U)),
    ], "key string, channel string, sent_at timestamp").createOrReplaceTempView("_notifications")
    return Store(ibis.pyspark.connect(spark), url="pyspark://")


def test_usage_on_pyspark(spark_store):
    got = usage(spark_store, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    # a: the api view of 03-01 and the web view of 03-31 23:00; D1; the slo key names no indicator
    assert got["a"] == Usage(views_api=1, views_web=1, decisions=1)
    # b: its view is a second early; D1; f1 notified 03-05 on two webhooks (one alert), f3 notified in April
    assert got["b"] == Usage(decisions=1, alerts=1)
    # c: f4 notified but a false positive, f5 neither notified nor acknowledged;
    # d: f6 acknowledged 03-20, f7 notified 03-06 and acknowledged 03-07 (once) = 2
    assert got["d"] == Usage(alerts=2)
    assert set(got) == {"a", "b", "d"}


def test_decision_filters_on_pyspark(spark_store):
    assert [d.decision_id for d in list_decisions(spark_store, metric="a")] == ["D1", "D2"]
    march = list_decisions(spark_store, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert [(d.decision_id, d.metrics) for d in march] == [("D3", []), ("D1", ["a", "b"])]
