"""The engine side of experiments (an indicator per unit and week / day) gives the same cells on PySpark."""

from __future__ import annotations

import datetime as dt

import pytest

from engmetrics.catalog.model import Calculation
from engmetrics.catalog.periods import Period
from engmetrics.insights.experiments.panel import Cell, unit_cells

pytestmark = [pytest.mark.spark, pytest.mark.slow]
U = dt.UTC
PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 15))
PROD = {"column": "environment", "value": "production"}


@pytest.fixture(scope="module")
def spark_store(spark_session):
    import ibis

    from engmetrics.store import Store

    spark_session.createDataFrame([
        ("d1", "a", "production", dt.datetime(2026, 3, 2, 10, tzinfo=U), "success"),
        ("d2", "a", "production", dt.datetime(2026, 3, 4, 10, tzinfo=U), "failure"),
        ("d3", "a", "production", dt.datetime(2026, 3, 8, 23, 59, 59, tzinfo=U), "success"),
        ("d4", "a", "production", dt.datetime(2026, 3, 9, tzinfo=U), "success"),
        ("d5", "b", "production", dt.datetime(2026, 3, 3, 10, tzinfo=U), "success"),
        ("d6", "b", "production", dt.datetime(2026, 3, 5, 10, tzinfo=U), "success"),
        ("d7", "b", "staging", dt.datetime(2026, 3, 10, 10, tzinfo=U), "success"),
        ("d8", "c", "production", dt.datetime(2026, 3, 16, 10, tzinfo=U), "success"),
    ], "deployment_id string, service string, environment string, started_at timestamp, status string"
    ).createOrReplaceTempView("deployments")
    return Store(ibis.pyspark.connect(spark_session), url="pyspark://")


def test_weekly_counts_per_service_on_pyspark(spark_store):
    calc = Calculation.model_validate({"dataset": "deployments", "filters": [PROD], "measure": {"type": "count"}})
    # As on DuckDB (test_experiment_panel): a 3 and 1, b 2 and 0 (the feed covers the period), z named: 0, 0.
    assert unit_cells(spark_store, calc, "service", "week", PERIOD, units=["a", "b", "z"]) == [
        Cell("a", dt.date(2026, 3, 2), 3.0, 3), Cell("a", dt.date(2026, 3, 9), 1.0, 1),
        Cell("b", dt.date(2026, 3, 2), 2.0, 2), Cell("b", dt.date(2026, 3, 9), 0.0, 0),
        Cell("z", dt.date(2026, 3, 2), 0.0, 0), Cell("z", dt.date(2026, 3, 9), 0.0, 0)]


def test_daily_failure_ratio_per_service_on_pyspark(spark_store):
    calc = Calculation.model_validate({"dataset": "deployments", "filters": [PROD], "measure": {
        "type": "ratio", "numerator": {"type": "count", "filters": [{"column": "status", "value": "failure"}]},
        "denominator": {"type": "count"}}})
    cells = unit_cells(spark_store, calc, "service", "day", Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5)))
    # a: 0 of 1 on the 2nd, 1 of 1 on the 4th; b: 0 of 1 on the 3rd and on the 5th; no rows, no value.
    assert [(c.unit, c.bucket.day, c.value, c.sample_size) for c in cells] == [
        ("a", 2, 0.0, 1), ("a", 4, 1.0, 1), ("b", 3, 0.0, 1), ("b", 5, 0.0, 1)]
