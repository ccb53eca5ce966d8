"""Errors are RFC 9457 problem documents; bad parameters are 422s naming the field; clean OpenAPI."""

from __future__ import annotations

import re

import pytest

PROBLEM = "application/problem+json"


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body) and body["status"] == status
    return body


@pytest.mark.parametrize(("params", "field"), [
    ({"as_of": "last tuesday"}, "as_of"),
    ({"as_of": "2026-02-30"}, "as_of"),
    ({"metric": "nope"}, "metric"),
])
def test_bad_metric_parameters_name_the_field(client, auth, params, field):
    body = _problem(client.get("/api/v1/metrics", params=params, headers=auth("viewer")), 422)
    assert body["errors"][0]["field"] == field and body["errors"][0]["in"] == "query"
    assert f"query parameter {field}:" in body["detail"]


@pytest.mark.parametrize(("params", "field"), [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                                               ({"dataset": "nope"}, "dataset")])
def test_bad_quarantine_parameters_name_the_field(client, auth, params, field):
    body = _problem(client.get("/api/v1/quarantine", params=params, headers=auth("auditor")), 422)
    assert [e["field"] for e in body["errors"]] == [field]


def test_not_found_and_method_not_allowed_are_problems(client, auth):
    body = _problem(client.get("/api/v1/indicators/nope", headers=auth("viewer")), 404)
    assert "no indicator 'nope'" in body["detail"] and body["instance"] == "/api/v1/indicators/nope"
    assert "no route" in _problem(client.get("/api/v1/nothing-here", headers=auth("viewer")), 404)["detail"]
    _problem(client.delete("/api/v1/indicators", headers=auth("viewer")), 405)


def test_broken_catalog_is_a_problem_listing_the_issues(client, auth, settings):
    (settings.workspace / "metrics" / "broken.yaml").write_text("id: x\nname: X\n")
    body = _problem(client.get("/api/v1/indicators", headers=auth("viewer")), 500)
    assert "definitions have errors" in body["detail"]
    assert any("metrics/broken.yaml:1" in issue for issue in body["issues"])


def test_openapi_operation_ids_are_unique_snake_case(client):
    doc = client.get("/api/v1/openapi.json").json()
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) >= 15
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert {"list_indicators", "show_indicator", "list_metric_values", "get_scorecard", "list_datasets",
            "list_quarantine", "ingest_dataset", "healthz"} <= set(ids)
    assert "/api/v1/datasets/{dataset}/ingest" in doc["paths"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_healthz_needs_no_token(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
