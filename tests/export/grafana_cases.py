"""Builders for the Grafana export tests: the demo catalog and a small hand-made one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engmetrics.catalog.loader import Catalog, Definition, OutcomeDefinition, load_catalog
from engmetrics.catalog.model import Indicator, Outcome
from engmetrics.demo.indicators import write_indicators


def demo_catalog(root: Path) -> Catalog:
    write_indicators(root / "metrics")
    return load_catalog(root)


def indicator(id: str, **fields: Any) -> Indicator:
    return Indicator.model_validate({
        "id": id, "name": id.replace("_", " ").title(), "kind": "leading", "unit": "ratio",
        "direction": "higher_is_better", "cadence": "weekly", "owner": {"team": "platform"},
        "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
        "thresholds": {"green": {"min": 0.9}, "amber": {"min": 0.8, "max": 0.9}, "red": {"max": 0.8}},
        **fields})


def small_catalog() -> Catalog:
    """Outcome `speed` (declared) with a chain; an orphan; a proposed indicator; an empty outcome."""
    indicators = [indicator("deploys", outcome="speed", unit="deployments"),
                  indicator("lead.time", outcome="deploys", unit="hours"),
                  indicator("orphan"),
                  indicator("draft", outcome="speed", status="proposed", thresholds=None)]
    outcomes = [Outcome(id="empty", name="Nothing here"), Outcome(id="speed", name="Speed")]
    return Catalog([Definition(i, "metrics/t.yaml", n) for n, i in enumerate(indicators, 1)],
                   [OutcomeDefinition(o, "metrics/t.yaml", 1) for o in outcomes])


def targets(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield from panel.get("targets", [])


def expressions(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression: panel queries and the variable queries."""
    exprs = [t["expr"] for t in targets(board)]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["query"]["query"])
    return exprs


_NOT_NAMES = {"max", "min", "sum", "by", "without", "on", "ignoring", "group_left", "group_right",
              "label_values", "and", "or", "unless"}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers outside strings, label matchers, label lists and
    `label_values(name, label)`'s label argument, that are not PromQL keywords or functions."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", text)  # label lists
    text = re.sub(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_]\w*\s*\)", r"\1", text)
    return {name for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text) if name not in _NOT_NAMES}
