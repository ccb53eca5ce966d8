"""The clock checks' Ibis aggregation gives the hand-checked figures of `test_clocks.py` on PySpark too."""

from __future__ import annotations

import pytest
from test_clocks import EXPECTED, sample_rows

from engmetrics.telemetry.clocks import clock_report, quarantined_skew

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


def test_quarantined_skew_on_pyspark(spark_session):
    """Per source, the skew entries of telemetry_samples only: a 2, b 1 (b's NaN entry, the other dataset's and
    the file rule's entries with column received_at are not counted)."""
    import datetime as dt

    import ibis

    at = dt.datetime(2026, 3, 1, 12)
    rows = [("telemetry_samples", "a", "ts", "clock skew 7200 s (received_at - ts) beyond the maximum of 3600 s", at),
            ("telemetry_samples", "a", "ts", "clock skew -7300 s (received_at - ts) beyond the maximum of 3600 s", at),
            ("telemetry_samples", "b", "ts", "clock skew 9000 s (received_at - ts) beyond the maximum of 3600 s", at),
            ("telemetry_samples", "b", "value", "value is not a finite number", at),
            ("telemetry_samples", "f.csv", "received_at", "received_at: clock skew (received_at - ts) beyond", at),
            ("sli_events", "a", "ts", "clock skew 1 s", at)]
    spark_session.createDataFrame(rows, "dataset string, source_file string, column string, reason string, "
                                  "quarantined_at timestamp").createOrReplaceTempView("clock_quarantine")
    table = ibis.pyspark.connect(spark_session).table("clock_quarantine")
    got = quarantined_skew(table).to_pyarrow().to_pylist()
    assert sorted((r["source"], r["n"]) for r in got) == [("a", 2), ("b", 1)]
    assert [r["n"] for r in quarantined_skew(table, source="b", since=at).to_pyarrow().to_pylist()] == [1]
