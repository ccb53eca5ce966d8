"""The `/insights/anomalies` page on the API tests' app (tests/api/conftest.py): deployments on 2026-03-18 and
every day 03-24..03-31 but 03-29 (one a day), a stored finding on 2026-03-25, one over `cost` and one of the
per-team `incidents` indicator for the search team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import api.conftest as api_setup
from engmetrics.insights.anomaly import Finding
from engmetrics.insights.marks import mark
from engmetrics.insights.scan import save_findings

api_store, app, auth, client, settings, tokens = (api_setup.api_store, api_setup.app, api_setup.auth,
                                                  api_setup.client, api_setup.settings, api_setup.tokens)
DAY = datetime(2026, 3, 25, tzinfo=UTC)


def _store_findings(store) -> None:
    save_findings(store, [
        Finding("deploys1", "dataset:deployments", "dataset", None, None, ("deployments",), "counts", "up", DAY,
                DAY + timedelta(days=1), DAY, 1.0, 0.2, 0.0, 0.9, 4.2),
        Finding("cost1", "dataset:cost", "dataset", None, None, ("cost",), "decompose", "down", DAY,
                DAY + timedelta(days=1), DAY, 10.0, 50.0, 40.0, 60.0, 5.0),
        Finding("search1", "metric:incidents[search]", "indicator", "incidents", "search", ("incidents",), "counts",
                "up", DAY - timedelta(days=7), DAY, DAY - timedelta(days=7), 2.0, 0.2, 0.0, 1.0, 4.0)])


def test_page_lists_findings_with_a_chart_and_hides_unreadable_ones(client, tokens, api_store):
    _store_findings(api_store)
    mark(api_store, "deploys1", "acknowledged", actor="ann", note="launch week")
    client.post("/login", data={"token": tokens["viewer"], "next": "/"}, follow_redirects=False)
    page = client.get("/insights/anomalies")
    assert page.status_code == 200, page.text
    html = page.text
    assert '<table id="anomalies">' in html and '<tr data-finding="deploys1">' in html
    assert 'data-finding="cost1"' not in html  # cost: managers, auditors and metrics-admins only
    assert '<svg' in html and 'class="expected"' in html and 'class="peak"' in html
    assert "acknowledged by ann: launch week" in html
    assert 'aria-current="page">Anomalies' in html
    open_ = client.get("/insights/anomalies", params={"status": "open"}).text  # a viewer sees every team's
    assert 'data-finding="search1"' in open_ and 'data-finding="deploys1"' not in open_
    assert 'id="none"' in client.get("/insights/anomalies", params={"status": "false_positive"}).text
    assert 'data-finding="deploys1"' in client.get("/insights/anomalies", params={"status": "", "since": ""}).text
    bad = client.get("/insights/anomalies", params={"since": "March"})
    assert bad.status_code == 422 and "since must be a date, YYYY-MM-DD" in bad.text
    assert "unknown status" in client.get("/insights/anomalies", params={"status": "nope"}).text


def test_manager_sees_the_cost_finding(client, tokens, api_store):
    _store_findings(api_store)
    client.post("/login", data={"token": tokens["manager"], "next": "/"}, follow_redirects=False)
    html = client.get("/insights/anomalies").text
    assert 'data-finding="cost1"' in html and 'data-finding="deploys1"' in html and 'data-finding="search1"' in html


def test_team_member_does_not_see_another_teams_finding(client, tokens, api_store):
    _store_findings(api_store)
    client.post("/login", data={"token": tokens["team-member"], "next": "/"}, follow_redirects=False)
    html = client.get("/insights/anomalies").text  # the team-member's team is payments
    assert 'data-finding="deploys1"' in html and 'data-finding="search1"' not in html and "search" not in html
