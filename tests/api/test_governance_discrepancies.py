"""GET /api/v1/governance/discrepancies and POST .../discrepancies/review: the CLI's JSON, team scoping (the
team-member's team is payments), reviews acting as the token's user, and who may write.

Data and hand-checked numbers as in tests/governance/test_discrepancies.py (as of 2026-10-31): payments green
all Q3 against perception 1.5/5 (gap 0.875, teams_feel_worse), search health 0.5 against 5/5 (gap 0.5,
teams_feel_better), checkout 4.6/5 matching (gap 0.1). Unlike there, the API store also holds incidents in
March (tests/api/conftest.py), so April and May are covered too: payments 2026-Q2 is green all quarter (3 of 3
windows) against 1.0/5 (perception 0): gap 1.0, teams_feel_worse.
"""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.governance import audit
from engmetrics.ingest import ingest_files
from governance.test_discrepancies import INCIDENTS, METRIC, PERCEPTION

from .conftest import KEY

URL = "/api/v1/governance/discrepancies"
AT = {"at": "2026-10-31"}


@pytest.fixture
def gov_client(settings, api_store, tmp_path):
    (settings.workspace / "metrics" / "oncall.yaml").write_text(yaml.safe_dump({"indicators": [METRIC]}))
    for name, text in (("incidents", INCIDENTS), ("perception", PERCEPTION)):
        path = tmp_path / f"gov-{name}.csv"
        path.write_text(text)
        ingest_files(api_store, name, [path], pseudonym_key=KEY)
    return TestClient(create_app(settings, store=api_store))


def _bearer(store, role: str, teams=(), user: str | None = None) -> dict[str, str]:
    token = create_token(store, role, list(teams), user=user).token
    return {"Authorization": f"Bearer {token}"}


def test_list_is_the_cli_json_and_team_members_see_their_teams(gov_client, api_store, auth):
    body = gov_client.get(URL, params=AT, headers=auth("viewer")).json()
    assert (body["at"], body["period"], body["threshold"], body["scale"], body["compared"]) == (
        "2026-10-31", None, 0.5, [1.0, 5.0], 4)
    assert [(i["team"], i["period"], i["status"], i["health"], i["perception"], i["gap"], i["direction"])
            for i in body["items"]] == [("payments", "2026-Q2", "green", 1.0, 0.0, 1.0, "teams_feel_worse"),
                                        ("payments", "2026-Q3", "green", 1.0, 0.125, 0.875, "teams_feel_worse"),
                                        ("search", "2026-Q3", "mixed", 0.5, 1.0, 0.5, "teams_feel_better")]
    mine = gov_client.get(URL, params=AT, headers=auth("team-member")).json()  # team payments
    assert ([i["team"] for i in mine["items"]], mine["compared"]) == (["payments", "payments"], 2)
    other = gov_client.get(URL, params=AT, headers=_bearer(api_store, "team-member", ["checkout"])).json()
    assert (other["items"], other["compared"]) == ([], 1)
    only_q2 = gov_client.get(URL, params={**AT, "period": "2026-Q2"}, headers=auth("manager")).json()
    assert ([(i["team"], i["period"]) for i in only_q2["items"]], only_q2["compared"]) == ([("payments", "2026-Q2")], 1)


def test_bad_period_is_a_422(gov_client, auth):
    response = gov_client.get(URL, params={"period": "Q3-2026"}, headers=auth("viewer"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "period"


def test_a_manager_reviews_as_the_tokens_user(gov_client, api_store):
    manager = _bearer(api_store, "manager", user="ana")
    response = gov_client.post(f"{URL}/review", headers=manager, json={
        "metric": "incidents_per_team", "team": "payments", "period": "2026-Q3", "note": "noisy pager rules",
        "resolution": "action_taken"})
    assert response.status_code == 201, response.text
    assert {k: v for k, v in response.json().items() if k != "reviewed_at"} == {
        "metric": "incidents_per_team", "team": "payments", "period": "2026-Q3", "note": "noisy pager rules",
        "resolution": "action_taken", "reviewer": "ana"}
    items = gov_client.get(URL, params={**AT, "period": "2026-Q3"}, headers=manager).json()["items"]
    assert [(i["team"], i["review"] and i["review"]["reviewer"]) for i in items] == [("payments", "ana"),
                                                                                     ("search", None)]
    still_open = gov_client.get(URL, params={**AT, "open": "true"}, headers=manager).json()["items"]
    assert [(i["team"], i["period"]) for i in still_open] == [("payments", "2026-Q2"), ("search", "2026-Q3")]
    [entry] = audit.entries(api_store, action="discrepancy.review")
    assert (entry.actor, entry.target, entry.details["team"]) == ("ana", "incidents_per_team", "payments")


def test_review_roles_and_bad_reviews(gov_client, api_store, auth):
    body = {"metric": "incidents_per_team", "team": "search", "period": "2026-Q3", "note": "seen"}
    for role in ("viewer", "team-member", "auditor"):
        assert gov_client.post(f"{URL}/review", headers=auth(role), json=body).status_code == 403
    admin = auth("metrics-admin")
    assert gov_client.post(f"{URL}/review", headers=admin, json={**body, "resolution": "fixed"}).status_code == 422
    unknown = gov_client.post(f"{URL}/review", headers=admin, json={**body, "team": "nobody"})
    assert unknown.status_code == 400 and "no perception score of team 'nobody'" in unknown.json()["detail"]
    created = gov_client.post(f"{URL}/review", headers=admin, json=body)
    assert created.status_code == 201 and created.json()["reviewer"].startswith("token:")


def test_the_access_policy_hides_discrepancies_of_indicators_over_data_the_caller_may_not_read(
        gov_client, settings, api_store, auth):
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text(
        "datasets:\n  incidents: [manager, auditor, metrics-admin]\n")
    assert gov_client.get(URL, params=AT, headers=auth("viewer")).json()["items"] == []
    items = gov_client.get(URL, params=AT, headers=auth("manager")).json()["items"]
    assert len(items) == 3  # the three discrepancies of the first test
    [entry] = audit.entries(api_store, action="read.dataset")
    assert (entry.target, entry.details["role"]) == ("incidents", "manager")
