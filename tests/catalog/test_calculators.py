from datetime import date

import pytest

from engmetrics.catalog.calculators import (
    CALCULATORS,
    CalculatorRegistry,
    CalculatorResult,
    deployments_per_day,
    register_calculator,
)
from engmetrics.catalog.evaluate import evaluate_definition
from engmetrics.catalog.loader import Definition
from engmetrics.catalog.model import Indicator
from engmetrics.catalog.periods import Period
from engmetrics.store import Store

WEEK = Period(date(2026, 3, 25), date(2026, 3, 31))


@pytest.fixture
def store():
    s = Store.open("duckdb://")
    s.sql.execute("""INSERT INTO deployments (deployment_id, service, environment, started_at, status) VALUES
        ('d1', 'a', 'production', '2026-03-25 00:00:00+00', 'success'),
        ('d2', 'a', 'production', '2026-03-26 00:00:00+00', 'failure'),
        ('d3', 'a', 'production', '2026-03-30 00:00:00+00', 'success'),
        ('d4', 'a', 'staging',    '2026-03-30 00:00:00+00', 'success'),
        ('d5', 'a', 'production', '2026-04-01 00:00:00+00', 'success')""")
    yield s
    s.close()


def test_deployments_per_day(store):
    assert deployments_per_day(store, WEEK) == CalculatorResult(2 / 7, 3)
    assert deployments_per_day(store, WEEK, environment="staging") == CalculatorResult(1 / 7, 1)
    assert deployments_per_day(store, Period(date(2026, 1, 1), date(2026, 1, 7))) == CalculatorResult(None, 0)


def test_registry_refuses_a_second_function_under_one_name():
    registry = CalculatorRegistry()

    @register_calculator("x", registry=registry)
    def one(store, period):
        return CalculatorResult(1.0, 1)

    assert registry["x"] is one
    with pytest.raises(ValueError, match="already registered"):
        register_calculator("x", registry=registry)(lambda store, period: CalculatorResult(2.0, 1))


def test_indicator_with_calculator_and_params(store):
    assert "delivery.deployments_per_day" in CALCULATORS
    ind = Indicator.model_validate({
        "id": "per_day", "name": "Deploys per day", "kind": "leading", "unit": "per day",
        "direction": "higher_is_better", "cadence": "weekly",
        "calculation": {"calculator": "delivery.deployments_per_day", "params": {"environment": "production"},
                        "min_sample": 2},
        "thresholds": {"green": {"min": 0.25}, "red": {"max": 0.25}}})
    [result] = evaluate_definition(store, Definition(ind, "m.yaml", 1), date(2026, 3, 31))
    assert (result.value, result.sample_size, result.status) == (2 / 7, 3, "green")
    assert (result.previous, result.previous_sample_size, result.previous_status) == (None, 0, "no_data")
