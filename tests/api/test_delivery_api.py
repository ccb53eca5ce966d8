"""GET /api/v1/delivery/dora, /cycle-time, /reviews, /guardrails and /silos: the CLI's JSON (the library's
`to_dict`, which `--json` prints), DORA's scope options, the default window of cycle time and reviews (the
same in the CLI), tokens, bad parameters and team scoping (the team-member's team is payments).

Data: the API tests' deployments (pay d1..d3, d7..d9, search d4..d6) with services pay -> payments and
search -> search, and two changes of tests/delivery/test_cycle_time.py's Berlin team (authors a, rev).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from delivery.test_cycle_time import _change, _org, _review
from engmetrics.delivery.cycle_time import cycle_time_stats
from engmetrics.delivery.dora import DoraScope, dora_metrics
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
    assert set(silos) == {"as_of", "repositories", "services", "teams", "support", "docs", "docs_by_service"}


def _scoped_changes(store) -> None:
    """shop-1 (pay) merged 03-25 12:00 is shipped by d2 (the previous successful pay deploy is d1 at 00:00); its
    merge commit touched svc/pay/app.py. legacy-1 (pay) merged 03-20 12:00 is shipped by d7, pay's first
    successful deploy (d8 failed), only within the lookback (4.5 days before it)."""
    store.sql.executemany("INSERT INTO changes (change_id, repo, service, author, created_at, merged_at, "
                          "merge_commit_sha) VALUES (?,?,?,?,?,?,?)", [
                              ("shop-1", "shop", "pay", "a", "2026-03-25 08:00:00+00", "2026-03-25 12:00:00+00", "m1"),
                              ("legacy-1", "legacy", "pay", "a", "2026-03-20 08:00:00+00", "2026-03-20 12:00:00+00",
                               None)])
    store.sql.execute("INSERT INTO commit_files (sha, path, repo, author, committed_at) VALUES (?,?,?,?,?)",
                      ["m1", "svc/pay/app.py", "shop", "a", "2026-03-25 12:00:00+00"])


def _counts(body: list[dict]) -> list[tuple[str, int, int]]:
    return [(g["group"], g["deployments"], g["lead_time"]["n"]) for g in body]


def test_dora_takes_the_cli_scope_options(client, auth, api_store, settings):
    _scoped_changes(api_store)
    # pay: d7, d1, d2 successful in the window; search: d4, d6; lead time: the two pay changes
    assert _counts(_get(client, auth, "dora", service="pay", **WINDOW)) == [("all", 3, 2)]
    assert _counts(_get(client, auth, "dora", team="search", **WINDOW)) == [("all", 2, 0)]
    assert _counts(_get(client, auth, "dora", repo="shop", **WINDOW)) == [("all", 1, 1)]  # d2 shipped shop-1
    assert _counts(_get(client, auth, "dora", path_prefix="svc/", **WINDOW)) == [("all", 1, 1)]
    assert _get(client, auth, "dora", path_prefix="docs/", **WINDOW) == []
    assert _counts(_get(client, auth, "dora", repo="legacy", **WINDOW)) == [("all", 1, 1)]  # d7, lookback 14 days
    assert _get(client, auth, "dora", repo="legacy", lookback_days=4, **WINDOW) == []  # 4.5 days: not linked
    body = _get(client, auth, "dora", by="service", team="payments", repo="shop", lookback_days=7, **WINDOW)
    expected = dora_metrics(api_store, settings.delivery, start=START, end=END, by="service",
                            scope=DoraScope(team="payments", repo="shop"), lookback_days=7,
                            deploy_window_hours=settings.incidents.deploy_window_hours,
                            min_group_size=settings.privacy.min_group_size)
    assert body == _json([g.to_dict() for g in expected]) and _counts(body) == [("pay", 1, 1)]
    # a team-member scoped to another team gets nothing (as grouped by team); to its own, the figures
    assert _get(client, auth, "dora", "team-member", team="search", **WINDOW) == []
    assert _counts(_get(client, auth, "dora", "team-member", team="payments", **WINDOW)) == [("all", 3, 2)]


def _recent_reviews(store, now: datetime) -> None:
    """Relative to now: change `recent` (repo recent) merged 3 days ago, reviewed 2 days ago 3 times by o1 and
    once by o2; change `old` (repo old) merged 60 days ago, reviewed 70 days ago by o6, whose membership of ops
    ended 60 days ago. o1..o5 are members of ops now."""
    ex, day = store.sql.execute, timedelta(days=1)
    ex("INSERT INTO teams (team, timezone) VALUES ('ops', 'UTC')")
    for who in ("o1", "o2", "o3", "o4", "o5"):
        ex("INSERT INTO people (person, valid_from, team) VALUES (?, '2020-01-01', 'ops')", [who])
    ex("INSERT INTO people (person, valid_from, valid_to, team) VALUES ('o6', '2020-01-01', ?, 'ops')",
       [(now - 60 * day).date()])
    for cid, merged in (("recent", now - 3 * day), ("old", now - 60 * day)):
        ex("INSERT INTO changes (change_id, repo, author, created_at, merged_at) VALUES (?,?,?,?,?)",
           [cid, cid, "a", merged - day, merged])
    reviews = [("recent", "o1", now - 2 * day + timedelta(hours=h)) for h in range(3)]
    reviews += [("recent", "o2", now - 2 * day), ("old", "o6", now - 70 * day)]
    store.sql.executemany("INSERT INTO reviews (change_id, reviewer, submitted_at, state) VALUES (?,?,?,'approved')",
                          reviews)


def _ops(report: dict) -> dict:
    return next(c for c in report["concentration"] if c["team"] == "ops")


# In the 28 days before now: change `recent` only; ops has reviewers o1..o5 (o6 left before) with 3, 1, 0, 0, 0
# reviews: top ceil(20 % x 5) = 1 holds 3 / 4. Over all time it would be o1..o6, 5 reviews, top 2: (3 + 1) / 5.
DEFAULT_OPS = {"team": "ops", "suppressed": False, "reviewers": 5, "reviews": 4, "top_share": 0.75}


def test_cycle_time_and_reviews_default_to_the_last_28_days(client, auth, api_store):
    _recent_reviews(api_store, datetime.now(UTC))
    assert [g["group"] for g in _get(client, auth, "cycle-time", by="repo")] == ["recent"]  # not old, not repo1
    assert _ops(_get(client, auth, "reviews")) == DEFAULT_OPS
    wide = _get(client, auth, "reviews", **{"from": "2020-01-01"})  # an explicit window still applies
    assert (_ops(wide)["reviewers"], _ops(wide)["reviews"], _ops(wide)["top_share"]) == (6, 5, 0.8)


def test_the_cli_has_the_same_default_window(workspace, workspace_store, cli):
    _org(workspace_store)
    _recent_reviews(workspace_store, datetime.now(UTC))
    workspace_store.close()
    cycle = cli("delivery", "cycle-time", "--by", "repo", "--json")
    assert cycle.exit_code == 0, cycle.output
    assert [g["group"] for g in json.loads(cycle.output)] == ["recent"]
    reviews = cli("delivery", "reviews", "--json")
    assert reviews.exit_code == 0, reviews.output
    assert _ops(json.loads(reviews.output)) == DEFAULT_OPS
    assert cli("delivery", "reviews", "--from", "2099-01-01").exit_code == 1  # after the default end (now)


@pytest.mark.parametrize(("route", "params", "field"), [
    ("dora", {"from": "soon"}, "from"), ("dora", {"benchmark": "1999"}, "benchmark"),
    ("dora", {"by": "person"}, "by"), ("cycle-time", {"from": "2026-03-10", "to": "2026-03-01"}, "from"),
    ("reviews", {"to": "later"}, "to"), ("guardrails", {"from": "2026-13"}, "from"),
    ("guardrails", {"from": "2026-04", "to": "2026-03"}, "to"), ("silos", {"as_of": "someday"}, "as_of"),
    ("dora", {"lookback_days": -1}, "lookback_days"), ("dora", {"path_prefix": "x" * 1001}, "path_prefix")])
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
