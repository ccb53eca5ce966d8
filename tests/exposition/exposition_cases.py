"""A small catalog and evaluated results covering every labelling case of `render_metrics`."""

from __future__ import annotations

from datetime import date
from typing import Any

from engmetrics.catalog.compute import NULL_GROUP
from engmetrics.catalog.evaluate import MetricResult
from engmetrics.catalog.loader import Catalog, Definition, OutcomeDefinition
from engmetrics.catalog.model import Indicator, Outcome

START, END = date(2026, 3, 1), date(2026, 3, 31)
TRICKY_NAME = 'Lead "time" \\ p50\nsecond line'


def _indicator(id: str, *, team: str | None = "platform", group_by: str | None = None,
               outcome: str | None = "delivery", **extra: Any) -> Indicator:
    calc: dict[str, Any] = {"dataset": "deployments", "measure": {"type": "count"}}
    if group_by:
        calc["group_by"] = group_by
    return Indicator.model_validate({
        "id": id, "name": extra.pop("name", id.title()), "kind": "leading", "unit": "deployments",
        "direction": "higher_is_better", "cadence": "monthly", "calculation": calc,
        "owner": {"team": team} if team else None, "outcome": outcome,
        "thresholds": {"green": {"min": 10}, "amber": {"min": 5, "max": 10}, "red": {"max": 5}}, **extra})


def catalog() -> Catalog:
    indicators = [
        _indicator("deploys"),
        _indicator("lead_time", team="checkout", group_by="team", name=TRICKY_NAME),
        _indicator("errors", group_by="service", outcome="deploys"),  # outcome chain: errors -> deploys
        _indicator("by_repo", team=None, group_by="repo", outcome=None),
    ]
    return Catalog([Definition(i, "metrics/test.yaml", n + 1) for n, i in enumerate(indicators)],
                   [OutcomeDefinition(Outcome(id="delivery", name="Delivery"), "metrics/test.yaml", 1)])


def result(metric: str, value: float | None, status: str, *, group: str | None = None,
           previous: float | None = None, sample_size: int = 0) -> MetricResult:
    return MetricResult(metric, START, END, value, previous, status, "v1", group=group,
                        sample_size=sample_size)


def results() -> list[MetricResult]:
    return [
        result("deploys", 12.0, "green", previous=9.0, sample_size=12),
        result("lead_time", 7.5, "amber", group="checkout", sample_size=4),
        result("lead_time", None, "no_data", group="platform", previous=3.0),
        result("lead_time", 1.0, "red", group=NULL_GROUP, sample_size=1),
        result("errors", 20.0, "green", group="api", sample_size=20),
        result("by_repo", 6.0, "amber", group="web", sample_size=6),
        result("ghost", 3.0, "red", sample_size=3),  # not in the catalog
        result("deploys", 99.0, "red"),  # a second result for a series already seen: skipped
    ]
