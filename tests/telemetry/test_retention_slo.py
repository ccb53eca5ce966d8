"""An SLO's budget over a window spanning raw minutes and hourly rollups of `sli_events` equals the budget before
the rollup (the real `slo_status`), with hand-checked figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.slo import check_files
from engmetrics.slo.status import slo_status
from engmetrics.store import Store
from engmetrics.telemetry.retention import run_retention
from engmetrics.telemetry.retention_policy import DatasetRetention, RetentionPolicy, Rollup

AT = datetime(2026, 2, 8, tzinfo=UTC)
WEEK = 7 * 1440
SLO = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  indicator:
    metadata: {name: checkout-sli}
    spec:
      ratioMetric:
        good: {metricSource: {type: engmetrics, spec: {dataset: sli_events, service: shop, indicator: ok,
               column: good}}}
        total: {metricSource: {type: engmetrics, spec: {dataset: sli_events, service: shop, indicator: ok,
                column: total}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: main, target: 0.999}]
"""
POLICY = RetentionPolicy({"sli_events": DatasetRetention(raw="2d", rollups=[
    Rollup(resolution="1h", keep="30d"), Rollup(resolution="1d", keep="400d")])})


def test_budget_is_the_same_after_rolling_up(tmp_path):
    (tmp_path / "slo.yaml").write_text(SLO)
    report = check_files([tmp_path / "slo.yaml"])
    assert report.errors == []
    with Store.open("duckdb://") as store:
        # a week of minutes, 100 events each; minutes 30..89 of the first day have 5 bad (300), the last ten
        # minutes 2 bad (20): 1,008,000 events, 320 bad
        store.sql.execute(f"""INSERT INTO sli_events SELECT 'shop', 'ok',
            TIMESTAMPTZ '{(AT - timedelta(days=7)).isoformat()}' + to_minutes(i::BIGINT),
            100 - CASE WHEN i BETWEEN 30 AND 89 THEN 5 WHEN i >= {WEEK - 10} THEN 2 ELSE 0 END, 100
            FROM range(0, {WEEK}) t(i)""")
        before = slo_status(store, report.specs, AT).items[0]
        assert (before["good"], before["total"]) == (1_007_680, 1_008_000)
        assert before["error_budget"]["consumed"] == 320 and before["error_budget"]["allowed"] == pytest.approx(1008)
        result = run_retention(store, POLICY, AT, apply=True)
        # five days of minutes (7,200 rows) older than the raw cutoff become 120 hourly rows
        assert [(s.tier, s.rows, s.buckets) for s in result.datasets[0].steps] == [
            ("raw", 7200, 120), ("1h", 0, 0), ("1d", 0, 0)]
        assert store.count("sli_events") == 2 * 1440 + 120
        assert slo_status(store, report.specs, AT).items[0] == before
        # forty days later the hours are whole days; the good/total sums over those days are unchanged
        later = run_retention(store, POLICY, AT + timedelta(days=40), apply=True)
        assert [(s.tier, s.rows, s.buckets) for s in later.datasets[0].steps] == [
            ("raw", 2880, 48), ("1h", 168, 7), ("1d", 0, 0)]
        assert store.sql.execute("SELECT count(*), sum(good), sum(total) FROM sli_events").fetchone() == (
            7, 1_007_680, 1_008_000)
