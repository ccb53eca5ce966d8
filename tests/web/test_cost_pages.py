"""The cost page on the data of tests/api/test_cost_api.py: cost per team with the explicit (untagged) and
(unallocated) rows and tag coverage, budgets with status words and shapes and the forecast's interval, idle and
rightsizing candidates with savings, commitments; the numbers are the API's; team scoping; the empty state; a bad
window and broken budgets."""

from __future__ import annotations

import re

import pytest

from api.test_cost_api import ALLOCATION, BUDGETS, RATES, fill, open_cost
from engmetrics.web.cost import BUDGET_TEXT, VERDICT_TEXT

WINDOW = {"from": "2026-03-01", "to": "2026-03-20"}  # budgets and idle judged on 03-20


@pytest.fixture
def settings(settings):
    open_cost(settings.workspace)
    return settings


@pytest.fixture
def filled(api_store, settings):
    """The API cost tests' data, rules, budgets and rates in the web tests' workspace."""
    fill(api_store)
    budgets = settings.workspace / "budgets"
    budgets.mkdir(exist_ok=True)
    (budgets / "allocation.yaml").write_text(ALLOCATION)
    for name, text in BUDGETS.items():
        (budgets / name).write_text(text)
    (budgets / "rates.yaml").write_text(RATES)
    return settings.workspace


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _rows(html: str, heading: str) -> list[str]:
    """The row headers of the table after the heading with id `heading`."""
    section = html.split(f'id="{heading}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr>\s*<th scope="row">([^<]+)</th>', section)


def _api(client, auth, route: str, role: str = "viewer", **params: object) -> dict:
    response = client.get(f"/api/v1/cost/{route}", params=params, headers=auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def _money(value: float) -> str:
    return f"{value:,.2f}"


def test_without_a_session_the_page_redirects_to_login(client):
    response = client.get("/cost", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/cost"


def test_the_page_shows_allocation_budgets_idle_and_commitments(client, auth, filled):
    page = client.get("/cost", params=WINDOW, headers=auth("viewer"))
    assert page.status_code == 200, page.text
    html, text = page.text, _text(page.text)
    assert 'href="/cost" aria-current="page"' in html and "<caption" in html
    # allocation, window [03-01, 03-21): payments 140 + 28 shared, search 280 + 56, untagged 70, 3 unallocated
    assert _rows(html, "allocation-heading") == ["search", "payments", "(untagged)", "(unallocated)", "Total"]
    for figure in ("336.00", "168.00", "70.00", "3.00", "577.00", "29.1 %"):
        assert figure in text, figure
    assert _rows(html, "coverage-heading") == ["AWS"] and "72.8 %" in text  # 420 / 577 by tags
    # budgets: the API's figures, the status as words with a shape, the 80 % interval, alerts
    budgets = _api(client, auth, "budgets", at="2026-03-20")
    assert _rows(html, "budgets-heading") == [b["name"] for b in budgets["items"]]
    for b in budgets["items"]:
        colour, shape, words = BUDGET_TEXT[b["status"]]
        assert f'status-{colour}"><span class="status-icon" aria-hidden="true">{shape}</span> {words}' in html
        assert _money(b["actual"]) in text and f"{_money(b['forecast_low'])} to {_money(b['forecast_high'])}" in text
        for alert in b["alerts"]:
            assert alert["message"] in text
    assert html.count('<svg class="budget-bar" role="img"') == 3 and "80 % interval" in html
    # idle: the API's candidates with their savings; verdicts in words
    idle = _api(client, auth, "idle", at="2026-03-20")
    assert _rows(html, "idle-heading") == [i["resource_id"] for i in idle["items"]] == ["i-pay", "i-search"]
    for i in idle["items"]:
        assert VERDICT_TEXT[i["verdict"]][2] in text and _money(i["estimated_monthly_savings"]) in text
    total = idle["estimated_monthly_savings"]["USD"]
    assert f"Estimated savings per month: {_money(total)} USD" in text
    # commitments: sp-1 used 6, unused 2 -> 75 %; AWS's spend is 0 in more than 30 % of the hours (the days
    # without data inside its span), so the best level at a 30 % discount is 0: no extra commitment
    assert _rows(html, "utilisation-heading") == ["sp-1"] and "75.0 %" in text
    [advice] = _api(client, auth, "commitments", to="2026-03-20")["recommendations"]
    assert (advice["status"], advice["level_per_hour"]) == ("ok", 0.0)
    assert _rows(html, "recommendation-heading") == ["AWS"] and "◇</span> No extra commitment" in html
    assert "idle when p95 CPU is at most 5 %" in text and "rightsizing 50 % of it" in text
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html


def test_a_team_member_sees_its_own_teams(client, auth, filled):
    page = client.get("/cost", params=WINDOW, headers=auth("team-member"))
    assert page.status_code == 200, page.text
    assert _rows(page.text, "allocation-heading") == ["payments", "(untagged)", "(unallocated)", "Total (all teams)"]
    assert _rows(page.text, "budgets-heading") == ["aws-account", "pay-monthly"]
    assert _rows(page.text, "idle-heading") == ["i-pay"]


def test_the_empty_state(client, auth):
    page = client.get("/cost", params=WINDOW, headers=auth("viewer"))
    assert page.status_code == 200, page.text
    text = _text(page.text)
    for words in ("No cost in this window.", "No cost to measure tag coverage on", "No budget.",
                  "No idle or rightsizing candidate.", "No commitment in this window.",
                  "No eligible on-demand spend in this window"):
        assert words in text, words
    assert "<table" not in page.text


def test_a_bad_window_is_a_422_page(client, auth):
    page = client.get("/cost", params={"from": "soon"}, headers=auth("viewer"))
    assert page.status_code == 422 and 'role="alert"' in page.text and "from" in page.text


def test_broken_budgets_are_named_on_the_page(client, auth, filled):
    (filled / "budgets" / "bad.yaml").write_text("kind: Budget\nname: x\n")
    page = client.get("/cost", params=WINDOW, headers=auth("viewer"))
    assert page.status_code == 500 and 'role="alert"' in page.text and "budgets/bad.yaml" in page.text


def test_a_commitment_recommendation_with_its_level_and_risk(client, auth, filled):
    # up to 03-14 AWS spends on all but 3 of its 18 days (02-26..28), so the 30 % quantile of the hours is positive
    page = client.get("/cost", params={"from": "2026-03-01", "to": "2026-03-14"}, headers=auth("viewer"))
    [advice] = _api(client, auth, "commitments", to="2026-03-14")["recommendations"]
    assert advice["status"] == "ok" and advice["level_per_hour"] > 0
    assert "●</span> Recommended" in page.text
    text = _text(page.text)
    for value in (advice["level_per_hour"], advice["savings"], advice["expected_unused_cost"]):
        assert _money(value) in text
