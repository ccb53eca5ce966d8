"""GET /api/v1/incidents, /incidents/search, /incidents/{id} and the analytics routes, with confidentiality.

The store holds the API tests' incidents i1..i4 (no text, confidentiality null = internal) and the five
incidents of tests/incidents/test_confidentiality.py (pub, int, conf, other, sec; the secret word "zebra" is
in other (confidential, search team) and sec (restricted)). The team-member's team is payments.
"""

from __future__ import annotations

import pytest

from engmetrics.incidents.confidentiality import REDACTED
from incidents.test_confidentiality import ROWS
from incidents.test_search import add_incidents

PROBLEM = "application/problem+json"


@pytest.fixture
def api_store(api_store):
    add_incidents(api_store, ROWS)
    api_store.sql.execute("INSERT INTO action_items (incident_id, item_id, type, created_at, status) VALUES "
                          "('sec', 'rotate', 'mitigate', '2026-03-06 00:00:00+00', 'done')")
    return api_store


def test_the_routes_need_a_token(client):
    for path in ("/api/v1/incidents", "/api/v1/incidents/search?q=x", "/api/v1/incidents/sec"):
        response = client.get(path)
        assert response.status_code == 401 and response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(("role", "readable"), [
    ("viewer", {"pub", "int"}), ("team-member", {"pub", "int", "conf"}),
    ("manager", {"pub", "int", "conf", "other"}), ("auditor", {"pub", "int", "conf", "other", "sec"}),
    ("metrics-admin", {"pub", "int", "conf", "other", "sec"})])
def test_list_redacts_per_role(client, auth, role, readable):
    body = client.get("/api/v1/incidents", params={"to": "2026-03-05"}, headers=auth(role)).json()
    assert body["total"] == 5  # ours (declared 2026-03-01..05); i1..i4 are declared 2026-03-20..28
    ours = {i["incident_id"]: i for i in body["items"]}
    assert {k for k, v in ours.items() if not v["redacted"]} == readable
    assert all(v["title"] == REDACTED and v["summary"] == REDACTED for v in ours.values() if v["redacted"])


def test_list_filters_and_pages(client, auth):
    viewer = auth("viewer")

    def ids(**params: object) -> list[str]:
        items = client.get("/api/v1/incidents", params=params, headers=viewer).json()["items"]
        return [i["incident_id"] for i in items]

    # i1..i4 are declared 2026-03-20..28, after ours (2026-03-01..05); newest first
    assert ids() == ["i3", "i2", "i1", "i4", "sec", "other", "conf", "int", "pub"]
    assert ids(limit=2, offset=1) == ["i2", "i1"]
    assert ids(service="pay", severity=3) == ["int", "pub"]
    assert ids(**{"from": "2026-03-02", "to": "2026-03-04"}) == ["other", "conf", "int"]  # to: that whole day
    assert ids(factor="vendor") == ["int"]  # sec has it too, hidden from a viewer
    bad = client.get("/api/v1/incidents", params={"from": "soon"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"
    assert client.get("/api/v1/incidents", params={"severity": 9}, headers=viewer).status_code == 422


def test_search_applies_the_callers_role(client, auth):
    def search(role: str, q: str) -> list[dict]:
        response = client.get("/api/v1/incidents/search", params={"q": q}, headers=auth(role))
        assert response.status_code == 200, response.text
        return response.json()["items"]

    assert search("viewer", "zebra") == [] and search("team-member", "zebra") == []
    assert [h["incident_id"] for h in search("manager", "zebra")] == ["other"]
    admin = search("metrics-admin", "zebra key")
    assert [h["incident_id"] for h in admin] == ["sec", "other"]
    assert admin[0]["snippet"] == "the **zebra** **key** was exposed"  # the summary: both terms in one field
    for hit in search("viewer", "pay zebra"):
        assert "zebra" not in str(hit).casefold()
    bad = client.get("/api/v1/incidents/search", params={"q": "--"}, headers=auth("viewer"))
    assert bad.status_code == 422 and "no word" in bad.json()["detail"]


def test_show_one_incident(client, auth):
    viewer = client.get("/api/v1/incidents/sec", headers=auth("viewer")).json()
    assert viewer["redacted"] is True and viewer["title"] == REDACTED and viewer["users_affected"] is None
    assert viewer["severity"] == 1 and viewer["declared_at"] == "2026-03-05T10:00:00Z"
    assert [a["item_id"] for a in viewer["action_items"]] == ["rotate"]
    assert [e["event"] for e in viewer["timeline"]] == ["declared"] and viewer["postmortem"] is None
    admin = client.get("/api/v1/incidents/sec", headers=auth("auditor")).json()
    assert admin["title"] == "Key exposure" and admin["users_affected"] == 10 and admin["redacted"] is False
    missing = client.get("/api/v1/incidents/nope", headers=auth("viewer"))
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert "no incident 'nope'" in missing.json()["detail"]


def test_stats_by_team_keeps_a_team_member_to_its_teams(client, auth):
    everyone = client.get("/api/v1/incidents/stats", params={"by": "team"}, headers=auth("manager")).json()
    # teams: payments (i1, i2, pub, int, conf, sec = 6) and search (i3, i4, other = 3)
    assert [(g["group"], g["count"]) for g in everyone] == [("payments", 6), ("search", 3)]
    member = client.get("/api/v1/incidents/stats", params={"by": "team"}, headers=auth("team-member")).json()
    assert [g["group"] for g in member] == ["payments"]


def test_patterns_need_every_incident_readable(client, auth):
    # pub, int, conf and sec are all service pay; "rule" and "zebra" link nothing across them, so the
    # shared text is what the pattern module finds; a viewer never gets a pattern holding conf or sec
    for role in ("viewer", "team-member", "manager", "auditor"):
        patterns = client.get("/api/v1/incidents/patterns", headers=auth(role)).json()
        readable = {"viewer": {"pub", "int"}, "team-member": {"pub", "int", "conf"},
                    "manager": {"pub", "int", "conf", "other"}}.get(role)
        for p in patterns:
            assert readable is None or set(p["incident_ids"]) <= readable


def test_fatigue_answers_like_the_cli(client, auth):
    body = client.get("/api/v1/incidents/fatigue", params={"from": "2026-03-01", "to": "2026-04-01"},
                      headers=auth("viewer")).json()
    assert body["status"] == "no_data" and body["items"] == [] and body["by"] == "rule"
    bad = client.get("/api/v1/incidents/fatigue", params={"from": "2026-04-01", "to": "2026-03-01"},
                     headers=auth("viewer"))
    assert bad.status_code == 422


def test_a_pattern_with_a_hidden_incident_is_withheld(client, auth):
    # with threshold 0 every two incidents of one service link: the payments incidents form one pattern,
    # which holds the restricted `sec`: the admin sees it, the manager does not
    params = {"threshold": 0}
    admin = client.get("/api/v1/incidents/patterns", params=params, headers=auth("metrics-admin")).json()
    manager = client.get("/api/v1/incidents/patterns", params=params, headers=auth("manager")).json()
    payments = ["conf", "int", "pub", "sec"]
    assert payments in [sorted(p["incident_ids"]) for p in admin]
    assert payments not in [sorted(p["incident_ids"]) for p in manager]
    assert len(manager) == len(admin) - 1  # only the pattern with the restricted incident is withheld


def test_stats_to_a_date_includes_that_day_like_the_list(client, auth):
    manager = auth("manager")
    body = client.get("/api/v1/incidents/stats", params={"by": "team", "to": "2026-03-04"}, headers=manager).json()
    # through 2026-03-04 (as /incidents?to=2026-03-04): pub, int, conf (payments) and other (search, 03-04 10:00)
    assert [(g["group"], g["count"]) for g in body] == [("payments", 3), ("search", 1)]
    listed = client.get("/api/v1/incidents", params={"to": "2026-03-04"}, headers=manager).json()
    assert listed["total"] == 4


def test_stats_compare_previous_defaults_the_window_like_the_cli(client, auth):
    body = client.get("/api/v1/incidents/stats", params={"compare_previous": True, "to": "2026-03-31"},
                      headers=auth("manager")).json()
    # the 28 days before 2026-04-01 00:00: 2026-03-04 onwards: other, sec, i1..i4; previous: pub, int, conf
    [group] = body
    assert group["count"] == 6 and set(group["compare_previous"]) == {"ttd", "tta", "ttm", "ttr"}


def fatigue_data(store) -> None:
    """Two rotations (payments-primary, search-primary), one unanswered page each in March 2026."""
    store.sql.execute("INSERT INTO oncall_shifts VALUES ('p1', 'payments-primary', '2026-03-01 00:00:00+00', "
                      "'payments', '2026-03-15 00:00:00+00'), ('p2', 'search-primary', '2026-03-01 00:00:00+00', "
                      "'search', '2026-03-15 00:00:00+00')")
    store.sql.execute("INSERT INTO alerts (alert_id, rule, team, fired_at) VALUES "
                      "('a1', 'disk', 'payments', '2026-03-02 10:00:00+00'), "
                      "('a2', 'disk', 'search', '2026-03-02 11:00:00+00')")


def test_fatigue_by_rotation_keeps_a_team_member_to_its_teams(client, auth, api_store):
    fatigue_data(api_store)
    params = {"by": "rotation", "from": "2026-03-01", "to": "2026-03-31"}
    everyone = client.get("/api/v1/incidents/fatigue", params=params, headers=auth("manager")).json()
    assert [i["rotation"] for i in everyone["items"]] == ["payments-primary", "search-primary"]
    member = client.get("/api/v1/incidents/fatigue", params=params, headers=auth("team-member")).json()
    assert [i["rotation"] for i in member["items"]] == ["payments-primary"]
    assert [f["rotation"] for f in member["fairness"]] == ["payments-primary"]


def test_fatigue_with_an_unknown_zone_answers_with_a_warning(client, auth, api_store):
    fatigue_data(api_store)
    api_store.sql.execute("INSERT INTO people (person, valid_from, valid_to, team, timezone) "
                          "VALUES ('p1', DATE '2020-01-01', NULL, 'payments', 'Europe/Berln')")
    response = client.get("/api/v1/incidents/fatigue", params={"from": "2026-03-01", "to": "2026-03-31"},
                          headers=auth("viewer"))
    assert response.status_code == 200, response.text
    assert "unknown time zone 'Europe/Berln'" in response.json()["warnings"][0]


def test_oncall_answers_like_the_cli(client, auth, api_store):
    fatigue_data(api_store)
    params = {"from": "2026-03-01", "to": "2026-03-14"}  # to 2026-03-15 00:00: 14 days
    everyone = client.get("/api/v1/incidents/oncall", params=params, headers=auth("manager")).json()
    assert [(r["rotation"], r["pages"], r["oncall_hours"]) for r in everyone] == [
        ("payments-primary", 1, 336.0), ("search-primary", 1, 336.0)]  # 14 x 24 h; the unanswered page each
    assert everyone[0]["shares_suppressed"] is True and "p1" not in str(everyone)
    member = client.get("/api/v1/incidents/oncall", params=params, headers=auth("team-member")).json()
    assert [r["team"] for r in member] == ["payments"]
    bad = client.get("/api/v1/incidents/oncall", params={"from": "2026-03-10", "to": "2026-03-01"},
                     headers=auth("viewer"))
    assert bad.status_code == 422
