"""The audit viewer `/governance/audit` (auditor, metrics-admin; a nav link for them only), and the access policy
on pages: `/cost` refused to a viewer by default (HTML 403) and audited for a manager, quarantine rows hidden."""

from __future__ import annotations

from datetime import UTC, datetime

from engmetrics.governance import audit


def _fill(store) -> None:
    audit.append(store, "alice", "governance.propose", "deploys", at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    audit.append(store, "bob", "read.dataset", "cost", reason="quarterly review",
                 details={"what": "GET /cost"}, at=datetime(2026, 3, 2, 9, tzinfo=UTC))


def test_the_audit_page_shows_newest_entries_and_the_verdict(client, auth, api_store):
    _fill(api_store)
    response = client.get("/governance/audit", headers=auth("auditor"))
    assert response.status_code == 200, response.text
    text = response.text
    assert "<h1>Audit log</h1>" in text and "Intact" in text and "2 entries" in text
    assert text.index("quarterly review") < text.index("governance.propose")  # newest first
    assert "2026-03-02 09:00:00" in text and "what: GET /cost" in text
    assert 'href="/governance/audit" aria-current="page"' in text


def test_the_audit_page_filters(client, auth, api_store):
    _fill(api_store)
    text = client.get("/governance/audit", params={"action": "governance.", "since": "2026-03-01"},
                      headers=auth("metrics-admin")).text
    assert "governance.propose" in text and "quarterly review" not in text and "1 entry shown" in text
    bad = client.get("/governance/audit", params={"since": "soon"}, headers=auth("auditor"))
    assert bad.status_code == 422 and "query parameter since" in bad.text


def test_the_audit_page_names_the_first_bad_entry(client, auth, api_store):
    _fill(api_store)
    api_store.sql.execute("DELETE FROM _audit WHERE seq = 1")
    text = client.get("/governance/audit", headers=auth("auditor")).text
    assert "Broken" in text and "at entry #2: removed: entries before it are missing" in text


def test_the_audit_page_is_refused_to_a_viewer_and_not_linked(client, auth):
    response = client.get("/governance/audit", headers=auth("viewer"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html") and "viewer" in response.text
    assert 'href="/governance/audit"' not in client.get("/catalog", headers=auth("viewer")).text
    assert 'href="/governance/audit"' in client.get("/catalog", headers=auth("auditor")).text


def test_the_cost_page_follows_the_access_policy(client, auth, api_store):
    refused = client.get("/cost", headers=auth("viewer"))
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "The role viewer may not read the dataset cost" in refused.text
    assert audit.entries(api_store) == []
    assert client.get("/cost", headers=auth("manager")).status_code == 200
    [entry] = audit.entries(api_store)
    assert (entry.action, entry.target, entry.details["what"], entry.details["role"]) == (
        "read.dataset", "cost", "GET /cost", "manager")


def test_the_cost_page_asks_for_a_reason_when_required(client, auth, settings, api_store):
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text("reason_required: [cost]\n")
    response = client.get("/cost", headers=auth("manager"))
    assert response.status_code == 403 and "?reason=" in response.text
    assert client.get("/cost", params={"reason": "budget check"}, headers=auth("manager")).status_code == 200
    assert audit.entries(api_store)[-1].reason == "budget check"


def test_the_quarantine_page_hides_rows_the_role_may_not_read(client, auth, settings, api_store):
    at = datetime(2026, 3, 1, tzinfo=UTC)
    api_store.sql.executemany(
        "INSERT INTO _quarantine (batch_id, dataset, source_file, line, \"column\", reason, record, quarantined_at) "
        "VALUES ('b1', ?, ?, 2, NULL, 'bad', '{}', ?)", [("cost", "bills.csv", at), ("deployments", "d.csv", at)])
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text("datasets:\n  cost: [metrics-admin]\n")
    auditor = client.get("/quarantine", headers=auth("auditor")).text
    assert "d.csv" in auditor and "bills.csv" not in auditor and "1 row(s)" in auditor
    assert '<option value="cost"' not in auditor  # not offered as a filter either
    admin = client.get("/quarantine", headers=auth("metrics-admin")).text
    assert "bills.csv" in admin and "2 row(s)" in admin
    refused = client.get("/quarantine", params={"dataset": "cost"}, headers=auth("auditor"))
    assert refused.status_code == 403 and "may not read the dataset cost" in refused.text
    assert [(e.actor.startswith("token:"), e.target) for e in audit.entries(api_store)] == [(True, "cost")]
