"""Indicator values under the access policy and the team scope (review_a findings 2, 3 and 10).

- Individual-level indicators are published per team whatever their `group_by` says, so a team-member sees
  the organisation row and its own teams' rows only (tests/governance/privacy_data.py: payments, search,
  platform; the token's team is payments).
- Values derived from a dataset the role may not read are left out of `/api/v1/metrics`, `/api/v1/scorecard`
  and Prometheus `/metrics`; the restricted datasets behind the values served are audited once per request.
  `cloud_spend` sums `cost.EffectiveCost` (tests/api/test_cost_api.py `fill`): March = 14 days x (10 + 20 + 5
  + 6) + 3 on 03-20 = 577 over 57 rows; February = 6 + 2 + 10 = 18.
- A reason is at most 500 characters in the query and in the header, else 400.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from catalog_helpers import BASE, indicator
from fastapi.testclient import TestClient

from api.conftest import KEY
from api.test_cost_api import fill
from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.catalog.model import Indicator
from engmetrics.governance import audit
from engmetrics.governance.board import ReviewBoard, approve, propose
from engmetrics.ingest import ingest_files
from engmetrics.settings import Settings
from engmetrics.store import Store
from governance.privacy_data import BOARD, CHANGES, INDIVIDUAL, PEOPLE, write_people_workspace

AS_OF = {"as_of": "2026-03-31"}
CLOUD_SPEND = {"id": "cloud_spend", "name": "Cloud spend", "kind": "lagging", "unit": "USD",
               "direction": "lower_is_better", "cadence": "monthly", "audience": "org",
               "thresholds": {"green": {"max": 100}, "red": {"min": 100}},
               "calculation": {"dataset": "cost", "measure": {"type": "sum", "column": "EffectiveCost"}}}
SPEND_GUARDED = indicator(BASE, id="spend_guarded_deploys", name="Deploys guarded by spend",
                          guardrail="cloud_spend")


def write_policy(root: Path, text: str) -> None:
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "access.yaml").write_text(text)


@pytest.fixture
def api_store(api_store):
    """The API tests' deployments and incidents, and the cost rows."""
    fill(api_store)
    return api_store


@pytest.fixture
def settings(settings):
    """The API tests' catalog, `cloud_spend` over cost and deploys guarded by it."""
    doc = {"indicators": [CLOUD_SPEND, SPEND_GUARDED]}
    (settings.workspace / "metrics" / "cost.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return settings


def _values(client: TestClient, headers: dict[str, str], **params: str) -> dict[tuple[str, str | None], dict]:
    rows = client.get("/api/v1/metrics", params={**AS_OF, **params}, headers=headers)
    assert rows.status_code == 200, rows.text
    return {(r["metric"], r["group"]): r for r in rows.json()}


def _reads(store: Store) -> list[tuple[str, str, str | None, str]]:
    return [(e.action, e.target, e.reason, e.details["what"]) for e in audit.entries(store)]


# --- finding 3: values derived from restricted datasets ---------------------------------------------------

def test_values_over_cost_are_left_out_for_roles_that_may_not_read_cost(client, auth, api_store):
    for role in ("viewer", "team-member"):
        values = _values(client, auth(role))
        assert "cloud_spend" not in {m for m, _ in values}
        assert values[("deploys", None)]["value"] == 6.0  # the rest is served as before
        assert _values(client, auth(role), metric="cloud_spend") == {}
        board = client.get("/api/v1/scorecard", params=AS_OF, headers=auth(role)).json()
        assert "cloud_spend" not in {row["metric"] for group in board for row in group["rows"]}
        scrape = client.get("/metrics", headers=auth(role))
        assert scrape.status_code == 200 and 'metric="cloud_spend"' not in scrape.text
        assert 'metric="deploys"' in scrape.text
    assert audit.entries(api_store) == []  # nothing restricted was read


def test_values_over_cost_are_served_to_managers_and_audited_once_per_request(client, auth, api_store):
    spend = _values(client, auth("manager"))[("cloud_spend", None)]
    assert (spend["value"], spend["previous"], spend["sample_size"], spend["status"]) == (577.0, 18.0, 57, "red")
    board = client.get("/api/v1/scorecard", params=AS_OF, headers=auth("manager")).json()
    assert "cloud_spend" in {row["metric"] for group in board for row in group["rows"]}
    assert 'metric="cloud_spend"' in client.get("/metrics", headers=auth("manager")).text
    assert _values(client, auth("manager"), metric="deploys")  # no cost value served: no entry
    assert _reads(api_store) == [
        ("read.dataset", "cost", None, "GET /api/v1/metrics?as_of=2026-03-31"),
        ("read.dataset", "cost", None, "GET /api/v1/scorecard?as_of=2026-03-31"),
        ("read.dataset", "cost", None, "GET /metrics")]
    assert audit.verify(api_store).ok


def test_a_reason_required_dataset_serves_its_values_only_with_a_reason(client, auth, api_store, settings):
    write_policy(settings.workspace, "reason_required: [cost]\n")
    assert ("cloud_spend", None) not in _values(client, auth("manager"))
    assert audit.entries(api_store) == []
    by_header = _values(client, {**auth("manager"), "X-Engmetrics-Reason": "Q1 review"})
    assert by_header[("cloud_spend", None)]["value"] == 577.0
    assert _values(client, auth("manager"), reason="budget")[("cloud_spend", None)]["value"] == 577.0
    assert _reads(api_store) == [("read.dataset", "cost", "Q1 review", "GET /api/v1/metrics?as_of=2026-03-31"),
                                 ("read.dataset", "cost", "budget", "GET /api/v1/metrics?as_of=2026-03-31")]


def test_the_policy_can_grant_cost_values_to_viewers(client, auth, api_store, settings):
    write_policy(settings.workspace, "datasets:\n  cost: [viewer, manager, auditor, metrics-admin]\n")
    assert _values(client, auth("viewer"))[("cloud_spend", None)]["value"] == 577.0
    assert ("cloud_spend", None) not in _values(client, auth("team-member"))
    assert [(e.target, e.details["role"]) for e in audit.entries(api_store)] == [("cost", "viewer")]


# --- finding 10: one reason limit ---------------------------------------------------------------------------

@pytest.mark.parametrize("length, status", [(500, 200), (501, 400), (1001, 400), (5000, 400)])
def test_a_reason_has_one_limit_in_query_and_header(client, auth, length, status):
    reason = "x" * length
    by_query = client.get("/api/v1/cost/idle", params={"reason": reason}, headers=auth("manager"))
    by_header = client.get("/api/v1/cost/idle", headers={**auth("manager"), "X-Engmetrics-Reason": reason})
    assert (by_query.status_code, by_header.status_code) == (status, status), by_query.text
    if status == 400:
        assert by_query.json()["detail"] == by_header.json()["detail"] == (
            f"the reason is {length} characters long; at most 500")
    values = client.get("/api/v1/metrics", params=AS_OF, headers={**auth("viewer"), "X-Engmetrics-Reason": reason})
    assert values.status_code == status


# --- finding 2: individual-level values are per team ----------------------------------------------------------

def people_app(tmp_path: Path, policy: str | None = None) -> tuple[TestClient, Store]:
    """An app over the privacy tests' organisation with `changes_per_author` approved."""
    store = Store.open("duckdb://")
    for name, text in (("people", PEOPLE), ("changes", CHANGES)):
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        ingest_files(store, name, [path], pseudonym_key=KEY)
    root = write_people_workspace(tmp_path / "ws", KEY)
    if policy:
        write_policy(root, policy)
    board, ind = ReviewBoard.model_validate(BOARD), Indicator.model_validate(INDIVIDUAL)
    propose(store, board, ind, "dee")
    approve(store, board, ind, "ana", "teams of five, weekly")
    return TestClient(create_app(Settings(workspace=root), store=store)), store


def _bearer(store: Store, role: str, teams: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(store, role, teams or []).token}"}


def test_a_team_member_sees_only_its_teams_rows_of_an_individual_level_indicator(tmp_path):
    client, store = people_app(tmp_path)
    everyone = _values(client, _bearer(store, "manager"))
    assert sorted(g or "" for _, g in everyone) == ["", "payments", "platform", "search"]
    assert everyone[("changes_per_author", "platform")]["value"] == 7.0  # 7 people, one change each
    member = _bearer(store, "team-member", ["payments"])
    assert list(_values(client, member)) == [("changes_per_author", None), ("changes_per_author", "payments")]
    board = client.get("/api/v1/scorecard", params=AS_OF, headers=member).json()
    assert [row["group"] for group in board for row in group["rows"]] == [None, "payments"]


def test_values_reading_people_follow_the_people_policy(tmp_path):
    """`changes_per_author` reads `changes` and, for its teams, `people`: restricting people hides it."""
    client, store = people_app(tmp_path, "datasets:\n  people: [auditor, metrics-admin]\n")
    assert _values(client, _bearer(store, "manager")) == {}
    assert len(_values(client, _bearer(store, "auditor"))) == 4
    assert [(e.action, e.target) for e in audit.entries(store)
            if e.action.startswith("read.")] == [("read.dataset", "people")]  # changes is not audited
