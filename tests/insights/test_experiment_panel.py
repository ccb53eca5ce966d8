"""The engine side: an indicator's value per unit and day / week, with the catalog's semantics."""

from __future__ import annotations

from datetime import date

import pytest

from engmetrics.catalog.loader import Definition
from engmetrics.catalog.model import Calculation, Indicator
from engmetrics.catalog.periods import Period
from engmetrics.insights.experiments.panel import Cell, buckets, check_metric, unit_cells, unit_means

HEADER = "deployment_id,service,environment,started_at,status\n"
ROWS = [  # (service, environment, started_at, status)
    ("a", "production", "2026-03-02T10:00:00Z", "success"),  # Monday of week 1
    ("a", "production", "2026-03-04T10:00:00Z", "failure"),
    ("a", "production", "2026-03-08T23:59:59Z", "success"),  # Sunday: still week 1
    ("a", "production", "2026-03-09T00:00:00Z", "success"),  # Monday of week 2
    ("b", "production", "2026-03-03T10:00:00Z", "success"),
    ("b", "production", "2026-03-05T10:00:00Z", "success"),
    ("b", "staging", "2026-03-10T10:00:00Z", "success"),  # not production
    ("c", "production", "2026-03-16T10:00:00Z", "success"),  # after the period: shows the data covers it
]
PERIOD = Period(date(2026, 3, 2), date(2026, 3, 15))
COUNT = Calculation.model_validate({"dataset": "deployments", "filters": [
    {"column": "environment", "value": "production"}], "measure": {"type": "count"}})
FAILURES = Calculation.model_validate({"dataset": "deployments", "filters": [
    {"column": "environment", "value": "production"}], "measure": {
        "type": "ratio", "numerator": {"type": "count", "filters": [{"column": "status", "value": "failure"}]},
        "denominator": {"type": "count"}}})


@pytest.fixture
def loaded(store, write, ingest):
    lines = "".join(f"d{i},{s},{e},{t},{st}\n" for i, (s, e, t, st) in enumerate(ROWS))
    ingest("deployments", write("deployments.csv", HEADER + lines))
    return store


def test_weekly_counts_per_service_fill_zeros_where_the_data_covers_the_period(loaded):
    cells = unit_cells(loaded, COUNT, "service", "week", PERIOD, units=["a", "b", "z"])
    # a: 3 production rows in the week of 2 March, 1 in the week of 9 March; b: 2 and none (0: the dataset
    # has rows before and after, so the feed was alive); z: named but silent, 0 and 0.
    assert cells == [
        Cell("a", date(2026, 3, 2), 3.0, 3), Cell("a", date(2026, 3, 9), 1.0, 1),
        Cell("b", date(2026, 3, 2), 2.0, 2), Cell("b", date(2026, 3, 9), 0.0, 0),
        Cell("z", date(2026, 3, 2), 0.0, 0), Cell("z", date(2026, 3, 9), 0.0, 0)]
    means, observations = unit_means(cells, ["a", "b", "z", "nobody"])
    assert means[:3].tolist() == [2.0, 1.0, 0.0] and observations.tolist() == [4.0, 2.0, 0.0, 0.0]
    assert means[3] != means[3]  # NaN: no cells


def test_daily_grain(loaded):
    cells = unit_cells(loaded, COUNT, "service", "day", Period(date(2026, 3, 2), date(2026, 3, 4)))
    # a: 1 on the 2nd, 0 on the 3rd, 1 on the 4th; b: 0, 1, 0.
    assert [(c.unit, c.bucket.day, c.value) for c in cells] == [
        ("a", 2, 1.0), ("a", 3, 0.0), ("a", 4, 1.0), ("b", 2, 0.0), ("b", 3, 1.0), ("b", 4, 0.0)]


def test_a_ratio_has_no_value_where_its_denominator_is_empty(loaded):
    cells = unit_cells(loaded, FAILURES, "service", "week", PERIOD)
    # a, week 1: 1 failure of 3; week 2: 0 of 1; b: 0 of 2 in week 1, nothing in week 2 (no value, not 0).
    assert [(c.unit, c.bucket.day, c.value, c.sample_size) for c in cells] == [
        ("a", 2, pytest.approx(1 / 3), 3), ("a", 9, 0.0, 1), ("b", 2, 0.0, 2)]


def test_buckets_of_a_period_cut_mid_week():
    assert buckets(Period(date(2026, 3, 4), date(2026, 3, 6)), "day") == [
        date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6)]
    assert buckets(Period(date(2026, 3, 8), date(2026, 3, 9)), "week") == [date(2026, 3, 2), date(2026, 3, 9)]


def _definition(calculation: dict, **extra) -> Definition:
    ind = Indicator.model_validate({"id": "m", "name": "M", "kind": "leading", "unit": "x", "status": "proposed",
                                    "direction": "higher_is_better", "cadence": "weekly",
                                    "calculation": calculation, **extra})
    return Definition(ind, "metrics/m.yaml", 1)


def test_metrics_that_cannot_be_split_per_unit():
    deploys = {"dataset": "deployments", "measure": {"type": "count"}}
    assert check_metric(_definition(deploys), "service") is None
    assert "no 'team' column" in check_metric(_definition(deploys), "team")
    assert "calculator" in check_metric(_definition({"calculator": "delivery.deployments_per_day"}), "service")
    assert "all_time" in check_metric(_definition({**deploys, "window": "all_time"}), "service")
    assert "individual-level" in check_metric(_definition(deploys, audience="individual"), "service")
