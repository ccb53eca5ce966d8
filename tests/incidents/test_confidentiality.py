"""The confidentiality policy: who reads what, redaction in the library and the CLI, and the search leak test.

Incidents (team, level): pub (payments, public), int (payments, null = internal), conf (payments, confidential),
other (search, confidential), sec (payments, restricted; its summary holds the secret word "zebra").
"""

from __future__ import annotations

import json
from itertools import product

import pytest

from engmetrics.auth.roles import Principal, Role
from engmetrics.incidents.confidentiality import REDACTED, Level, can_read, readable_expr, redact_record
from engmetrics.incidents.search import IncidentFilter, get_incident, list_incidents, search_incidents

from .test_search import add_incidents, add_postmortem

VIEWER, MANAGER = Principal("v", Role.viewer), Principal("m", Role.manager)
ADMIN, AUDITOR = Principal("a", Role.metrics_admin), Principal("u", Role.auditor)
MEMBER = Principal("t", Role.team_member, ("payments",))
ROWS = [
    {"incident_id": "pub", "team": "payments", "service": "pay", "severity": 3, "confidentiality": "public",
     "title": "Slow checkout", "summary": "cache cold", "declared_at": "2026-03-01 10:00:00+00"},
    {"incident_id": "int", "team": "payments", "service": "pay", "severity": 3, "title": "Card declines",
     "summary": "issuer outage", "declared_at": "2026-03-02 10:00:00+00", "contributing_factors": ["vendor"]},
    {"incident_id": "conf", "team": "payments", "service": "pay", "severity": 2, "confidentiality": "confidential",
     "title": "Fraud rule bypass", "summary": "rule disabled", "declared_at": "2026-03-03 10:00:00+00"},
    {"incident_id": "other", "team": "search", "service": "search", "severity": 2, "confidentiality": "confidential",
     "title": "Index leak", "summary": "zebra crossing index", "declared_at": "2026-03-04 10:00:00+00"},
    {"incident_id": "sec", "team": "payments", "service": "pay", "severity": 1, "confidentiality": "restricted",
     "title": "Key exposure", "summary": "the zebra key was exposed", "root_cause_category": "secrets",
     "contributing_factors": ["vendor", "zebra"], "users_affected": 10, "customer_impact": True,
     "declared_at": "2026-03-05 10:00:00+00"},
]
# who reads which incident's text (hand-made from the policy table in the module docstring)
READS = {
    None: {"pub", "int", "conf", "other", "sec"},
    VIEWER: {"pub", "int"},
    MEMBER: {"pub", "int", "conf"},  # conf is its team's; other is the search team's
    MANAGER: {"pub", "int", "conf", "other"},
    AUDITOR: {"pub", "int", "conf", "other", "sec"},
    ADMIN: {"pub", "int", "conf", "other", "sec"},
}


@pytest.fixture
def archive(workspace_store):
    add_incidents(workspace_store, ROWS)
    return workspace_store


@pytest.mark.parametrize("reader", list(READS), ids=lambda r: "owner" if r is None else r.role.value)
def test_each_reader_reads_exactly_the_incidents_of_the_policy(archive, reader):
    total, items = list_incidents(archive, reader)
    assert total == 5  # everyone sees that every incident exists
    assert {i["incident_id"] for i in items if not i["redacted"]} == READS[reader]
    for item in items:
        source = next(r for r in ROWS if r["incident_id"] == item["incident_id"])
        if item["redacted"]:
            assert (item["title"], item["summary"], item["contributing_factors"]) == (REDACTED, REDACTED, [REDACTED])
            assert item["users_affected"] is None and item["customer_impact"] is None
        else:
            assert item["title"] == source["title"]
        assert (item["service"], item["severity"], item["team"]) == (source["service"], source["severity"],
                                                                      source["team"])


def test_engine_expression_agrees_with_the_python_policy(workspace_store):
    levels = [None, "bogus", *(m.value for m in Level)]
    add_incidents(workspace_store, [
        {"incident_id": f"{n}", "team": team, "severity": 1, "confidentiality": level,
         "declared_at": "2026-03-01 00:00:00+00"}
        for n, (level, team) in enumerate(product(levels, ["payments", "search", None]))])
    t = workspace_store.table("incidents")
    readers = [None, Principal("x", Role.team_member), *READS]
    for reader in readers:
        rows = t.select("confidentiality", "team", ok=readable_expr(reader, t.confidentiality, t.team))
        for row in rows.to_pyarrow().to_pylist():
            assert row["ok"] == can_read(reader, row["confidentiality"], row["team"]), (reader, row)


def test_redact_record_keeps_the_visible_fields():
    record = {"incident_id": "x", "team": "a", "severity": 1, "title": "t", "users_affected": 3,
              "confidentiality": "confidential"}
    assert redact_record(record, VIEWER) == {"incident_id": "x", "team": "a", "severity": 1, "title": REDACTED,
                                             "users_affected": None, "confidentiality": "confidential",
                                             "redacted": True}
    assert redact_record(record, Principal("t", Role.team_member, ("a",)))["title"] == "t"


def test_search_never_leaks_redacted_text(archive):
    # the secret word is only in "other" (confidential, search team) and "sec" (restricted)
    assert search_incidents(archive, "zebra", VIEWER) == []
    assert search_incidents(archive, "zebra", MEMBER) == []
    assert [h.incident_id for h in search_incidents(archive, "zebra", MANAGER)] == ["other"]
    admin = search_incidents(archive, "zebra key", ADMIN)
    assert [h.incident_id for h in admin] == ["sec", "other"]
    assert "**zebra**" in admin[0].snippet and admin[0].title == "Key exposure"
    # a viewer finds the restricted incident by what it may read (its service), without a hidden word in sight
    pay = search_incidents(archive, "pay zebra", VIEWER)
    assert {h.incident_id for h in pay} == {"pub", "int", "conf", "sec"}
    for hit in pay:
        assert "zebra" not in json.dumps(hit.to_dict()).casefold()
    sec = next(h for h in pay if h.incident_id == "sec")
    assert (sec.title, sec.redacted, sec.snippet) == (REDACTED, True, "**pay**")


def test_hidden_text_does_not_change_the_ranking_statistics(archive, workspace_store):
    # For the viewer, "vendor" occurs in int only (sec's factors are hidden): N = 5, n = 1, so
    # idf = ln(1 + 4.5 / 1.5) = ln 4. The viewer's documents: pub [slow checkout cache cold pay] 5,
    # int [card declines issuer outage vendor pay] 6, conf/other/sec only their service: 1 each;
    # avgdl = (5 + 6 + 1 + 1 + 1) / 5 = 2.8; int: norm = 1.2 * (0.25 + 0.75 * 6 / 2.8) = 2.228571,
    # score = ln 4 * 2.2 / (1 + 2.228571) = 1.386294 * 0.681416 = 0.944643
    hit, = search_incidents(archive, "vendor", VIEWER)
    assert hit.incident_id == "int" and hit.score == pytest.approx(0.944643, abs=1e-6)
    assert list_incidents(archive, VIEWER, IncidentFilter(factor="zebra")) == (0, [])
    assert list_incidents(archive, ADMIN, IncidentFilter(factor="zebra"))[0] == 1


def test_postmortem_text_follows_both_confidentialities(archive):
    add_postmortem(archive, "int", trigger="a zebra deploy", confidentiality="restricted", went_well="rollback")
    add_postmortem(archive, "pub", trigger="cold cache after deploy", contributing_factors=["capacity", "deploy"])
    assert search_incidents(archive, "zebra", VIEWER) == []
    assert [h.incident_id for h in search_incidents(archive, "deploy", VIEWER)] == ["pub"]
    assert [h.incident_id for h in search_incidents(archive, "capacity", VIEWER)] == ["pub"]
    assert {h.incident_id for h in search_incidents(archive, "zebra", ADMIN)} == {"int", "other", "sec"}
    shown = get_incident(archive, VIEWER, "int")
    assert shown["title"] == "Card declines" and shown["postmortem"]["trigger"] == REDACTED
    assert get_incident(archive, ADMIN, "int")["postmortem"]["went_well"] == "rollback"
    assert get_incident(archive, VIEWER, "pub")["postmortem"]["contributing_factors"] == "capacity; deploy"
    assert get_incident(archive, VIEWER, "conf")["postmortem"] is None


def test_cli_applies_the_role(workspace, archive, cli):
    archive.close()

    def ids(*args: str) -> list[str]:
        result = cli("incidents", "search", *args, "--json")
        assert result.exit_code == 0, result.output
        return [i["incident_id"] for i in json.loads(result.stdout)]

    assert ids("zebra") == ["sec", "other"]  # the owner (no --as-role) reads everything
    assert ids("zebra", "--as-role", "viewer") == []
    assert ids("zebra", "--as-role", "team-member", "--team", "search") == ["other"]
    assert ids("zebra", "--as-role", "auditor") == ["sec", "other"]
    # severity 1: only sec, whose visible text is its service [pay]: N = 1, n = 1, idf = ln(1 + 0.5 / 1.5)
    # = ln(4/3) = 0.287682; |D| = avgdl = 1, so the term factor is 2.2 / (1 + 1.2) = 1
    viewer = cli("incidents", "search", "pay", "--as-role", "viewer", "--severity", "1", "--json")
    assert json.loads(viewer.stdout) == [{"incident_id": "sec", "score": pytest.approx(0.287682, abs=1e-6),
                                          "title": REDACTED, "service": "pay", "severity": 1,
                                          "declared_at": "2026-03-05T10:00:00+00:00", "snippet": "**pay**",
                                          "redacted": True}]
    bad = cli("incidents", "search", "x", "--as-role", "boss")
    assert bad.exit_code == 1 and "unknown role 'boss'" in bad.output
    bad = cli("incidents", "search", "x", "--as-role", "viewer", "--team", "a")
    assert bad.exit_code == 1 and "--team applies to --as-role team-member" in bad.output
