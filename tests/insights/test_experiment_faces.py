"""The API routes and the web pages of experiments, on an app over an in-memory store: the analysis as the
CLI's JSON, specs with errors listed with their error, visibility by team scope and access policy, and the
detail page's chart with the change marked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.governance.audit import entries
from engmetrics.ingest import ingest_files
from engmetrics.settings import Settings
from engmetrics.store import Store
from engmetrics.workspace import init_workspace

KEY = bytes(range(32))
# Production deployments per week of four services, two weeks before (from Monday 2026-01-05) and two after:
# treated p 2, 4 -> 6, 6 (+3) and q 3, 3 -> 5, 7 (+3); control r 4, 4 -> 5, 5 (+1) and s 1, 3 -> 2, 4 (+1):
# difference-in-differences 3 - 1 = 2.
WEEKS = {"p": [2, 4, 6, 6], "q": [3, 3, 5, 7], "r": [4, 4, 5, 5], "s": [1, 3, 2, 4]}
INCIDENTS_METRIC = """\
id: incidents
name: Incidents
kind: lagging
unit: incidents
direction: lower_is_better
cadence: weekly
status: proposed
calculation: {dataset: incidents, measure: {type: count}}
"""
SPEC = """\
metric: deployment_frequency
unit: service
grain: week
assignment: observational
treated: [p, q]
control: [r, s]
before: {from: 2026-01-05, to: 2026-01-18}
after: {from: 2026-01-19, to: 2026-02-01}
"""


@pytest.fixture
def client(tmp_path):
    root = init_workspace(tmp_path / "ws")
    (root / "experiments").mkdir()
    (root / "experiments" / "pipeline.yaml").write_text(SPEC)
    (root / "experiments" / "broken.yaml").write_text(SPEC.replace("unit: service", "unit: squad"))
    (root / "experiments" / "by-team.yaml").write_text(
        SPEC.replace("unit: service", "unit: team").replace("metric: deployment_frequency", "metric: incidents_x"))
    (root / "metrics" / "incidents.yaml").write_text(INCIDENTS_METRIC)
    (root / "experiments" / "teams.yaml").write_text(
        SPEC.replace("unit: service", "unit: team").replace("metric: deployment_frequency", "metric: incidents")
        .replace("[p, q]", "[payments, search]").replace("[r, s]", "[core, web]"))
    (tmp_path / "incidents.csv").write_text("incident_id,team,severity,declared_at\n" + "".join(
        f"i{team}{week},{team},3,2026-01-{6 + 7 * week:02d}T10:00:00Z\n"
        for team in ("payments", "search", "core", "web") for week in range(4)))
    lines = ["deployment_id,service,environment,started_at,status"]
    for service, counts in WEEKS.items():
        for week, count in enumerate(counts):
            day = datetime(2026, 1, 6) + timedelta(days=7 * week)
            lines += [f"{service}{week}{i},{service},production,{(day + timedelta(hours=i)).isoformat()}Z,success"
                      for i in range(count)]
    (tmp_path / "deployments.csv").write_text("\n".join(lines) + "\n")
    with Store.open("duckdb://") as store:
        for dataset in ("deployments", "incidents"):
            ingest_files(store, dataset, [tmp_path / f"{dataset}.csv"], pseudonym_key=KEY)
        tokens = {role: create_token(store, role, ["payments"] if role == "team-member" else [],
                                     description=role).token for role in ("viewer", "team-member", "manager")}
        test_client = TestClient(create_app(Settings(workspace=root), store=store))
        test_client.tokens, test_client.store = tokens, store
        yield test_client


def _auth(client, role="viewer"):
    return {"Authorization": f"Bearer {client.tokens[role]}"}


def test_list_has_each_spec_with_its_analysis_or_its_error(client):
    response = client.get("/api/v1/insights/experiments", headers=_auth(client))
    assert response.status_code == 200, response.text
    items = {i["name"]: i for i in response.json()}
    assert set(items) == {"broken", "by-team", "pipeline", "teams"}
    assert items["broken"]["error"].startswith("experiments/broken.yaml:2: unit:")
    assert "no indicator 'incidents_x'" in items["by-team"]["error"]
    pipeline = items["pipeline"]
    assert pipeline["error"] is None and pipeline["method"] == "did"
    assert pipeline["effect"] == pytest.approx(2.0)
    # 4 units, 2 treated: 6 assignments, smallest two-sided p 1/3 > 0.05: unbounded interval, said in a note.
    assert pipeline["interval"] == [None, None] and pipeline["p_value"] == pytest.approx(1 / 3)
    assert any("cannot confirm any effect" in n for n in pipeline["notes"])
    assert pipeline["power"]["smallest_detectable_effect"] is None  # no effect of any size could show
    assert pipeline["verdict"].startswith("No effect could be detected on deployment_frequency with this many units")


def test_one_experiment_by_name_and_404s(client):
    response = client.get("/api/v1/insights/experiments/pipeline", headers=_auth(client))
    assert response.status_code == 200 and response.json()["experiment"] == "pipeline"
    assert client.get("/api/v1/insights/experiments/nope", headers=_auth(client)).status_code == 404
    assert client.get("/api/v1/insights/experiments/..%2Fengmetrics", headers=_auth(client)).status_code == 404
    assert client.get("/api/v1/insights/experiments").status_code == 401


def test_the_pages_show_the_list_and_the_chart_with_the_change(client):
    listing = client.get("/insights/experiments", headers=_auth(client))
    assert listing.status_code == 200, listing.text
    assert 'href="/insights/experiments" aria-current="page"' in listing.text
    assert '<a href="/insights/experiments/pipeline">pipeline</a>' in listing.text
    assert "experiments/broken.yaml:2" in listing.text
    detail = client.get("/insights/experiments/pipeline", headers=_auth(client))
    assert detail.status_code == 200, detail.text
    assert "<svg" in detail.text and 'class="intervention"' in detail.text
    assert 'data-group="treated"' in detail.text and 'data-group="control"' in detail.text
    assert "No effect could be detected on deployment_frequency with this many units" in detail.text
    assert client.get("/insights/experiments/nope", headers=_auth(client)).status_code == 404


def test_a_team_member_sees_service_experiments_and_team_experiments_only_over_its_own_teams(client):
    viewer = {i["name"]: i for i in client.get("/api/v1/insights/experiments", headers=_auth(client)).json()}
    member = {i["name"] for i in client.get("/api/v1/insights/experiments",
                                            headers=_auth(client, "team-member")).json()}
    assert viewer["teams"]["error"] is None and viewer["teams"]["units"] == {"treated": 2, "control": 2}
    assert "pipeline" in member  # services are not per team
    assert "teams" not in member  # core, search and web are not the member's (payments only)
    assert client.get("/api/v1/insights/experiments/teams", headers=_auth(client, "team-member")).status_code == 404


def test_experiments_over_data_the_caller_may_not_read_are_left_out_and_reads_audited(client, tmp_path):
    (tmp_path / "ws" / "policies" / "access.yaml").write_text("datasets:\n  incidents: [manager]\n")
    viewer = {i["name"] for i in client.get("/api/v1/insights/experiments", headers=_auth(client)).json()}
    assert "teams" not in viewer and "pipeline" in viewer
    assert client.get("/api/v1/insights/experiments/teams", headers=_auth(client)).status_code == 404
    manager = client.get("/api/v1/insights/experiments/teams", headers=_auth(client, "manager"))
    assert manager.status_code == 200 and manager.json()["metric"] == "incidents"
    reads = [e for e in entries(client.store, action="read.") if e.target == "incidents"]
    assert [(e.action, e.details["role"], e.details["what"]) for e in reads] == [
        ("read.dataset", "manager", "GET /api/v1/insights/experiments/teams")]  # the manager's read, audited
