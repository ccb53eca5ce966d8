"""`GET /api/v1/insights/csat` on the API tests' app (tests/api/conftest.py) with the hidden-issue scenario of
test_csat.py ingested: the same answer as the CLI, every reader may ask, bad parameters are 422."""

from __future__ import annotations

import pytest
from test_csat import FIRST, LAST, _scenario

from api.conftest import KEY, api_store, app, auth, client, settings, tokens  # noqa: F401
from engmetrics.ingest import ingest_files


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
