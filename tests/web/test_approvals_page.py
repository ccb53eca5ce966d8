"""The approvals queue page and the governance panel of the indicator page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.catalog.loader import load_catalog
from engmetrics.governance.board import approve, propose

PEOPLE = {"id": "reviews_given", "name": "Reviews given per person", "kind": "leading", "unit": "reviews",
          "direction": "higher_is_better", "cadence": "weekly", "audience": "individual", "status": "proposed",
          "owner": {"team": "platform", "role": "engineering manager"},
          "calculation": {"dataset": "reviews", "measure": {"type": "count"}}}
ASSESSMENT = """\
intended_behaviour_change: reviewers spread review work more evenly
gaming_risks: [rubber-stamp approvals]
groups_harmed: [part-time staff]
guardrails: [review depth sampled monthly]
review_date: 2027-01-31
"""


@pytest.fixture
def people_client(settings, api_store):
    root = settings.workspace
    (root / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [PEOPLE]}))
    return TestClient(create_app(settings, store=api_store))


def _board(settings) -> None:
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "review_board.yaml").write_text(
        "name: People board\nmembers: [ana, ben, cy]\nquorum: 2\n")


def test_queue_without_a_board(people_client, auth) -> None:
    page = people_client.get("/governance/approvals", headers=auth("viewer"))
    assert page.status_code == 200
    assert "There is no review board: create <code>policies/review_board.yaml</code>" in page.text
    assert '<a href="/indicators/reviews_given">Reviews given per person</a>' in page.text
    assert "Not proposed" in page.text and "audience individual" in page.text


def test_queue_and_panel_after_decisions(settings, api_store, auth) -> None:
    _board(settings)
    (settings.workspace / "assessments").mkdir()
    (settings.workspace / "assessments" / "reviews_given.yaml").write_text(ASSESSMENT)
    (settings.workspace / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [PEOPLE]}))
    catalog = load_catalog(settings.workspace)
    definition = catalog.get("reviews_given")
    propose(api_store, catalog.review_board, definition, "ana", at=datetime(2026, 3, 2, 9, tzinfo=UTC))
    approve(api_store, catalog.review_board, definition, "ben", "weekly groups of 5 or more",
            at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    client = TestClient(create_app(settings, store=api_store))

    queue = client.get("/governance/approvals", headers=auth("viewer")).text
    assert "People board: ana, ben, cy; quorum 2." in queue
    assert "Pending" in queue and "1 of 2" in queue
    assert "approve by ben, 2026-03-03: “weekly groups of 5 or more”" in queue

    panel = client.get("/indicators/reviews_given", headers=auth("viewer"))
    assert panel.status_code == 200, panel.text
    text = panel.text
    assert "approval needed (audience individual)" in text
    assert "1 of 2 approvals" in text
    assert "<td>2026-03-03 09:00</td><td>approve</td><td>ben</td>" in text
    assert "weekly groups of 5 or more" in text
    assert "Intended change: reviewers spread review work more evenly" in text
    assert "Could be gamed by: rubber-stamp approvals" in text


def test_panel_of_an_indicator_that_needs_no_approval(client, auth) -> None:
    text = client.get("/indicators/deploys", headers=auth("viewer")).text
    assert '<h2 id="governance-heading">Governance</h2>' in text
    assert "No approval needed" in text
    assert "none (<code>assessments/deploys.yaml</code>)" in text
