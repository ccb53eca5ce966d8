"""An SLO's budget over a window spanning raw minutes and hourly rollups equals the budget before the rollup (the
real `slo_status`), with hand-checked figures: for `sli_events`, and for counters of `telemetry_samples` (read from
raw samples and `_telemetry_rollups`)."""

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


COUNTER_SLO = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-errors}
spec:
  service: api
  indicator:
    metadata: {name: api-errors-sli}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: engmetrics, spec: {dataset: telemetry_samples, metric: http_requests_total,
              selector: {code: "5.."}}}}
        total: {metricSource: {type: engmetrics, spec: {dataset: telemetry_samples, metric: http_requests_total}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: main, target: 0.999}]
"""
COUNTER_POLICY = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="2d", rollups=[
    Rollup(resolution="1h", keep="30d"), Rollup(resolution="1d", keep="400d")])})


def test_a_telemetry_counter_slo_is_the_same_after_rolling_up(tmp_path):
    (tmp_path / "slo.yaml").write_text(COUNTER_SLO)
    report = check_files([tmp_path / "slo.yaml"])
    assert report.errors == []
    start = (AT - timedelta(days=7)).isoformat()
    with Store.open("duckdb://") as store:
        # two counters sampled each minute i of the week: `ok` (code 200) = 100 i; `err` (code 503) rises by 1 at
        # minutes 30..89 (60), restarts at minute 5000 (60 -> 0: a reset counts its new value, 0), then rises
        # by 2 at each of the last ten minutes (20): bad = 80; total = 100 x 10,079 increases + 80 = 1,007,980
        store.sql.execute(f"""INSERT INTO telemetry_samples (series, ts, metric, labels, value)
            SELECT s.name, TIMESTAMPTZ '{start}' + to_minutes(i::BIGINT), 'http_requests_total', s.labels,
                CASE WHEN s.name = 'ok' THEN 100 * i WHEN i < 5000 THEN least(greatest(i - 29, 0), 60)
                     WHEN i < {WEEK - 10} THEN 0 ELSE 2 * (i - {WEEK - 11}) END
            FROM range(0, {WEEK}) t(i),
                 (VALUES ('ok', '{{"code": "200"}}'), ('err', '{{"code": "503"}}')) s(name, labels)
            """)
        before = slo_status(store, report.specs, AT).items[0]
        assert (before["good"], before["total"]) == (1_007_900, 1_007_980)
        assert before["error_budget"]["consumed"] == 80
        result = run_retention(store, COUNTER_POLICY, AT, apply=True)
        # five days of minutes of two series (14,400 samples) become 2 x 120 hourly buckets
        assert [(s.tier, s.rows, s.buckets) for s in result.datasets[0].steps] == [
            ("raw", 14_400, 240), ("1h", 0, 0), ("1d", 0, 0)]
        assert store.count("telemetry_samples") == 2 * 2 * 1440
        assert slo_status(store, report.specs, AT).items[0] == before
        # ten days later the last two days of minutes are hours too: the budget is unchanged; burn rates over
        # windows shorter than an hour now find no bucket starting inside them (no data, not a wrong figure)
        later = run_retention(store, COUNTER_POLICY, AT + timedelta(days=10), apply=True)
        assert [(s.tier, s.rows, s.buckets) for s in later.datasets[0].steps] == [
            ("raw", 5760, 96), ("1h", 0, 0), ("1d", 0, 0)]
        after = slo_status(store, report.specs, AT).items[0]
        assert {k: v for k, v in after.items() if k != "burn_rates"} == {
            k: v for k, v in before.items() if k != "burn_rates"}
        assert after["burn_rates"] == before["burn_rates"] | {"5m": None, "30m": None}
