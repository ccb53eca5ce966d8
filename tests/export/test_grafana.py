"""`grafana_dashboard`: valid JSON, queries only over the families `/metrics` emits, one row per outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest
from grafana_cases import demo_catalog, expressions, metric_names, small_catalog, targets

from engmetrics.api.exposition import METRIC_NAMES
from engmetrics.catalog.loader import Catalog
from engmetrics.catalog.views import root_outcome
from engmetrics.export.grafana import DATASOURCE, SCHEMA_VERSION, grafana_dashboard, outcome_groups


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Catalog, dict[str, Any]]:
    catalog = demo_catalog(tmp_path_factory.mktemp("demo"))
    return catalog, grafana_dashboard(catalog)


def test_valid_json_that_round_trips(demo):
    _, board = demo
    assert json.loads(json.dumps(board, allow_nan=False)) == board
    assert board["schemaVersion"] == SCHEMA_VERSION
    assert board["uid"] == "engmetrics-overview" and len(board["uid"]) <= 40


def test_queries_only_name_families_render_metrics_emits(demo):
    _, board = demo
    exprs = expressions(board)
    assert exprs
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        assert names <= set(METRIC_NAMES), (expr, names - set(METRIC_NAMES))


def test_metric_name_extraction_sees_unknown_names():
    assert metric_names('3 - max by (metric) (foo_total{a="b"}) + bar') == {"foo_total", "bar"}
    assert metric_names("label_values(engmetrics_indicator_info, team)") == {"engmetrics_indicator_info"}


def test_panel_ids_unique(demo):
    _, board = demo
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    assert not any(p.get("panels") for p in board["panels"])  # rows are open: no nested panels


def _datasources(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [d for value in node.values() for d in _datasources(value)]
    if isinstance(node, list):
        return [d for value in node for d in _datasources(value)]
    return []


def test_datasource_variable_used_everywhere(demo):
    _, board = demo
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert DATASOURCE == {"type": "prometheus", "uid": "${datasource}"}
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == DATASOURCE, panel["title"]
            assert panel["targets"] and all(t["datasource"] == DATASOURCE for t in panel["targets"])
    assert variables["team"]["datasource"] == DATASOURCE
    used = _datasources(board)
    assert used and all(d == DATASOURCE for d in used)


def test_one_row_per_outcome_with_its_indicators(demo):
    catalog, board = demo
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == [o.outcome.name for o in catalog.outcomes]
    outcome_of_row = {o.outcome.name: o.outcome.id for o in catalog.outcomes}
    placed: dict[str, str] = {}
    row = None
    for panel in board["panels"]:
        if panel["type"] == "row":
            row = outcome_of_row[panel["title"]]
        elif panel["type"] == "timeseries":
            metric = panel["targets"][0]["expr"].split('metric="')[1].split('"')[0]
            placed[metric] = row
    assert placed == {d.id: root_outcome(catalog, d.id) for d in catalog.active}


def test_every_outcome_row_has_status_table_and_series(demo):
    _, board = demo
    kinds = [p["type"] for p in board["panels"]]
    starts = [i for i, k in enumerate(kinds) if k == "row"]
    for start, end in zip(starts, [*starts[1:], len(kinds)], strict=True):
        assert kinds[start + 1:start + 3] == ["stat", "table"]
        assert set(kinds[start + 3:end]) == {"timeseries"}


def test_panels_do_not_overlap(demo):
    _, board = demo
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, panel["title"]
        cells |= mine


def test_status_is_text_not_only_colour(demo):
    _, board = demo
    stat = next(p for p in board["panels"] if p["type"] == "stat")
    options = stat["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {v["text"] for v in options.values()} == {"green", "amber", "red", "no data"}


def test_small_catalog_groups_units_and_filters():
    board = grafana_dashboard(small_catalog(), title="T", uid="t")
    assert [(key, name, [d.id for d in ds]) for key, name, ds in outcome_groups(small_catalog())] == [
        ("speed", "Speed", ["deploys", "lead.time"]), ("(no outcome)", "(no outcome)", ["orphan"])]
    series = {p["title"]: p for p in board["panels"] if p["type"] == "timeseries"}
    assert set(series) == {"Deploys (deployments)", "Lead.Time", "Orphan"}  # draft: proposed, not shown
    assert series["Lead.Time"]["fieldConfig"]["defaults"]["unit"] == "h"
    assert series["Orphan"]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    stat = next(p for p in board["panels"] if p["type"] == "stat")
    assert 'metric=~"deploys|lead\\\\.time"' in stat["targets"][0]["expr"]
    thresholds = series["Orphan"]["targets"][1]["expr"]
    assert thresholds == 'engmetrics_indicator_threshold{metric="orphan"}'


def test_empty_catalog_gives_a_dashboard_without_panels():
    board = grafana_dashboard(Catalog())
    assert board["panels"] == [] and {v["name"] for v in board["templating"]["list"]} == {"datasource", "team"}


def test_every_query_uses_the_team_variable_but_thresholds(demo):
    _, board = demo
    for target in targets(board):
        assert ('team=~"$team"' in target["expr"]) != target["expr"].startswith("engmetrics_indicator_threshold")
