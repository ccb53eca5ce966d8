"""Counts, sums and ratios over a sampled dataset (request_events, rows with weights) are Horvitz-Thompson
estimates with 95 % intervals; hand-checked on a tiny table. Unsampled datasets are untouched."""

from __future__ import annotations

from datetime import date
from math import sqrt

import pytest

from engmetrics.catalog.compute import compute
from engmetrics.catalog.evaluate import ESTIMATE_NOTE, evaluate_definition, save_results
from engmetrics.catalog.history import history
from engmetrics.catalog.loader import Definition, load_catalog
from engmetrics.catalog.model import Calculation, Indicator
from engmetrics.catalog.periods import Period
from engmetrics.errors import ValidationFailed

Z95 = 1.959963984540054  # the 97.5 % point of the standard normal
WEEK = Period(date(2026, 3, 2), date(2026, 3, 8))
# Weights 1, 2, 4, 4 and an empty weight (= 1); w^2 - w per row: 0, 2, 12, 12, 0.
EVENTS = """event_id,ts,service,outcome,duration_ms,weight
e1,2026-03-02T10:00:00Z,api,ok,10,1
e2,2026-03-03T10:00:00Z,api,error,30,2
e3,2026-03-04T10:00:00Z,web,ok,20,4
e4,2026-03-05T10:00:00Z,web,error,50,4
e5,2026-03-06T10:00:00Z,api,ok,5,
e6,2026-03-09T10:00:00Z,api,ok,7,3
"""
ERROR = {"column": "outcome", "value": "error"}


@pytest.fixture
def events(write, ingest):
    result = ingest("request_events", write("events.csv", EVENTS))
    assert result.inserted == 6
    return result


def _compute(store, measure, **extra):
    return compute(store, Calculation.model_validate({"dataset": "request_events", "measure": measure, **extra}),
                   WEEK)


def test_count_is_the_weight_sum_with_its_interval(store, events):
    # e6 lies after the week. T = 1 + 2 + 4 + 4 + 1 = 12; Var = 0 + 2 + 12 + 12 + 0 = 26.
    got = _compute(store, {"type": "count"})[None]
    assert (got.value, got.sample_size, got.estimated) == (12.0, 5, True)
    assert (got.low, got.high) == pytest.approx((12 - Z95 * sqrt(26), 12 + Z95 * sqrt(26)))
    # Only 3 sampled rows carry randomness (w > 1): fewer than 30, the interval is not trusted.
    assert got.reliable is False


def test_sum_with_and_without_a_filter(store, events):
    # T = 1*10 + 2*30 + 4*20 + 4*50 + 1*5 = 355; Var = 2*30^2 + 12*20^2 + 12*50^2 = 1800 + 4800 + 30000 = 36600
    got = _compute(store, {"type": "sum", "column": "duration_ms"})[None]
    assert got.value == 355.0
    assert (got.low, got.high) == pytest.approx((355 - Z95 * sqrt(36600), 355 + Z95 * sqrt(36600)))
    # errors only: T = 2*30 + 4*50 = 260; Var = 1800 + 30000 = 31800; sample size stays the population's 5 rows
    errors = _compute(store, {"type": "sum", "column": "duration_ms", "filters": [ERROR]})[None]
    assert (errors.value, errors.sample_size) == (260.0, 5)
    assert errors.high - errors.value == pytest.approx(Z95 * sqrt(31800))


def test_error_ratio_is_a_ratio_of_totals_with_the_delta_method_interval(store, events):
    # y = error (0, 1, 0, 1, 0), x = 1: T_y = 2 + 4 = 6, T_x = 12, R = 0.5.
    # var_yy = 2 + 12 = 14, var_xx = 26, var_xy = 2 + 12 = 14: Var(R) = (14 - 2*0.5*14 + 0.25*26) / 12^2 = 6.5 / 144
    measure = {"type": "ratio", "numerator": {"type": "count", "filters": [ERROR]}, "denominator": {"type": "count"}}
    got = _compute(store, measure)[None]
    assert got.value == 0.5
    assert (got.low, got.high) == pytest.approx((0.5 - Z95 * sqrt(6.5 / 144), 0.5 + Z95 * sqrt(6.5 / 144)))


def test_grouped_counts(store, events):
    # api: w 1, 2, 1 -> 4, Var 2; web: w 4, 4 -> 8, Var 24
    got = _compute(store, {"type": "count"}, group_by="service")
    assert {k: (v.value, v.sample_size) for k, v in got.items()} == {"api": (4.0, 3), "web": (8.0, 2)}
    assert got["web"].high == pytest.approx(8 + Z95 * sqrt(24))


def test_rows_kept_with_certainty_give_an_exact_trusted_count(store, write, ingest):
    # Every error kept with weight 1 (stratified): the error count is exact, its interval a point, trusted.
    ingest("request_events", write("e.csv", "event_id,ts,service,outcome,weight\n"
                                            "a,2026-03-02T10:00:00Z,api,error,1\nb,2026-03-03T10:00:00Z,api,ok,10\n"
                                            "c,2026-03-03T11:00:00Z,api,error,\n"))
    got = _compute(store, {"type": "count", "filters": [ERROR]})[None]
    assert (got.value, got.low, got.high, got.reliable) == (2.0, 2.0, 2.0, True)


def test_a_covered_week_without_rows_is_an_untrusted_zero_estimate(store, write, ingest):
    ingest("request_events", write("e.csv", "event_id,ts,service,outcome,weight\n"
                                            "a,2026-02-25T10:00:00Z,api,ok,10\nb,2026-03-10T10:00:00Z,api,ok,10\n"))
    got = _compute(store, {"type": "count"})[None]
    assert (got.value, got.sample_size) == (0.0, 0)
    assert (got.estimated, got.low, got.high, got.reliable) == (True, 0.0, 0.0, False)


def _indicator(calc: dict) -> Definition:
    ind = Indicator.model_validate({
        "id": "requests", "name": "Requests", "kind": "leading", "unit": "requests",
        "direction": "higher_is_better", "cadence": "weekly", "calculation": calc,
        "thresholds": {"green": {"min": 10}, "red": {"max": 10}}})
    return Definition(indicator=ind, file="metrics/r.yaml", line=1)


def test_the_evaluation_result_says_it_is_an_estimate(store, events):
    [result] = evaluate_definition(store, _indicator({"dataset": "request_events", "measure": {"type": "count"}}),
                                   date(2026, 3, 8))
    data = result.to_dict()
    assert (data["value"], data["estimated"], data["note"], data["interval_reliable"]) == (12.0, True, ESTIMATE_NOTE,
                                                                                           False)
    assert data["low"] == pytest.approx(12 - Z95 * sqrt(26))
    # previous week (2026-02-23..03-01) has no rows and the data does not start before it: no data, no interval
    assert (data["previous"], data["previous_low"], data["previous_high"]) == (None, None, None)


def test_stored_results_keep_the_interval(store, events):
    [result] = evaluate_definition(store, _indicator({"dataset": "request_events", "measure": {"type": "count"}}),
                                   date(2026, 3, 8))
    assert save_results(store, [result]) == 1
    [(value, low, high)] = store.sql.execute("SELECT value, low, high FROM _metric_results").fetchall()
    assert (value, low, high) == pytest.approx((12.0, 12 - Z95 * sqrt(26), 12 + Z95 * sqrt(26)))


def test_unsampled_datasets_report_no_estimate(store, write, ingest):
    ingest("deployments", write("d.csv", "deployment_id,service,environment,started_at,status\n"
                                         "d1,api,production,2026-03-03T10:00:00Z,success\n"))
    [result] = evaluate_definition(store, _indicator({"dataset": "deployments", "measure": {"type": "count"}}),
                                   date(2026, 3, 8))
    data = result.to_dict()
    assert (data["value"], data["estimated"], data["low"], data["high"], data["note"]) == (1.0, False, None, None, None)


def test_a_percentile_over_sampled_rows_is_refused_at_load(workspace):
    (workspace / "metrics" / "p.yaml").write_text(
        "indicators:\n"
        "  - id: p90\n    name: p90\n    kind: lagging\n    unit: hours\n    direction: lower_is_better\n"
        "    cadence: weekly\n    status: proposed\n"
        "    calculation:\n      dataset: request_events\n"
        "      measure: {type: percentile, start: ts, end: ts, percentile: 0.9}\n")
    with pytest.raises(ValidationFailed) as caught:
        load_catalog(workspace)
    [issue] = [i for i in caught.value.issues if "sampled rows" in i.message]
    assert (issue.file, issue.line) == ("metrics/p.yaml", 11)


def test_history_points_of_an_estimate_carry_its_interval(store, events, write, ingest):
    # the week's count is the estimate above (12, Var 26); the week before has no rows: no value, no interval
    points = history(store, _indicator({"dataset": "request_events", "measure": {"type": "count"}}),
                     date(2026, 3, 8), periods=2)
    assert [(p.period_end, p.value, p.low is None) for p in points] == [
        (date(2026, 3, 1), None, True), (date(2026, 3, 8), 12.0, False)]
    assert (points[1].low, points[1].high) == pytest.approx((12 - Z95 * sqrt(26), 12 + Z95 * sqrt(26)))
    # an exact value (an unsampled dataset) has none
    ingest("deployments", write("d.csv", "deployment_id,service,environment,started_at,status\n"
                                         "d1,api,production,2026-03-03T10:00:00Z,success\n"))
    [exact] = history(store, _indicator({"dataset": "deployments", "measure": {"type": "count"},
                                         "time_column": "started_at"}), date(2026, 3, 8), periods=1)
    assert (exact.value, exact.low, exact.high) == (1.0, None, None)
