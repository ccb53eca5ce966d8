"""`GET /api/v1/insights/anomalies` and `POST /api/v1/insights/anomalies/{finding_id}/mark` on the API tests'
app (tests/api/conftest.py), with three stored findings: deployments (every role reads it), cost (restricted:
manager, auditor, metrics-admin) and an SLI; and who sees what (`visible_findings`): findings of the per-team
`incidents` indicator by team, a policy restricting `incidents`, an indicator gone from the catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import api.conftest as api_setup
from engmetrics.governance import audit
from engmetrics.insights.anomaly import Finding
from engmetrics.insights.scan import save_findings

api_store, app, auth, client, settings, tokens = (api_setup.api_store, api_setup.app, api_setup.auth,
                                                  api_setup.client, api_setup.settings, api_setup.tokens)
T = datetime(2026, 3, 16, tzinfo=UTC)


def _finding(fid: str, series: str, source: str, start: datetime, datasets: tuple[str, ...], *,
             metric: str | None = None, group: str | None = None) -> Finding:
    return Finding(fid, series, source, metric, group, datasets, "counts", "up", start, start + timedelta(days=7),
                   start, 12.0, 1.0, 0.0, 5.0, 6.3)


@pytest.fixture
def stored(api_store):
    save_findings(api_store, [_finding("deploys1", "dataset:deployments", "dataset", T, ("deployments",)),
                              _finding("cost1", "dataset:cost", "dataset", T - timedelta(days=7), ("cost",)),
                              _finding("sli1", "sli:checkout/availability", "sli", T - timedelta(days=14),
                                       ("sli_events",))],
                  detected_at=datetime(2026, 3, 31, tzinfo=UTC))
    return api_store


@pytest.fixture
def teamed(api_store):
    """Findings of the per-team `incidents` indicator (payments, search), of `incidents` rows, and of an
    indicator no longer in the catalog."""
    save_findings(api_store, [
        _finding("pay1", "metric:incidents[payments]", "indicator", T, ("incidents",), metric="incidents",
                 group="payments"),
        _finding("search1", "metric:incidents[search]", "indicator", T, ("incidents",), metric="incidents",
                 group="search"),
        _finding("rows1", "dataset:incidents", "dataset", T - timedelta(days=7), ("incidents",)),
        _finding("gone1", "metric:retired", "indicator", T - timedelta(days=14), ("deployments",), metric="retired"),
    ])
    return api_store


def _ids(client, headers) -> list[str]:
    response = client.get("/api/v1/insights/anomalies", headers=headers)
    assert response.status_code == 200, response.text
    return [r["finding_id"] for r in response.json()]


def test_team_member_sees_its_own_teams_findings_of_per_team_indicators(client, auth, teamed):
    # the team-member's team is payments: search's finding of the per-team indicator is hidden, the
    # organisation-wide row count of incidents is not; the retired indicator's finding is nobody's
    assert _ids(client, auth("team-member")) == ["pay1", "rows1"]
    assert _ids(client, auth("viewer")) == ["pay1", "search1", "rows1"]
    assert client.post("/api/v1/insights/anomalies/search1/mark", headers=auth("manager"),
                       json={"status": "acknowledged"}).status_code == 201


def test_a_removed_indicators_finding_is_hidden_even_from_admins(client, auth, teamed):
    assert "gone1" not in _ids(client, auth("metrics-admin"))
    assert client.post("/api/v1/insights/anomalies/gone1/mark", headers=auth("metrics-admin"),
                       json={"status": "acknowledged"}).status_code == 404


def test_a_policy_restricting_incidents_hides_their_findings_from_a_viewer(client, auth, teamed, settings):
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text("datasets:\n  incidents: [manager]\n")
    assert _ids(client, auth("viewer")) == []  # every stored finding here reads incidents (or is retired)
    assert _ids(client, auth("manager")) == ["pay1", "search1", "rows1"]
    assert [(e.action, e.target) for e in audit.entries(teamed, action="read.")] == [("read.dataset", "incidents")]


def test_viewer_sees_findings_of_data_it_may_read(client, auth, stored):
    response = client.get("/api/v1/insights/anomalies", headers=auth("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["finding_id"] for r in body] == ["deploys1", "sli1"]  # newest first, no cost
    assert body[0] == {"finding_id": "deploys1", "series": "dataset:deployments", "source": "dataset",
                       "metric": None, "group": None, "datasets": ["deployments"], "method": "counts",
                       "direction": "up", "start_at": "2026-03-16T00:00:00+00:00",
                       "end_at": "2026-03-23T00:00:00+00:00", "peak_at": "2026-03-16T00:00:00+00:00", "value": 12.0,
                       "expected": 1.0, "expected_low": 0.0, "expected_high": 5.0, "score": 6.3,
                       "detected_at": "2026-03-31T00:00:00+00:00", "status": "open", "mark": None}


def test_manager_sees_cost_findings_and_the_read_is_audited(client, auth, stored):
    body = client.get("/api/v1/insights/anomalies", headers=auth("manager")).json()
    assert [r["finding_id"] for r in body] == ["deploys1", "cost1", "sli1"]
    assert [(e.action, e.target) for e in audit.entries(stored, action="read.")] == [("read.dataset", "cost")]


@pytest.mark.parametrize(("role", "status"), [("manager", 201), ("metrics-admin", 201), ("viewer", 403),
                                               ("team-member", 403), ("auditor", 403)])
def test_marking_needs_a_manager_or_admin(client, auth, stored, role, status):
    response = client.post("/api/v1/insights/anomalies/deploys1/mark", headers=auth(role),
                           json={"status": "false_positive", "note": "release train"})
    assert response.status_code == status, response.text
    if status == 201:
        assert response.json()["status"] == "false_positive" and response.json()["note"] == "release train"


def test_mark_then_filter_by_status(client, auth, stored):
    assert client.post("/api/v1/insights/anomalies/sli1/mark", headers=auth("manager"),
                       json={"status": "acknowledged"}).status_code == 201
    marked = client.get("/api/v1/insights/anomalies", params={"status": "acknowledged"}, headers=auth("viewer"))
    assert [(r["finding_id"], r["status"], r["mark"]["status"]) for r in marked.json()] == [
        ("sli1", "acknowledged", "acknowledged")]
    open_ = client.get("/api/v1/insights/anomalies", params={"status": "open", "since": "2026-03-20"},
                       headers=auth("viewer"))
    assert [r["finding_id"] for r in open_.json()] == ["deploys1"]  # cost1 ended 03-16: before since
    by_series = client.get("/api/v1/insights/anomalies", params={"metric": "dataset:deployments"},
                           headers=auth("viewer"))
    assert [r["finding_id"] for r in by_series.json()] == ["deploys1"]


def test_bad_requests(client, auth, stored):
    assert client.post("/api/v1/insights/anomalies/nope/mark", headers=auth("manager"),
                       json={"status": "acknowledged"}).status_code == 404
    assert client.post("/api/v1/insights/anomalies/deploys1/mark", headers=auth("manager"),
                       json={"status": "dismissed"}).status_code == 422
    assert client.get("/api/v1/insights/anomalies", params={"status": "gone"},
                      headers=auth("viewer")).status_code == 422
    assert client.get("/api/v1/insights/anomalies").status_code == 401
