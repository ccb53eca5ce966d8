"""The dashboard's PromQL parses (`promtool check rules`) and, evaluated over series that `render_metrics`
emits, gives the hand-computed answers (`promtool test rules`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from grafana_cases import demo_catalog, expressions, small_catalog
from prometheus_client.parser import text_string_to_metric_families

from engmetrics.api.exposition import render_metrics
from engmetrics.catalog.evaluate import MetricResult
from engmetrics.export.grafana import grafana_dashboard
from engmetrics.export.promql import status_severity_query, value_query

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: install the Debian package `prometheus` (`make` does)")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *map(str, args)], capture_output=True, text=True, timeout=60,
                          check=False)


def all_teams(expr: str) -> str:
    """What Grafana sends when the team variable is "All" (its allValue)."""
    return expr.replace("$team", ".*")


def test_every_dashboard_query_parses(tmp_path):
    exprs = expressions(grafana_dashboard(demo_catalog(tmp_path)))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"engmetrics:dashboard_query_{i}", "expr": all_teams(e)} for i, e in enumerate(exprs)
        if not e.startswith("label_values(")]}]}
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    checked = promtool("check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _result(metric: str, value: float | None, status: str, group: str | None = None) -> MetricResult:
    return MetricResult(metric, date(2026, 3, 2), date(2026, 3, 8), value, None, status, "v1", group=group)


def _series_yaml(text: str) -> list[dict[str, str]]:
    """Input series for `promtool test rules`: every sample of the exposition, constant for 5 minutes."""
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
            out.append({"series": f"{s.name}{{{labels}}}", "values": f"{s.value:g}x5"})
    return out


def test_queries_over_rendered_series_give_hand_computed_answers(tmp_path):
    catalog = small_catalog()
    results = [_result("deploys", 12.0, "green"), _result("lead.time", None, "no_data"),
               _result("orphan", 0.85, "amber")]
    metrics = ["deploys", "lead.time", "orphan"]
    test = {"evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": _series_yaml(render_metrics(results, catalog)),
        "promql_expr_test": [
            {"expr": all_teams(status_severity_query(metrics)), "eval_time": "2m", "exp_samples": [
                {"labels": '{metric="deploys",team="platform"}', "value": 0},
                {"labels": '{metric="lead.time",team="platform"}', "value": 3},
                {"labels": '{metric="orphan",team="platform"}', "value": 1}]},
            {"expr": all_teams(value_query(metrics)), "eval_time": "2m", "exp_samples": [
                {"labels": '{metric="deploys",team="platform"}', "value": 12},
                {"labels": '{metric="orphan",team="platform"}', "value": 0.85}]},
            {"expr": value_query(["deploys"]).replace("$team", "checkout"), "eval_time": "2m",
             "exp_samples": []},
        ]}]}
    path = tmp_path / "test.yml"
    path.write_text(json.dumps(test))
    checked = promtool("test", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
