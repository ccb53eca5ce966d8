"""The catalog evaluation of the demo organisation gives the same results on DuckDB and on PySpark."""

from __future__ import annotations

from datetime import date

import pytest

from engmetrics.catalog.evaluate import evaluate
from engmetrics.catalog.loader import load_catalog
from engmetrics.demo import build_demo
from engmetrics.settings import load_settings
from engmetrics.store import REGISTRY, Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]
END = date(2026, 3, 1)


def _comparable(results):
    return sorted((r.metric, r.group or "", r.status, r.sample_size, r.previous_sample_size) for r in results)


def test_demo_catalog_evaluates_identically_on_duckdb_and_pyspark(tmp_path, spark_session):
    import ibis

    demo = build_demo(tmp_path / "demo", days=42, seed=3, end=END)
    catalog = load_catalog(demo.directory)
    with Store.open(load_settings(demo.directory).store_url, read_only=True) as duck:
        on_duckdb = evaluate(duck, catalog, END)
        spark = ibis.pyspark.connect(spark_session)
        for name in [*REGISTRY, "_board_decisions", "_audit"]:  # the approvals individual-level ones need
            table = duck.table(name)
            times = {c: table[c].cast("string") for c, kind in table.schema().items() if kind.is_time()}
            frame = spark_session.createDataFrame(table.mutate(**times).to_pyarrow())  # Spark has no TIME type
            frame.createOrReplaceTempView(name)
    on_spark = evaluate(Store(spark, url="pyspark://"), catalog, END)

    assert len({r.metric for r in on_duckdb}) == len(catalog.active) > 10
    assert [r.group for r in on_duckdb if r.metric == "reviews_given"].count(None) == 1  # team aggregates too
    assert sum(r.value is not None for r in on_duckdb) > 10  # the comparison covers real numbers
    assert _comparable(on_spark) == _comparable(on_duckdb)
    for ours, theirs in zip(sorted(on_duckdb, key=_key), sorted(on_spark, key=_key), strict=True):
        assert theirs.value == pytest.approx(ours.value, rel=1e-9), ours.metric
        assert theirs.previous == pytest.approx(ours.previous, rel=1e-9), ours.metric


def _key(result):
    return result.metric, result.group or ""
