"""The reviews and decision-log routes (`/api/v1/insights/reviews`, `/decisions`, `/decisions/report`) and the
`/insights/reviews` page, on the API tests' app (tests/api/conftest.py), every indicator due 2030-01-01:
`deploys` (leading, outcome `delivery`), `failures` (lagging, outcome `delivery`: linked to `deploys`, which
serves the same outcome), `incidents` (lagging, outcome `failures`: no leading indicator's chain reaches it).

Deployments: before 2026-03-25 (03-18..03-24) 2, from it (03-25..03-31) 6 (see test_decisions.py)."""

from __future__ import annotations

from datetime import date

import pytest

import api.conftest as api_setup
from engmetrics.catalog.loader import Catalog
from engmetrics.insights.decisions import Decision, add_decision

DECISION = {"decision_id": "DEC-1", "date": "2026-03-25", "title": "Trunk-based", "owner_team": "platform",
            "metrics": ["deploys"], "outcome": "improved"}

# The API tests' app and workspace (tests/api/conftest.py), as fixtures of this module.
api_store, app, auth, client, settings, tokens = (api_setup.api_store, api_setup.app, api_setup.auth,
                                                  api_setup.client, api_setup.settings, api_setup.tokens)


def test_reviews_route(client, auth):
    response = client.get("/api/v1/insights/reviews", params={"as_of": "2030-01-15", "within": 10},
                          headers=auth("team-member"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["as_of"], body["within_days"], body["period"]) == (
        "2030-01-15", 10, {"start": "2029-10-18", "end": "2030-01-15"})  # 90 days ending 2030-01-15
    by_metric = {r["metric"]: r for r in body["reviews"]}
    assert set(by_metric) == {"deploys", "failures", "incidents"}
    assert (by_metric["deploys"]["state"], by_metric["deploys"]["days"]) == ("overdue", -14)
    assert [s["action"] for s in by_metric["deploys"]["suggestions"]] == ["deprecate"]
    # `incidents` is lagging and only `deploys` is leading: its chain (delivery) misses `incidents` and `failures`
    assert [s["action"] for s in by_metric["incidents"]["suggestions"]] == ["deprecate", "add leading indicator"]
    assert [s["action"] for s in by_metric["failures"]["suggestions"]] == ["deprecate"]
    assert client.get("/api/v1/insights/reviews").status_code == 401
    assert client.get("/api/v1/insights/reviews", params={"within": -1}, headers=auth("viewer")).status_code == 422


@pytest.mark.parametrize(("role", "status"), [("manager", 201), ("metrics-admin", 201), ("viewer", 403),
                                               ("team-member", 403), ("auditor", 403)])
def test_logging_a_decision_needs_a_manager_or_admin(client, auth, role, status):
    response = client.post("/api/v1/insights/decisions", json=DECISION, headers=auth(role))
    assert response.status_code == status, response.text
    if status == 201:
        assert response.json()["ingest"]["inserted"] == 1
        assert response.json()["decision"] == DECISION


def test_decision_log_round_trip(client, auth):
    post = client.post("/api/v1/insights/decisions", json=DECISION, headers=auth("manager"))
    assert post.json()["ingest"] == {"dataset": "decisions", "files": ["decision DEC-1 (engmetrics decisions add)"],
                                     "read": 1, "inserted": 1, "updated": 0, "unchanged": 0, "quarantined": 0}
    unknown = client.post("/api/v1/insights/decisions", json={**DECISION, "decision_id": "DEC-2", "metrics": ["nps"]},
                          headers=auth("manager"))
    assert unknown.status_code == 400 and "no indicator 'nps'" in unknown.json()["detail"]
    allowed = client.post("/api/v1/insights/decisions", json={**DECISION, "decision_id": "DEC-2", "metrics": ["nps"],
                                                               "allow_unknown": True}, headers=auth("manager"))
    assert allowed.status_code == 201
    assert client.post("/api/v1/insights/decisions", json={**DECISION, "metrics": []},
                       headers=auth("manager")).status_code == 422
    listed = client.get("/api/v1/insights/decisions", params={"metric": "deploys"}, headers=auth("viewer")).json()
    assert listed == [DECISION]
    report = client.get("/api/v1/insights/decisions/report", params={"after_days": 7, "as_of": "2026-03-31"},
                        headers=auth("viewer"))
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["decisions_total"], body["backed"], body["share_backed"]) == (2, 1, 0.5)
    move = body["decisions"][0]["moves"][0]
    assert (move["value_before"], move["value_after"], move["change"], move["verdict"]) == (2.0, 6.0, 4.0, "better")


def test_reviews_page_shows_reviews_and_the_decision_log(client, auth, tokens, api_store):
    client.post("/api/v1/insights/decisions", json=DECISION, headers=auth("manager"))
    # a decision citing nothing (possible in ingested files, not through `add`): a row, not backed
    add_decision(api_store, Catalog(), Decision("DEC-0", date(2026, 3, 1), "Hunch"))
    client.post("/login", data={"token": tokens["viewer"], "next": "/"}, follow_redirects=False)
    page = client.get("/insights/reviews", params={"after_days": 7})
    assert page.status_code == 200, page.text
    html = page.text
    assert '<table id="reviews">' in html and '<tr data-metric="deploys">' in html
    assert '<table id="decisions">' in html and '<tr data-decision="DEC-1">' in html
    assert "1 of 2 decisions were backed by data" in html
    assert '<tr data-decision="DEC-0">' in html and "no indicator cited" in html and "not backed by data" in html
    assert 'aria-current="page">Reviews' in html
    assert client.get("/insights/reviews", params={"within": -1}).status_code == 422


def test_the_retrospective_follows_the_access_policy(client, auth, settings, api_store):
    # deployments readable by managers only: a viewer's moves of `deploys` are not computed, a manager's are,
    # and the manager's read of values derived from the restricted dataset is audited once
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text("datasets:\n  deployments: [manager]\n")
    client.post("/api/v1/insights/decisions", json=DECISION, headers=auth("manager"))
    params = {"after_days": 7, "as_of": "2026-03-31"}
    viewer = client.get("/api/v1/insights/decisions/report", params=params, headers=auth("viewer")).json()
    assert viewer["decisions"][0]["moves"][0] == {"metric": "deploys", "before": None, "after": None,
                                                  "value_before": None, "value_after": None, "change": None,
                                                  "noise": None, "verdict": "not_readable"}
    assert viewer["share_backed"] == 1.0  # backed is about the catalog, not about who reads
    audit_before = api_store.sql.execute("SELECT count(*) FROM _audit WHERE target = 'deployments'").fetchone()[0]
    manager = client.get("/api/v1/insights/decisions/report", params=params, headers=auth("manager")).json()
    assert manager["decisions"][0]["moves"][0]["verdict"] == "better"
    audit_after = api_store.sql.execute("SELECT count(*) FROM _audit WHERE target = 'deployments'").fetchone()[0]
    assert audit_after == audit_before + 1


def test_the_page_follows_the_access_policy_as_the_route_does(client, auth, tokens, settings, api_store):
    # the page and the route share `readable_report`: the viewer's move of `deploys` is not computed (nothing
    # audited), the manager's is, with `deployments` audited once for the page
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text("datasets:\n  deployments: [manager]\n")
    client.post("/api/v1/insights/decisions", json=DECISION, headers=auth("manager"))

    def audited() -> int:
        return api_store.sql.execute("SELECT count(*) FROM _audit WHERE target = 'deployments'").fetchone()[0]

    start = audited()
    client.post("/login", data={"token": tokens["viewer"], "next": "/"}, follow_redirects=False)
    viewer = client.get("/insights/reviews", params={"after_days": 7})
    assert viewer.status_code == 200 and "not readable" in viewer.text and audited() == start
    client.post("/login", data={"token": tokens["manager"], "next": "/"}, follow_redirects=False)
    manager = client.get("/insights/reviews", params={"after_days": 7})
    assert manager.status_code == 200 and "not readable" not in manager.text and audited() == start + 1
