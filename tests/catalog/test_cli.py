"""The catalog, metrics and scorecard commands, end to end on a fresh workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.store import Store

runner = CliRunner()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    result = runner.invoke(app, ["init", str(root)])
    assert result.exit_code == 0, result.output
    return root


def run(ws: Path, *args: str):
    return runner.invoke(app, ["-w", str(ws), *args])


def test_template_validates_and_lints_clean(ws):
    assert run(ws, "catalog", "validate").exit_code == 0
    result = run(ws, "catalog", "lint", "--json", "--today", "2026-06-01")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_validate_exits_1_with_file_and_line(ws):
    path = ws / "metrics" / "example.yaml"
    path.write_text(path.read_text().replace("cadence: weekly", "cadence: hourly", 1))
    result = run(ws, "catalog", "validate", "--json")
    assert result.exit_code == 1
    [issue] = json.loads(result.stdout)
    line = path.read_text().splitlines().index(next(x for x in path.read_text().splitlines()
                                                    if "cadence: hourly" in x)) + 1
    assert (issue["file"], issue["line"], issue["level"]) == ("metrics/example.yaml", line, "ERROR")


def test_lint_json_fields_and_exit_code(ws):
    (ws / "metrics" / "extra.yaml").write_text(
        "id: velocity\nname: Velocity\nkind: leading\nunit: points\ndirection: higher_is_better\n"
        "cadence: weekly\ncalculation: {dataset: deployments, measure: {type: count}}\n"
        "owner: {team: platform, role: lead}\noutcome: reliable-delivery\nreview_by: 2030-01-01\n"
        "status: proposed\n")
    result = run(ws, "catalog", "lint", "--json", "--today", "2026-06-01")
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert [(i["rule"], i["level"], i["metric"], i["file"], i["line"]) for i in items] == [
        ("vanity", "WARNING", "velocity", "metrics/extra.yaml", 1),
        ("velocity-guardrail", "ERROR", "velocity", "metrics/extra.yaml", 1)]
    assert set(items[0]) == {"level", "rule", "metric", "file", "line", "message"}


def test_list_show_tree(ws):
    listed = json.loads(run(ws, "catalog", "list", "--json").stdout)
    assert [i["id"] for i in listed] == ["deployment_frequency", "change_failure_rate"]
    shown = json.loads(run(ws, "catalog", "show", "change_failure_rate", "--json").stdout)
    assert shown["calculation"]["measure"]["type"] == "ratio" and shown["line"] == 45
    assert shown["definition_version"].startswith("sha256:")
    missing = run(ws, "catalog", "show", "nope")
    assert missing.exit_code == 1
    tree = json.loads(run(ws, "catalog", "tree", "--json").stdout)
    assert tree[0]["id"] == "reliable-delivery"
    assert [(c["id"], c["guardrail"]) for c in tree[0]["children"]] == [
        ("deployment_frequency", "change_failure_rate"), ("change_failure_rate", "deployment_frequency")]
    assert "guardrail" in run(ws, "catalog", "tree").stdout


def _insert(ws: Path) -> None:
    with Store.open(f"duckdb://{ws / '.engmetrics' / 'store.duckdb'}") as store:
        rows = [(f"d{i}", "production", f"2026-03-{day:02d} 12:00:00+00", status)
                for i, (day, status) in enumerate([(25, "success"), (26, "success"), (27, "failure"),
                                                   (28, "success"), (29, "success"), (30, "success"),
                                                   (20, "success"), (21, "failure")])]
        store.sql.executemany("INSERT INTO deployments (deployment_id, service, environment, started_at, "
                              "status) VALUES (?, 'svc', ?, ?, ?)", rows)


def test_evaluate_and_scorecard(ws):
    _insert(ws)
    result = run(ws, "metrics", "evaluate", "--as-of", "2026-03-31", "--json")
    assert result.exit_code == 0, result.output
    items = {i["metric"]: i for i in json.loads(result.stdout)}
    # current week 03-25..31: 6 production deploys, 5 successes, 1 failure; previous: 2 deploys, 1 failure
    freq, cfr = items["deployment_frequency"], items["change_failure_rate"]
    assert (freq["value"], freq["previous"], freq["status"]) == (5.0, 1.0, "green")
    assert (cfr["value"], cfr["status"], cfr["sample_size"]) == (pytest.approx(1 / 6), "amber", 6)
    assert (cfr["previous"], cfr["previous_sample_size"]) == (None, 2)  # below min_sample 5
    assert (freq["period_start"], freq["period_end"]) == ("2026-03-25", "2026-03-31")
    with Store.open(f"duckdb://{ws / '.engmetrics' / 'store.duckdb'}", read_only=True) as store:
        assert store.count("_metric_results") == 2
    card = json.loads(run(ws, "scorecard", "--as-of", "2026-03-31", "--json").stdout)
    assert card[0]["outcome"] == "reliable-delivery"
    rows = {r["metric"]: r for r in card[0]["rows"]}
    assert (rows["deployment_frequency"]["trend"], rows["deployment_frequency"]["improving"]) == ("up", True)
    assert rows["change_failure_rate"]["trend"] is None
    human = run(ws, "scorecard", "--as-of", "2026-03-31")
    assert human.exit_code == 0 and "↑" in human.stdout


@pytest.mark.parametrize("args", [["catalog", "validate"], ["catalog", "lint"], ["catalog", "list"],
                                  ["catalog", "show"], ["catalog", "tree"], ["metrics", "evaluate"],
                                  ["scorecard"]])
def test_every_command_help_has_an_example(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0
    assert "Example: engmetrics" in result.stdout
