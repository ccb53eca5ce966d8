"""`/api/v1/governance/approvals`: the queue, an indicator's decisions, and deciding as the token's user."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.governance import audit

PEOPLE = {"id": "reviews_given", "name": "Reviews given per person", "kind": "leading", "unit": "reviews",
          "direction": "higher_is_better", "cadence": "weekly", "audience": "individual", "status": "proposed",
          "owner": {"team": "platform", "role": "engineering manager"},
          "calculation": {"dataset": "reviews", "measure": {"type": "count"}}}
BASE = "/api/v1/governance/approvals"


@pytest.fixture
def board_client(settings, api_store):
    root = settings.workspace
    (root / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [PEOPLE]}))
    (root / "policies").mkdir()
    (root / "policies" / "review_board.yaml").write_text("name: People board\nmembers: [ana, ben]\nquorum: 1\n")
    return TestClient(create_app(settings, store=api_store))


@pytest.fixture
def as_user(api_store):
    """as_user(role, user) -> headers of a new token for that person."""
    def headers(role: str, user: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(api_store, role, user=user).token}"}
    return headers


def test_queue_and_decisions(board_client, as_user, api_store) -> None:
    viewer = as_user("viewer", None)
    [queued] = board_client.get(BASE, headers=viewer).json()
    assert (queued["metric"], queued["state"], queued["approvals"], queued["quorum"], queued["reasons"]) == (
        "reviews_given", "not_proposed", 0, 1, ["audience individual"])

    ana, ben = as_user("manager", "ana"), as_user("metrics-admin", "ben")
    proposed = board_client.post(f"{BASE}/reviews_given/propose", headers=ana)
    assert proposed.status_code == 201, proposed.text
    assert (proposed.json()["decision"]["actor"], proposed.json()["status"]["state"]) == ("ana", "pending")

    own = board_client.post(f"{BASE}/reviews_given/approve", headers=ana, json={"rationale": "mine"})
    assert own.status_code == 409
    assert "ana proposed reviews_given" in own.json()["detail"]

    approved = board_client.post(f"{BASE}/reviews_given/approve", headers=ben, json={"rationale": "weekly, 5+"})
    assert approved.status_code == 201, approved.text
    assert approved.json()["status"]["state"] == "approved"

    detail = board_client.get(f"{BASE}/reviews_given", headers=viewer).json()
    assert (detail["state"], detail["approvers"], detail["proposed_by"]) == ("approved", ["ben"], "ana")
    assert [(d["action"], d["actor"], d["rationale"]) for d in detail["decisions"]] == [
        ("propose", "ana", None), ("approve", "ben", "weekly, 5+")]
    assert [(e.actor, e.action) for e in audit.entries(api_store, action="governance.")] == [
        ("ana", "governance.propose"), ("ben", "governance.approve")]


def test_a_non_member_is_refused(board_client, as_user) -> None:
    board_client.post(f"{BASE}/reviews_given/propose", headers=as_user("manager", "ana"))
    carol = as_user("manager", "carol")
    refused = board_client.post(f"{BASE}/reviews_given/approve", headers=carol, json={"rationale": "ok"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "carol is not a member of the People board; members: ana, ben"
    anonymous_token = as_user("manager", None)  # a token without a user acts as token:<id>, not a member
    assert board_client.post(f"{BASE}/reviews_given/reject", headers=anonymous_token,
                             json={"rationale": "no"}).status_code == 403


def test_roles_and_bad_requests(board_client, as_user) -> None:
    viewer = as_user("viewer", "ana")
    assert board_client.post(f"{BASE}/reviews_given/propose", headers=viewer).status_code == 403
    manager = as_user("manager", "ana")
    assert board_client.post(f"{BASE}/reviews_given/approve", headers=manager, json={"rationale": " "}
                             ).status_code == 422
    assert board_client.get(f"{BASE}/nope", headers=manager).status_code == 404
    assert board_client.get(f"{BASE}/deploys", headers=manager).json()["state"] == "not_required"
    team = board_client.post(f"{BASE}/deploys/propose", headers=manager)
    assert team.status_code == 409 and "does not need review-board approval" in team.json()["detail"]


def test_a_proposal_the_other_members_cannot_approve_is_a_409(settings, api_store, as_user) -> None:
    """review_b #9: with members ana and ben and quorum 2, ana's own proposal could never be approved."""
    root = settings.workspace
    (root / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [PEOPLE]}))
    (root / "policies").mkdir()
    (root / "policies" / "review_board.yaml").write_text("name: People board\nmembers: [ana, ben]\nquorum: 2\n")
    client = TestClient(create_app(settings, store=api_store))
    refused = client.post(f"{BASE}/reviews_given/propose", headers=as_user("manager", "ana"))
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("ana cannot approve their own proposal, and the 1 other member(s) "
                                               "of the People board cannot reach its quorum of 2")
    assert audit.entries(api_store) == []
    assert client.post(f"{BASE}/reviews_given/propose", headers=as_user("manager", "dee")).status_code == 201
