"""GET /api/v1/delivery/dora, /cycle-time, /reviews, /guardrails and /silos: the CLI's JSON (the library's
`to_dict`, which `--json` prints), tokens, bad parameters and team scoping (the team-member's team is payments).

Data: the API tests' deployments (pay d1..d3, d7..d9, search d4..d6) with services pay -> payments and
search -> search, and two changes of tests/delivery/test_cycle_time.py's Berlin team (authors a, rev).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from delivery.test_cycle_time import _change, _org, _review
from engmetrics.delivery.cycle_time import cycle_time_stats
from engmetrics.delivery.dora import dora_metrics
from engmetrics.delivery.guardrails import guardrails
from engmetrics.delivery.reviews import review_report
from engmetrics.delivery.silos import repository_silos

PROBLEM = "application/problem+json"
WINDOW = {"from": "2026-03-18", "to": "2026-03-31"}  # to: a date includes that day -> [03-18, 04-01)
START, END = datetime(2026, 3, 18, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
ROUTES = ("dora", "cycle-time", "reviews", "guardrails", "silos")


@pytest.fixture
def api_store(api_store):
    api_store.sql.execute("INSERT INTO services (service, team) VALUES ('pay', 'payments'), ('search', 'search')")
    _org(api_store)
    _change(api_store, "c1", "a", "2026-03-23 08:00:00+00", "2026-03-23 14:00:00+00")
    _review(api_store, "c1", "rev", "2026-03-23 09:00:00+00")
    return api_store


def _json(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


def _get(client, auth, route: str, role: str = "manager", **params: object):
    response = client.get(f"/api/v1/delivery/{route}", params=params, headers=auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_routes_need_a_token(client):
    for route in ROUTES:
        response = client.get(f"/api/v1/delivery/{route}")
        assert response.status_code == 401 and response.headers["content-type"] == PROBLEM


def test_dora_is_the_cli_json(client, auth, api_store, settings):
    body = _get(client, auth, "dora", by="team", **WINDOW)
    expected = dora_metrics(api_store, settings.delivery, start=START, end=END, by="team",
                            deploy_window_hours=settings.incidents.deploy_window_hours,
                            min_group_size=settings.privacy.min_group_size)
    assert body == _json([g.to_dict() for g in expected])
    # successful production deploys in [03-18, 04-01): payments d1, d2, d7 (d3, d8 failed, d9 on 04-01); search d4, d6
    assert [(g["group"], g["deployments"]) for g in body] == [("payments", 3), ("search", 2)]
    assert body[0]["change_fail_rate"]["band"] is not None and body[0]["benchmark"] == "2024"


def test_cycle_time_and_reviews_are_the_cli_json(client, auth, api_store, settings):
    delivery, size = settings.delivery, settings.privacy.min_group_size
    body = _get(client, auth, "cycle-time", by="team", **WINDOW)
    assert body == _json([g.to_dict() for g in cycle_time_stats(api_store, delivery, by="team", start=START,
                                                                 end=END, min_group_size=size)])
    assert body == [{"group": "berlin", "suppressed": True, "n": None, "pr_size_p50": None, "stages": {}}]  # 1 author
    reviews = _get(client, auth, "reviews", **WINDOW)
    expected = review_report(api_store, delivery, start=START, end=END, min_group_size=size).to_dict()
    assert {k: v for k, v in reviews.items() if k != "waiting"} == _json(
        {k: v for k, v in expected.items() if k != "waiting"})  # waiting is measured up to now


def test_guardrails_and_silos_are_the_cli_json(client, auth, api_store, settings):
    body = _get(client, auth, "guardrails", **{"from": "2026-02", "to": "2026-04"})
    teams = guardrails(api_store, settings.delivery, start=datetime(2026, 2, 1, tzinfo=UTC), end=START.replace(
        day=1, month=4), deploy_window_hours=settings.incidents.deploy_window_hours)
    assert body == _json([t.to_dict() for t in teams])
    assert {t["team"] for t in body} >= {"payments", "search"} and body[0]["months"] == ["2026-02", "2026-03"]
    silos = _get(client, auth, "silos", as_of="2026-03-31")
    assert silos["as_of"] == "2026-03-31"
    assert silos["repositories"] == _json([r.to_dict() for r in repository_silos(api_store, date(2026, 3, 31))])
    assert set(silos) == {"as_of", "repositories", "teams", "support", "docs"}


@pytest.mark.parametrize(("route", "params", "field"), [
    ("dora", {"from": "soon"}, "from"), ("dora", {"benchmark": "1999"}, "benchmark"),
    ("dora", {"by": "person"}, "by"), ("cycle-time", {"from": "2026-03-10", "to": "2026-03-01"}, "from"),
    ("reviews", {"to": "later"}, "to"), ("guardrails", {"from": "2026-13"}, "from"),
    ("guardrails", {"from": "2026-04", "to": "2026-03"}, "to"), ("silos", {"as_of": "someday"}, "as_of")])
def test_bad_parameters_are_422(client, auth, route, params, field):
    response = client.get(f"/api/v1/delivery/{route}", params=params, headers=auth("viewer"))
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM, response.text
    assert field in response.text


def test_a_team_member_sees_its_own_teams_only(client, auth):
    assert [g["group"] for g in _get(client, auth, "dora", "team-member", by="team", **WINDOW)] == ["payments"]
    assert [g["group"] for g in _get(client, auth, "dora", "viewer", by="team", **WINDOW)] == ["payments", "search"]
    assert [g["group"] for g in _get(client, auth, "dora", "team-member", by="service", **WINDOW)] == [
        "pay", "search"]  # not grouped by team: every group
    assert _get(client, auth, "cycle-time", "team-member", by="team", **WINDOW) == []  # berlin is not theirs
    assert [t["team"] for t in _get(client, auth, "guardrails", "team-member", **{"from": "2026-02",
                                                                                   "to": "2026-04"})] == ["payments"]
    reviews = _get(client, auth, "reviews", "team-member", **WINDOW)
    assert reviews["shares_by_team"] == [] and reviews["shares_by_repo"] != []


def test_peer_feedback_is_not_served(client, auth):
    assert client.get("/api/v1/delivery/feedback", headers=auth("metrics-admin")).status_code == 404
