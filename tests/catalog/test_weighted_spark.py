"""The weighted (Horvitz-Thompson) count, sum and ratio of a sampled dataset give the hand-checked numbers of
test_weighted_measures.py on PySpark (local mode) too."""

from __future__ import annotations

import datetime as dt
from math import sqrt

import pytest

from engmetrics.catalog.compute import compute
from engmetrics.catalog.model import Calculation
from engmetrics.catalog.periods import Period
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]
U = dt.UTC
Z95 = 1.959963984540054
WEEK = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
ERROR = {"column": "outcome", "value": "error"}


@pytest.fixture(scope="module")
def spark_store(spark_session):
    import ibis

    # weights 1, 2, 4, 4, null (= 1); e6 lies after the week
    spark_session.createDataFrame([
        ("e1", dt.datetime(2026, 3, 2, 10, tzinfo=U), "api", "ok", 10.0, 1.0),
        ("e2", dt.datetime(2026, 3, 3, 10, tzinfo=U), "api", "error", 30.0, 2.0),
        ("e3", dt.datetime(2026, 3, 4, 10, tzinfo=U), "web", "ok", 20.0, 4.0),
        ("e4", dt.datetime(2026, 3, 5, 10, tzinfo=U), "web", "error", 50.0, 4.0),
        ("e5", dt.datetime(2026, 3, 6, 10, tzinfo=U), "api", "ok", 5.0, None),
        ("e6", dt.datetime(2026, 3, 9, 10, tzinfo=U), "api", "ok", 7.0, 3.0),
    ], "event_id string, ts timestamp, service string, outcome string, duration_ms double, weight double"
    ).createOrReplaceTempView("request_events")
    return Store(ibis.pyspark.connect(spark_session), url="pyspark://")


@pytest.mark.parametrize(("measure", "value", "variance"), [
    ({"type": "count"}, 12.0, 26.0),  # T = 1 + 2 + 4 + 4 + 1; Var = 2 + 12 + 12
    ({"type": "sum", "column": "duration_ms"}, 355.0, 36600.0),  # 10 + 60 + 80 + 200 + 5; 1800 + 4800 + 30000
    ({"type": "ratio", "numerator": {"type": "count", "filters": [ERROR]}, "denominator": {"type": "count"}},
     0.5, 6.5 / 144),  # (14 - 2 * 0.5 * 14 + 0.25 * 26) / 12^2
])
def test_weighted_measures_on_pyspark(spark_store, measure, value, variance):
    got = compute(spark_store, Calculation.model_validate({"dataset": "request_events", "measure": measure}),
                  WEEK)[None]
    assert (got.value, got.sample_size, got.estimated) == (pytest.approx(value), 5, True)
    assert (got.low, got.high) == pytest.approx((value - Z95 * sqrt(variance), value + Z95 * sqrt(variance)))
