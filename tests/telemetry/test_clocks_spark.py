"""The clock checks' Ibis aggregation gives the hand-checked figures of `test_clocks.py` on PySpark too."""

from __future__ import annotations

import pytest
from test_clocks import EXPECTED, sample_rows

from engmetrics.telemetry.clocks import clock_report

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark_samples(spark_session):
    import ibis

    spark_session.createDataFrame(sample_rows(), "source string, series string, ts timestamp, received_at timestamp"
                                  ).createOrReplaceTempView("clock_samples")
    return ibis.pyspark.connect(spark_session).table("clock_samples")


def test_clock_report_on_pyspark(spark_samples):
    got = {r.source: r for r in clock_report(spark_samples)}
    assert list(got) == sorted(EXPECTED)
    for source, want in EXPECTED.items():
        assert got[source].skew_median_seconds == pytest.approx(want.skew_median_seconds)
        assert got[source].skew_p99_seconds == pytest.approx(want.skew_p99_seconds)
        assert (got[source].samples, got[source].future, got[source].out_of_order,
                got[source].timezone_offset_hours, got[source].verdict) == (
            want.samples, want.future, want.out_of_order, want.timezone_offset_hours, want.verdict)
