"""Shared builders for the catalog tests."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engmetrics.catalog.lint import lint
from engmetrics.catalog.loader import Catalog, check_catalog

BASE: dict[str, Any] = {
    "id": "deploys",
    "name": "Deploys",
    "owner": {"team": "platform", "role": "engineering manager"},
    "kind": "leading",
    "unit": "deployments",
    "direction": "higher_is_better",
    "cadence": "weekly",
    "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 5}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}},
    "outcome": "delivery",
    "guardrail": "failures",
    "review_by": "2030-01-01",
    "tags": [],
}
GUARD: dict[str, Any] = {**BASE, "id": "failures", "name": "Failed deploys", "kind": "lagging",
                         "direction": "lower_is_better", "guardrail": "deploys",
                         "calculation": {"dataset": "deployments", "measure": {
                             "type": "count", "filters": [{"column": "status", "value": "failure"}]}},
                         "thresholds": {"green": {"max": 1}, "amber": {"min": 1, "max": 3},
                                        "red": {"min": 3}}}
OUTCOMES = [{"id": "delivery", "name": "Fast, safe delivery"}]
TODAY = date(2026, 6, 1)


def indicator(base: dict[str, Any] = BASE, **changes: Any) -> dict[str, Any]:
    """A copy of `base` with `changes`; a change to None removes the field."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def write_catalog(root: Path, indicators: list[dict[str, Any]], outcomes: list[dict[str, Any]] | None = None,
                  name: str = "m.yaml") -> Path:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    doc = {"outcomes": OUTCOMES if outcomes is None else outcomes, "indicators": indicators}
    path = root / "metrics" / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def load(root: Path, indicators: list[dict[str, Any]], outcomes: list[dict[str, Any]] | None = None
         ) -> Catalog:
    write_catalog(root, indicators, outcomes)
    report = check_catalog(root)
    assert not report.errors, report.errors
    return report.catalog


def lint_rule(root: Path, rule: str, indicators: list[dict[str, Any]],
              outcomes: list[dict[str, Any]] | None = None) -> list[Any]:
    return lint(load(root, indicators, outcomes), today=TODAY, rules=[rule])
