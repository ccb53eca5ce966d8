"""The overview and the indicator page under the access policy and the team scope (review_a findings 2, 3).

Data and indicators as tests/api/test_values_access.py: `cloud_spend` over the restricted `cost` dataset (577
in March), `spend_guarded_deploys` guarded by it, and the privacy tests' organisation for `changes_per_author`.
"""

from __future__ import annotations

import re

import pytest
import yaml

from api.test_cost_api import fill
from api.test_values_access import CLOUD_SPEND, SPEND_GUARDED, _bearer, people_app, write_policy
from engmetrics.governance import audit

AS_OF = {"as_of": "2026-03-31"}


@pytest.fixture
def api_store(api_store):
    fill(api_store)
    return api_store


@pytest.fixture
def settings(settings):
    doc = {"indicators": [CLOUD_SPEND, SPEND_GUARDED]}
    (settings.workspace / "metrics" / "cost.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return settings


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _reads(store) -> list[tuple[str, str | None, str]]:
    return [(e.target, e.reason, e.details["what"]) for e in audit.entries(store)]


def test_the_overview_leaves_out_values_the_role_may_not_read(client, auth, api_store):
    viewer = client.get("/", params=AS_OF, headers=auth("viewer"))
    assert viewer.status_code == 200 and "Cloud spend" not in viewer.text and "Deploys" in viewer.text
    assert audit.entries(api_store) == []
    manager = client.get("/", params=AS_OF, headers=auth("manager"))
    assert "Cloud spend" in manager.text
    assert _reads(api_store) == [("cost", None, "GET /?as_of=2026-03-31")]  # one entry for the page


def test_the_indicator_page_of_a_value_the_role_may_not_read_is_a_403(client, auth, api_store):
    refused = client.get("/indicators/cloud_spend", params=AS_OF, headers=auth("viewer"))
    assert refused.status_code == 403
    assert "may not read the dataset cost; it needs one of: auditor, manager, metrics-admin" in refused.text
    assert audit.entries(api_store) == []
    shown = client.get("/indicators/cloud_spend", params=AS_OF, headers=auth("manager"))
    assert shown.status_code == 200 and "577" in _text(shown.text)
    assert _reads(api_store) == [("cost", None, "GET /indicators/cloud_spend?as_of=2026-03-31")]


def test_a_reason_required_indicator_page_asks_for_a_reason(client, auth, api_store, settings):
    write_policy(settings.workspace, "reason_required: [cost]\n")
    asked = client.get("/indicators/cloud_spend", params=AS_OF, headers=auth("manager"))
    assert asked.status_code == 403 and "Add ?reason=... (why you read it) to the address." in asked.text
    given = client.get("/indicators/cloud_spend", params={**AS_OF, "reason": "Q1 review"}, headers=auth("manager"))
    assert given.status_code == 200
    assert _reads(api_store) == [("cost", "Q1 review", "GET /indicators/cloud_spend?as_of=2026-03-31")]


def test_a_guardrail_the_role_may_not_read_is_left_out_of_the_page(client, auth, api_store):
    viewer = client.get("/indicators/spend_guarded_deploys", params=AS_OF, headers=auth("viewer"))
    assert viewer.status_code == 200 and viewer.text.count('class="history-chart"') == 1  # its own only
    assert audit.entries(api_store) == []
    manager = client.get("/indicators/spend_guarded_deploys", params=AS_OF, headers=auth("manager"))
    assert manager.text.count('class="history-chart"') == 2
    assert _reads(api_store) == [("cost", None, "GET /indicators/spend_guarded_deploys?as_of=2026-03-31")]


def test_a_team_member_overview_names_no_other_team_of_an_individual_level_indicator(tmp_path):
    client, store = people_app(tmp_path)
    member = _text(client.get("/", params=AS_OF, headers=_bearer(store, "team-member", ["payments"])).text)
    manager = _text(client.get("/", params=AS_OF, headers=_bearer(store, "manager")).text)
    assert "Changes per author (platform)" in manager
    assert "(platform)" not in member and "(search)" not in member
