"""`catalog show --as-of` and `metrics evaluate --as-defined-then`: what a metric meant and showed on a past
date, after its definition changed (issue 8, "Done when")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from engmetrics.catalog.model import Indicator
from engmetrics.catalog.version import definition_version
from engmetrics.store import Store

BASE = {"owner": {"team": "platform", "role": "engineering manager"}, "kind": "leading", "unit": "deployments",
        "direction": "higher_is_better", "cadence": "weekly", "audience": "org"}
DEPLOYS_V1 = {**BASE, "id": "deploys", "name": "Deploys",
              "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
              "thresholds": {"green": {"min": 5}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}}}
DEPLOYS_V2 = {**DEPLOYS_V1, "calculation": {"dataset": "deployments", "filters": [
    {"column": "status", "value": "success"}], "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 10}, "amber": {"min": 5, "max": 10}, "red": {"max": 5}}}
FAILURES = {**BASE, "id": "failures", "name": "Failed deploys", "direction": "lower_is_better",
            "calculation": {"dataset": "deployments", "filters": [{"column": "status", "value": "failure"}],
                            "measure": {"type": "count"}},
            "thresholds": {"green": {"max": 2}, "red": {"min": 2}}}
ROLLBACKS = {**FAILURES, "id": "rollbacks", "name": "Rollbacks"}
# week 03-25..31: six deployments, five successful; week 03-18..24: two (one failed)
DAYS = [(25, "success"), (26, "success"), (27, "failure"), (28, "success"), (29, "success"), (30, "success"),
        (20, "success"), (21, "failure")]
SHOWN = ("metric", "value", "previous", "status", "definition_version", "sample_size", "period_start")


def version(data: dict) -> str:
    return definition_version(Indicator.model_validate(data))


def write_metrics(root: Path, *indicators: dict) -> None:
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({"indicators": list(indicators)}, sort_keys=False))


@pytest.fixture
def ws(workspace: Path) -> Path:
    (workspace / "metrics" / "example.yaml").unlink()
    shutil.rmtree(workspace / "assessments", ignore_errors=True)  # the template's assessment of the example
    write_metrics(workspace, DEPLOYS_V1, FAILURES)
    with Store.open(f"duckdb://{workspace / '.engmetrics' / 'store.duckdb'}") as store:
        store.sql.executemany(
            "INSERT INTO deployments (deployment_id, service, environment, started_at, status) "
            "VALUES (?, 'svc', 'production', ?, ?)",
            [(f"d{i}", f"2026-03-{day:02d} 12:00:00+00", status) for i, (day, status) in enumerate(DAYS)])
    return workspace


def shown(result) -> dict[str, tuple]:
    assert result.exit_code == 0, result.output
    return {r["metric"]: tuple(r[k] for k in SHOWN) for r in json.loads(result.stdout)}


def stored_rows(ws: Path) -> int:
    with Store.open(f"duckdb://{ws / '.engmetrics' / 'store.duckdb'}", read_only=True) as store:
        return store.count("_metric_results")


def test_as_defined_then_reproduces_the_old_values_after_a_change(cli, ws):
    snap = cli("governance", "snapshot", "--at", "2026-03-01", "--as", "ci", "--json")
    # the indicators, and the workspace's sampling policy (policies/sampling.yaml, from `engmetrics init`)
    assert [(c["id"], c["change"]) for c in json.loads(snap.stdout)] == [("deploys", "new"), ("failures", "new"),
                                                                         ("sampling", "new")]
    then = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json"))
    assert then == {"deploys": ("deploys", 6.0, 2.0, "green", version(DEPLOYS_V1), 6, "2026-03-25"),
                    "failures": ("failures", 1.0, 1.0, "green", version(FAILURES), 1, "2026-03-25")}

    write_metrics(ws, DEPLOYS_V2, ROLLBACKS)  # deploys changed, failures removed, rollbacks added
    again = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--as-defined-then", "--json"))
    assert again == then
    assert stored_rows(ws) == 2  # a reproduction stores nothing

    now = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json"))
    assert now == {"deploys": ("deploys", 5.0, 1.0, "amber", version(DEPLOYS_V2), 5, "2026-03-25"),
                   "rollbacks": ("rollbacks", 1.0, 1.0, "green", version(ROLLBACKS), 1, "2026-03-25")}
    assert stored_rows(ws) == 4


def test_catalog_show_as_of(cli, ws):
    cli("governance", "snapshot", "--at", "2026-03-01")
    write_metrics(ws, DEPLOYS_V2, FAILURES)
    cli("governance", "snapshot", "--at", "2026-04-15T09:30:00")
    old = json.loads(cli("catalog", "show", "deploys", "--as-of", "2026-03-31", "--json").stdout)
    assert (old["definition_version"], old["effective_at"], old["source"]) == (
        version(DEPLOYS_V1), "2026-03-01T00:00:00+00:00", "metrics/m.yaml:2")
    assert old["calculation"]["filters"] == [] and old["thresholds"]["green"]["min"] == 5.0
    on_the_day = json.loads(cli("catalog", "show", "deploys", "--as-of", "2026-04-15", "--json").stdout)
    assert (on_the_day["definition_version"], on_the_day["effective_at"]) == (
        version(DEPLOYS_V2), "2026-04-15T09:30:00+00:00")
    current = json.loads(cli("catalog", "show", "deploys", "--json").stdout)
    assert current["definition_version"] == version(DEPLOYS_V2) and "effective_at" not in current
    human = cli("catalog", "show", "deploys", "--as-of", "2026-03-31")
    assert human.exit_code == 0 and "effective_at: '2026-03-01T00:00:00+00:00'" in human.stdout
    early = cli("catalog", "show", "deploys", "--as-of", "2026-02-28")
    assert early.exit_code == 1
    assert "no definition of indicator 'deploys' in force at 2026-02-28" in " ".join(early.output.split())


def test_as_defined_then_before_the_archive_begins_is_an_error(cli, ws):
    result = cli("metrics", "evaluate", "--as-of", "2026-03-31", "--as-defined-then")
    assert result.exit_code == 1  # evaluate recorded the definitions just now, after 2026-03-31
    assert "no indicators in force at 2026-03-31" in " ".join(result.output.split())


def test_snapshot_and_history_cli(cli, ws):
    first = cli("governance", "snapshot", "--at", "2026-03-01")
    assert first.exit_code == 0 and "deploys" in first.stdout
    assert "no definition changed" in cli("governance", "snapshot").stdout
    write_metrics(ws, DEPLOYS_V2, FAILURES)
    assert [c["change"] for c in json.loads(cli("governance", "snapshot", "--json").stdout)] == ["changed"]
    rows = json.loads(cli("governance", "history", "indicator", "deploys", "--json").stdout)
    assert [r["version"] for r in rows] == [version(DEPLOYS_V1), version(DEPLOYS_V2)]
    assert rows[0]["effective_at"] == "2026-03-01T00:00:00+00:00"
    human = cli("governance", "history", "indicator", "deploys", "--content")
    assert human.exit_code == 0 and "Deploys" in human.stdout
    assert cli("governance", "history", "indicator", "nope").exit_code == 1
    assert cli("governance", "history", "widget", "deploys").exit_code == 1


def test_definition_history_api(ws, tmp_path):
    from fastapi.testclient import TestClient

    from engmetrics.api import create_app
    from engmetrics.auth.tokens import create_token
    from engmetrics.governance.archive import record_definitions
    from engmetrics.settings import Settings

    with Store.open("duckdb://") as store:
        record_definitions(store, ws, actor="ci")
        token = create_token(store, "viewer", [], description="v").token
        client = TestClient(create_app(Settings(workspace=ws), store=store))
        headers = {"Authorization": f"Bearer {token}"}
        rows = client.get("/api/v1/governance/definitions/indicator/deploys", headers=headers).json()
        assert [(r["id"], r["version"]) for r in rows] == [("deploys", version(DEPLOYS_V1))]
        assert client.get("/api/v1/governance/definitions/indicator/nope", headers=headers).status_code == 404
        assert client.get("/api/v1/governance/definitions/widget/x", headers=headers).status_code == 404
        assert client.get("/api/v1/governance/definitions/indicator/deploys").status_code == 401


def test_as_defined_then_uses_the_version_stored_for_the_date(cli, ws):
    """The usual workflow: the definition changes after the as-of date but before its values are computed.
    The stored values used the new version; the reproduction must too (not the one in force on the day)."""
    cli("governance", "snapshot", "--at", "2026-03-01")
    write_metrics(ws, DEPLOYS_V2, FAILURES)  # changed today, after 2026-03-31
    shown_then = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json"))
    assert shown_then["deploys"] == ("deploys", 5.0, 1.0, "amber", version(DEPLOYS_V2), 5, "2026-03-25")
    again = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--as-defined-then", "--json"))
    assert again == shown_then


def test_as_defined_then_reproduces_a_backfilled_date(cli, ws):
    """Values computed for a date before the archive began are reproduced from their stored version."""
    shown_then = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json"))  # archive begins now
    write_metrics(ws, DEPLOYS_V2, ROLLBACKS)
    assert shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--as-defined-then", "--json")) == shown_then


def test_as_defined_then_judges_approvals_with_the_board_then(cli, ws):
    """A later quorum change and a later reject do not change what a reproduction shows for an approved
    indicator: it is judged by the board in force, and the decisions made, when its values were computed."""
    gated = {**DEPLOYS_V1, "id": "gated", "name": "Gated deploys", "affects": ["performance_review"]}
    write_metrics(ws, DEPLOYS_V1, gated)
    board = ws / "policies" / "review_board.yaml"
    board.write_text("name: Board\nmembers: [ana, ben, cy]\nquorum: 1\n")
    cli("governance", "snapshot", "--at", "2026-03-01")
    assert cli("governance", "propose", "gated", "--as", "dee").exit_code == 0
    assert cli("governance", "approve", "gated", "--rationale", "org level only", "--as", "ana").exit_code == 0
    then = shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json"))
    # computed (on the privacy path's periods) because approved: green, not `not_approved`
    assert (then["gated"][3], then["gated"][4], then["gated"][1] is not None) == ("green", version(gated), True)
    board.write_text("name: Board\nmembers: [ana, ben, cy]\nquorum: 2\n")  # ana's approval alone is short now
    assert shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--as-defined-then", "--json")) == then
    assert cli("governance", "reject", "gated", "--rationale", "not fair", "--as", "cy").exit_code == 0
    assert shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--as-defined-then", "--json")) == then
    assert shown(cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json"))["gated"][3] == "not_approved"
