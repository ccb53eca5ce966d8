"""An indicator in words (dashboard and published catalog): every measure shape described in one hand-checked
sentence, when there is no value, and threshold rows."""

from __future__ import annotations

from typing import Any

import pytest

from engmetrics.catalog.model import Indicator
from engmetrics.catalog.words import describe_calculation, describe_no_data, threshold_rows

PROD = {"column": "environment", "value": "production"}


def ind(calculation: dict[str, Any], cadence: str = "weekly", **extra: Any) -> Indicator:
    return Indicator.model_validate({"id": "m", "name": "M", "kind": "leading", "unit": "deployments",
                                     "direction": "higher_is_better", "cadence": cadence, "status": "proposed",
                                     "calculation": calculation, **extra})


SENTENCES = [
    pytest.param({"dataset": "deployments", "time_column": "finished_at", "filters": [PROD],
                  "measure": {"type": "count"}}, "weekly",
                 "Count of rows of `deployments` where environment = production, by week of finished_at.",
                 id="count"),
    pytest.param({"dataset": "deployments", "filters": [PROD],
                  "measure": {"type": "count", "filters": [{"column": "status", "value": "success"}]}}, "daily",
                 "Count of rows of `deployments` where environment = production, counting only rows where "
                 "status = success, by day of started_at.", id="count-measure-filter-default-time"),
    pytest.param({"dataset": "changes", "time_column": "merged_at",
                  "filters": [{"column": "is_bot", "value": False}], "measure": {"type": "sum", "column": "additions"}},
                 "monthly", "Sum of `additions` over rows of `changes` where is_bot = false, by month of merged_at.",
                 id="sum"),
    pytest.param({"dataset": "deployments", "filters": [PROD, {"column": "status", "op": "in",
                                                               "value": ["success", "failure"]}],
                  "measure": {"type": "ratio",
                              "numerator": {"type": "count", "filters": [{"column": "status", "value": "failure"}]},
                              "denominator": {"type": "count"}}}, "weekly",
                 "Ratio of the count of rows where status = failure to the count of rows, over rows of "
                 "`deployments` where environment = production and status in (success, failure), by week of "
                 "started_at.", id="ratio-of-counts"),
    pytest.param({"dataset": "sli_events", "filters": [{"column": "service", "value": "checkout"}],
                  "measure": {"type": "ratio", "numerator": {"type": "sum", "column": "good"},
                              "denominator": {"type": "sum", "column": "total"}}}, "quarterly",
                 "Ratio of the sum of `good` to the sum of `total`, over rows of `sli_events` where service = "
                 "checkout, by quarter of ts.", id="ratio-of-sums"),
    pytest.param({"dataset": "deployments", "filters": [PROD],
                  "measure": {"type": "percentile", "start": "started_at", "end": "finished_at",
                              "percentile": 0.9, "unit": "hours"}}, "weekly",
                 "p90 (exact, interpolated) of finished_at - started_at in hours over rows of `deployments` where "
                 "environment = production, using only rows where both are set, by week of started_at.",
                 id="percentile-p90"),
    pytest.param({"dataset": "changes", "time_column": "merged_at",
                  "measure": {"type": "percentile", "start": "created_at", "end": "merged_at", "unit": "minutes",
                              "filters": [{"column": "first_review_at", "op": "not_null"}]}}, "weekly",
                 "p50 (exact, interpolated) of merged_at - created_at in minutes over rows of `changes`, using only "
                 "rows where both are set and first_review_at is set, by week of merged_at.",
                 id="percentile-median-own-filter"),
    pytest.param({"dataset": "incidents", "window": "all_time", "group_by": "team",
                  "filters": [{"column": "severity", "op": "le", "value": 2},
                              {"column": "resolved_at", "op": "is_null"}],
                  "measure": {"type": "count"}}, "monthly",
                 "Count of rows of `incidents` where severity ≤ 2 and resolved_at is empty, by month of "
                 "declared_at, counting every row up to the end of each month (all time), one value per team.",
                 id="count-all-time-group-by"),
    pytest.param({"dataset": "deployments", "filters": [{"column": "service", "op": "not_in", "value": ["a", "b"]},
                                                        {"column": "status", "op": "ne", "value": "failure"}],
                  "measure": {"type": "count"}}, "weekly",
                 "Count of rows of `deployments` where service not in (a, b) and status ≠ failure, by week of "
                 "started_at.", id="not-in-and-ne"),
    pytest.param({"calculator": "delivery.deployments_per_day", "params": {"environment": "production"}}, "weekly",
                 "Built-in calculator `delivery.deployments_per_day` with environment = production, by week.",
                 id="calculator-params"),
    pytest.param({"calculator": "delivery.deployments_per_day"}, "monthly",
                 "Built-in calculator `delivery.deployments_per_day`, by month.", id="calculator-bare"),
]


@pytest.mark.parametrize(("calculation", "cadence", "sentence"), SENTENCES)
def test_describe_calculation(calculation, cadence, sentence):
    assert describe_calculation(ind(calculation, cadence)) == sentence


COUNT = {"dataset": "deployments", "measure": {"type": "count"}}
RATIO = {"dataset": "deployments", "measure": {"type": "ratio", "numerator": {"type": "count"},
                                               "denominator": {"type": "count"}}}
PCT = {"dataset": "deployments", "measure": {"type": "percentile", "start": "started_at", "end": "finished_at"}}


@pytest.mark.parametrize(("calculation", "text"), [
    (COUNT, "A period without rows is 0 when `deployments` has data on both sides of it; otherwise there is no "
            "value."),
    ({**COUNT, "min_sample": 3}, "No value when fewer than 3 rows of `deployments` qualify."),
    (RATIO, "No value when the denominator is 0."),
    ({**RATIO, "min_sample": 5}, "No value when fewer than 5 rows feed the denominator or the denominator is 0."),
    (PCT, "No value when no row has both times set."),
    ({**PCT, "min_sample": 10}, "No value when fewer than 10 rows have both times set."),
    ({"calculator": "delivery.deployments_per_day"}, "No value when the calculator finds no data."),
    ({"calculator": "delivery.deployments_per_day", "min_sample": 4},
     "No value when the calculator's sample is smaller than 4."),
])
def test_describe_no_data(calculation, text):
    assert describe_no_data(ind(calculation)) == text


def test_threshold_rows_in_the_indicator_unit_and_ratio_without_unit():
    lower = ind(COUNT, thresholds={"green": {"max": 1}, "amber": {"min": 1, "max": 3}, "red": {"min": 3}})
    assert threshold_rows(lower) == [
        {"status": "green", "from": "", "to": "1", "words": "below 1 deployments"},
        {"status": "amber", "from": "1", "to": "3", "words": "from 1 up to (not including) 3 deployments"},
        {"status": "red", "from": "3", "to": "", "words": "3 deployments or more"},
    ]
    ratio = ind(RATIO, unit="ratio", thresholds={"green": {"max": 0.15}, "red": {"min": 0.15}})
    assert [r["words"] for r in threshold_rows(ratio)] == ["below 0.15", "0.15 or more"]
    assert threshold_rows(ind(COUNT)) == []
