"""The declarative measures and the built-in calculator give the same numbers on PySpark (local mode)."""

from __future__ import annotations

import datetime as dt

import pytest

from engmetrics.catalog.calculators import CalculatorResult, deployments_per_day
from engmetrics.catalog.compute import GroupValue, compute
from engmetrics.catalog.model import Calculation
from engmetrics.catalog.periods import Period
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]
U = dt.UTC
WEEK = Period(dt.date(2026, 3, 25), dt.date(2026, 3, 31))
PROD = {"column": "environment", "value": "production"}


@pytest.fixture(scope="module")
def spark_store(spark_session):
    import ibis

    spark = spark_session
    spark.createDataFrame([
        ("d1", "a", "production", dt.datetime(2026, 3, 25, tzinfo=U), "success"),
        ("d2", "a", "production", dt.datetime(2026, 3, 31, 23, 59, 59, tzinfo=U), "failure"),
        ("d3", "b", "production", dt.datetime(2026, 4, 1, tzinfo=U), "success"),
        ("d6", "b", "production", dt.datetime(2026, 3, 27, 8, tzinfo=U), "success"),
        ("d4", "b", "staging", dt.datetime(2026, 3, 26, tzinfo=U), "success"),
    ], "deployment_id string, service string, environment string, started_at timestamp, status string"
    ).createOrReplaceTempView("deployments")
    spark.createDataFrame([
        ("c1", dt.datetime(2026, 3, 26, 8, tzinfo=U), dt.datetime(2026, 3, 26, 10, tzinfo=U), 10),
        ("c2", dt.datetime(2026, 3, 27, 8, tzinfo=U), dt.datetime(2026, 3, 27, 18, tzinfo=U), 5),
        ("c3", dt.datetime(2026, 3, 28, 8, tzinfo=U), dt.datetime(2026, 3, 28, 12, tzinfo=U), None),
    ], "change_id string, created_at timestamp, merged_at timestamp, additions bigint"
    ).createOrReplaceTempView("changes")
    return Store(ibis.pyspark.connect(spark), url="pyspark://")


@pytest.mark.parametrize(("spec", "expected"), [
    ({"dataset": "deployments", "filters": [PROD], "measure": {"type": "count"}}, {None: GroupValue(3.0, 3)}),
    ({"dataset": "deployments", "filters": [PROD], "group_by": "service", "measure": {"type": "count"}},
     {"a": GroupValue(2.0, 2), "b": GroupValue(1.0, 1)}),
    ({"dataset": "deployments", "filters": [PROD], "measure": {
        "type": "ratio", "numerator": {"type": "count", "filters": [{"column": "status", "value": "failure"}]},
        "denominator": {"type": "count"}}}, {None: GroupValue(1 / 3, 3)}),
    ({"dataset": "changes", "measure": {"type": "sum", "column": "additions"}}, {None: GroupValue(15.0, 3)}),
    ({"dataset": "changes", "measure": {"type": "percentile", "start": "created_at", "end": "merged_at",
                                        "percentile": 0.9, "unit": "minutes"}}, {None: GroupValue(528.0, 3)}),
    ({"dataset": "deployments", "filters": [{"column": "environment", "value": "test"}],
      "measure": {"type": "count"}}, {None: GroupValue(0.0, 0)}),  # deployments cover the week: a real 0
])
def test_measures_on_pyspark(spark_store, spec, expected):
    got = compute(spark_store, Calculation.model_validate(spec), WEEK)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key].sample_size == value.sample_size
        assert got[key].value == pytest.approx(value.value)


def test_calculator_on_pyspark(spark_store):
    assert deployments_per_day(spark_store, WEEK) == CalculatorResult(2 / 7, 3)
