"""Access control on data through the API, and the audit log routes.

- The cost routes read the restricted `cost` dataset: by default manager, auditor and metrics-admin (viewer and
  team-member 403); each call leaves a `read.dataset` audit entry with the token's user, the route and query.
- `policies/access.yaml` can grant team-members cost (then scoped to their teams' rows) and require a reason
  (428 without; `X-Engmetrics-Reason` header or `reason` query, recorded).
- If the audit entry cannot be written, the read fails.
- The quarantine hides rows of datasets the role may not read.
- `GET /api/v1/governance/audit` and `/audit/verify`: auditors and metrics-admins only.

Cost data: tests/api/test_cost_api.py `fill` (2026-03-01..14: payments 10 a day, search 20, untagged 5, AWS
Support 6 a day shared in proportion to team cost: payments 2, search 4).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.test_cost_api import ALLOCATION, fill
from engmetrics.auth.tokens import create_token
from engmetrics.governance import audit
from engmetrics.store import Store

WINDOW = {"from": "2026-03-01", "to": "2026-03-14"}


@pytest.fixture
def api_store():
    with Store.open("duckdb://") as store:
        fill(store)
        yield store


@pytest.fixture
def settings(settings):
    (settings.workspace / "budgets").mkdir(exist_ok=True)
    (settings.workspace / "budgets" / "allocation.yaml").write_text(ALLOCATION)
    return settings


def policy(settings, text: str) -> None:
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text(text)


@pytest.fixture
def ann(api_store):
    """Headers of a manager token belonging to ann."""
    token = create_token(api_store, "manager", user="ann", description="ann").token
    return {"Authorization": f"Bearer {token}"}


def test_cost_is_refused_to_viewer_and_team_member_by_default(client, auth, api_store):
    for role in ("viewer", "team-member"):
        response = client.get("/api/v1/cost/allocation", params=WINDOW, headers=auth(role))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == (f"the role {role} may not read the dataset cost; it needs one of: "
                                             "auditor, manager, metrics-admin (policies/access.yaml)")
    assert audit.entries(api_store) == []  # refused reads are not reads


def test_a_cost_read_is_audited_with_actor_route_and_query(client, ann, api_store):
    response = client.get("/api/v1/cost/allocation", params={**WINDOW, "by": "team"}, headers=ann)
    assert response.status_code == 200, response.text
    [entry] = audit.entries(api_store)
    assert (entry.seq, entry.actor, entry.action, entry.target, entry.reason) == (
        1, "ann", "read.dataset", "cost", None)
    assert entry.details == {"what": "GET /api/v1/cost/allocation?from=2026-03-01&to=2026-03-14&by=team",
                             "role": "manager", "teams": []}
    for route in ("idle", "budgets", "commitments", "unit", "reconcile"):
        assert client.get(f"/api/v1/cost/{route}", headers=ann).status_code == 200
    assert [e.target for e in audit.entries(api_store)] == ["cost"] * 6
    assert audit.verify(api_store).ok


def test_a_team_member_granted_cost_sees_its_own_teams_rows(client, auth, settings):
    policy(settings, "datasets:\n  cost: [team-member, manager, auditor, metrics-admin]\n")
    mine = client.get("/api/v1/cost/allocation", params=WINDOW, headers=auth("team-member")).json()
    everyone = client.get("/api/v1/cost/allocation", params=WINDOW, headers=auth("manager")).json()
    assert [i["group"] for i in everyone["items"]] == ["search", "payments", "(untagged)"]
    assert [i["group"] for i in mine["items"]] == ["payments", "(untagged)"]  # team payments, and nobody's
    payments = mine["items"][0]
    assert (payments["direct"], payments["shared"], payments["cost"]) == (140.0, 28.0, 168.0)  # 14 x (10 + 2)
    assert client.get("/api/v1/cost/allocation", params=WINDOW, headers=auth("viewer")).status_code == 403


def test_a_reason_is_required_when_the_policy_says(client, ann, api_store, settings):
    policy(settings, "reason_required: [cost]\n")
    missing = client.get("/api/v1/cost/idle", headers=ann)
    assert missing.status_code == 428
    assert "X-Engmetrics-Reason" in missing.json()["detail"]
    assert client.get("/api/v1/cost/idle", headers={**ann, "X-Engmetrics-Reason": "Q1 review"}).status_code == 200
    by_query = client.get("/api/v1/cost/idle", params={"reason": "budget", "at": "2026-03-14"}, headers=ann)
    assert by_query.status_code == 200
    assert [(e.reason, e.details["what"]) for e in audit.entries(api_store)] == [
        ("Q1 review", "GET /api/v1/cost/idle"), ("budget", "GET /api/v1/cost/idle?at=2026-03-14")]


def test_a_broken_policy_file_fails_closed(client, ann, settings):
    policy(settings, "datasets:\n  bills: [manager]\n")
    response = client.get("/api/v1/cost/idle", headers=ann)
    assert response.status_code == 500
    assert response.json()["issues"][0].startswith("policies/access.yaml:2: ERROR [access] unknown dataset 'bills'")


def test_the_read_fails_when_the_audit_cannot_be_written(app, ann, api_store):
    api_store.sql.execute("DROP TABLE _audit")
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/api/v1/cost/idle", headers=ann).status_code == 500


def _quarantine(store) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    store.sql.executemany(
        "INSERT INTO _quarantine (batch_id, dataset, source_file, line, \"column\", reason, record, quarantined_at) "
        "VALUES ('b1', ?, ?, 2, NULL, 'bad', '{}', ?)",
        [("people", "people.csv", at), ("deployments", "d.csv", at), ("cost", "c.csv", at)])


def test_quarantine_rows_are_scoped_by_the_policy(client, auth, api_store, settings):
    _quarantine(api_store)
    policy(settings, "datasets:\n  cost: [metrics-admin]\n")
    rows = client.get("/api/v1/quarantine", headers=auth("auditor")).json()
    assert [r["dataset"] for r in rows] == ["deployments", "people"]
    assert [r["dataset"] for r in client.get("/api/v1/quarantine", headers=auth("metrics-admin")).json()] == [
        "cost", "deployments", "people"]
    refused = client.get("/api/v1/quarantine", params={"dataset": "cost"}, headers=auth("auditor"))
    assert refused.status_code == 403
    assert [(e.action, e.target) for e in audit.entries(api_store)] == [
        ("read.individual", "people"), ("read.dataset", "cost"), ("read.individual", "people")]


def test_the_audit_routes_are_for_auditors(client, auth, api_store):
    audit.append(api_store, "alice", "governance.propose", "deploys", at=datetime(2026, 3, 1, tzinfo=UTC))
    audit.append(api_store, "bob", "hold.place", "cost", reason="matter 1", at=datetime(2026, 3, 2, tzinfo=UTC))
    for role in ("viewer", "team-member", "manager"):
        assert client.get("/api/v1/governance/audit", headers=auth(role)).status_code == 403
        assert client.get("/api/v1/governance/audit/verify", headers=auth(role)).status_code == 403
    body = client.get("/api/v1/governance/audit", headers=auth("auditor")).json()
    assert [(e["seq"], e["actor"], e["action"], e["target"], e["reason"]) for e in body] == [
        (1, "alice", "governance.propose", "deploys", None), (2, "bob", "hold.place", "cost", "matter 1")]
    assert body[0]["at"] == "2026-03-01T00:00:00+00:00"
    filtered = client.get("/api/v1/governance/audit", params={"action": "hold.", "since": "2026-03-02"},
                          headers=auth("metrics-admin")).json()
    assert [e["seq"] for e in filtered] == [2]
    assert [e["seq"] for e in client.get("/api/v1/governance/audit", params={"until": "2026-03-01"},
                                         headers=auth("auditor")).json()] == [1]
    verdict = client.get("/api/v1/governance/audit/verify", headers=auth("auditor")).json()
    assert (verdict["ok"], verdict["entries"], verdict["head_seq"]) == (True, 2, 2)


def test_the_audit_routes_report_a_broken_chain_and_bad_parameters(client, auth, api_store):
    audit.append(api_store, "alice", "governance.propose", "deploys")
    head = audit.verify(api_store).head
    audit.append(api_store, "bob", "governance.approve", "deploys")
    api_store.sql.execute("UPDATE _audit SET actor = 'mallory' WHERE seq = 1")
    verdict = client.get("/api/v1/governance/audit/verify", headers=auth("auditor")).json()
    assert (verdict["ok"], verdict["first_bad"]) == (False, 1)
    with_head = client.get("/api/v1/governance/audit/verify", params={"expect_head": head}, headers=auth("auditor"))
    assert with_head.json()["first_bad"] == 1
    bad = client.get("/api/v1/governance/audit", params={"since": "soon"}, headers=auth("auditor"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"
    order = client.get("/api/v1/governance/audit", params={"since": "2026-03-02", "until": "2026-03-01"},
                       headers=auth("auditor"))
    assert order.status_code == 422 and order.json()["errors"][0]["field"] == "until"
    assert client.get("/api/v1/governance/audit/verify", params={"expect_head": "xyz"},
                      headers=auth("auditor")).status_code == 422
