"""`read_series` (the finest-resolution read, an Ibis calculation) gives the same rows on PySpark as on DuckDB,
over a store after retention left raw samples, 5m and 1h rollups, and a 1h bucket that overlaps raw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_retention import AS_OF, POLICY, ten_minutes

from engmetrics.store import Store
from engmetrics.telemetry.retention import read_series, run_retention

pytestmark = [pytest.mark.spark, pytest.mark.slow]
START = datetime(2026, 1, 1, tzinfo=UTC)
SCHEMAS = {"telemetry_samples": "series string, ts timestamp, metric string, labels string, value double, "
                                "source string, received_at timestamp",
           "_telemetry_rollups": "series string, resolution string, ts timestamp, metric string, labels string, "
                                 "sum double, count bigint, min double, max double"}


def test_read_series_on_pyspark(spark_session):
    import ibis

    with Store.open("duckdb://") as duck:
        for start, values in (("2026-01-19 23:00:00+00", "i"), ("2026-01-18 10:00:00+00", "i"),
                              ("2026-01-15 12:00:00+00", "1")):
            ten_minutes(duck, start, values)
        run_retention(duck, POLICY, AS_OF, apply=True)
        duck.sql.execute("INSERT INTO _telemetry_rollups VALUES "
                         "('a', '1h', '2026-01-19 23:00:00+00', 'm', NULL, 45, 10, 0, 9)")
        expected = read_series(duck, "a", START, AS_OF).to_pyarrow().to_pylist()
        for name, schema in SCHEMAS.items():
            rows = duck.sql.execute(f"SELECT * FROM {name}").fetchall()
            spark_session.createDataFrame(rows, schema).createOrReplaceTempView(name)
    got = read_series(Store(ibis.pyspark.connect(spark_session)), "a", START, AS_OF).to_pyarrow().to_pylist()
    assert [(r["ts"].astimezone(UTC), r["resolution"], r["sum"], r["count"], r["min"], r["max"]) for r in got] == [
        (r["ts"], r["resolution"], r["sum"], r["count"], r["min"], r["max"]) for r in expected]
    assert [r["resolution"] for r in expected] == ["1h", "5m", "5m"] + ["raw"] * 10
