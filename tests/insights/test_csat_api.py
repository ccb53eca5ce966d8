"""`GET /api/v1/insights/csat` on the API tests' app (tests/api/conftest.py) with the hidden-issue scenario of
test_csat.py ingested: the same answer as the CLI, every reader may ask, bad parameters are 422; under an access
policy, `incidents` and `sli_events` are used only for callers who may read them (audited), `csat` is required."""

from __future__ import annotations

import pytest
from test_csat import FIRST, LAST, _scenario

from api.conftest import KEY, api_store, app, auth, client, settings, tokens  # noqa: F401
from engmetrics.governance import audit
from engmetrics.ingest import ingest_files

# checkout had an incident from 10 March 00:00 to 12 March 00:00: its responses of 10 to 12 March are exposed
INCIDENTS = """incident_id,service,severity,impact_started_at,declared_at,resolved_at
X1,checkout,2,2026-03-10T00:00:00Z,2026-03-10T00:05:00Z,2026-03-12T00:00:00Z
"""


@pytest.fixture
def csat_client(client, api_store, settings, write):  # noqa: F811
    csat, sli, _ = _scenario(settings.workspace, write)
    ingest_files(api_store, "csat", [csat], pseudonym_key=KEY)
    ingest_files(api_store, "sli_events", [sli], pseudonym_key=KEY)
    return client


@pytest.mark.parametrize("role", ["viewer", "team-member", "manager", "auditor", "metrics-admin"])
def test_every_reader_gets_the_hidden_issue(csat_client, auth, role):  # noqa: F811
    response = csat_client.get("/api/v1/insights/csat", params={"from": FIRST, "to": LAST, "max_lag": 1},
                               headers=auth(role))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(i["segment"], i["service"]) for i in body["hidden_issues"]] == [("enterprise", "exports")]
    assert {r["lag_days"] for r in body["correlations"]} == {0, 1}
    assert body["regression"]["n"] == 360
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-03-31")


def test_defaults_and_bad_parameters(csat_client, auth):  # noqa: F811
    body = csat_client.get("/api/v1/insights/csat", headers=auth("viewer")).json()
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-03-31")  # 90 days to the last response
    assert csat_client.get("/api/v1/insights/csat").status_code == 401
    for params in ({"from": "2026-04-01", "to": "2026-03-01"}, {"max_lag": -1}, {"to": "soon"}):
        assert csat_client.get("/api/v1/insights/csat", params=params, headers=auth("viewer")).status_code == 422


def test_no_responses_is_404(client, auth):  # noqa: F811
    response = client.get("/api/v1/insights/csat", headers=auth("viewer"))
    assert response.status_code == 404 and "no csat responses" in response.text


def _policy(settings, text):  # noqa: F811
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text(text)


def _terms(http, headers):
    response = http.get("/api/v1/insights/csat", params={"from": FIRST, "to": LAST, "max_lag": 0}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [c["term"] for c in body["regression"]["coefficients"]], body


def test_incidents_restricted_to_managers_are_left_out_for_a_viewer_and_audited_for_a_manager(
        csat_client, api_store, settings, auth, write):  # noqa: F811
    ingest_files(api_store, "incidents", [write("inc.csv", INCIDENTS)], pseudonym_key=KEY)
    _policy(settings, "datasets:\n  incidents: [manager]\n")
    terms, body = _terms(csat_client, auth("viewer"))
    assert terms == ["intercept", "sli_bad:availability", "segment:free"]  # no incident exposure
    assert body["not_readable"] == ["incidents"]
    assert [(i["segment"], i["service"]) for i in body["hidden_issues"]] == [("enterprise", "exports")]
    assert audit.entries(api_store) == []  # the viewer read nothing audited
    terms, body = _terms(csat_client, auth("manager"))
    assert terms == ["intercept", "sli_bad:availability", "incident_exposure", "segment:free"]
    assert body["not_readable"] == []
    assert [(e.action, e.target, e.details["role"], e.details["what"]) for e in audit.entries(api_store)] == [
        ("read.dataset", "incidents", "manager", f"GET /api/v1/insights/csat?from={FIRST}&to={LAST}&max_lag=0")]


def test_without_sli_events_there_is_nothing_to_correlate_and_csat_itself_is_required(
        csat_client, settings, auth):  # noqa: F811
    _policy(settings, "datasets:\n  sli_events: [manager]\n")
    body = csat_client.get("/api/v1/insights/csat", params={"from": FIRST, "to": LAST}, headers=auth("viewer")).json()
    assert body["not_readable"] == ["sli_events"]
    assert (body["correlations"], body["regression"], body["hidden_issues"]) == ([], None, [])
    _policy(settings, "datasets:\n  csat: [manager]\n")
    assert csat_client.get("/api/v1/insights/csat", headers=auth("viewer")).status_code == 403
    assert csat_client.get("/api/v1/insights/csat", headers=auth("manager")).status_code == 200
