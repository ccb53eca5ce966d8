"""Every route x every role: the declared permissions, and what the server actually answers."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from engmetrics.api.auth import MountedRoute, mounted_routes, route_roles

PUBLIC = "public"
READ = {"viewer", "team-member", "manager", "metrics-admin", "auditor"}
AUDIT = {"metrics-admin", "auditor"}
ADMIN = {"metrics-admin"}
PUSH = {"telemetry-pusher", "metrics-admin"}
MANAGE = {"manager", "metrics-admin"}
# operation id -> who may call it. A new route must be added here (and declare its permission).
EXPECTED: dict[str, object] = {
    "healthz": PUBLIC, "login": PUBLIC, "logout": PUBLIC, "get_prometheus_metrics": READ,
    "list_indicators": READ, "show_indicator": READ, "get_catalog_tree": READ,
    "list_metric_values": READ, "get_scorecard": READ, "list_slos": READ, "show_slo": READ,
    "list_datasets": READ, "list_quarantine": AUDIT, "ingest_dataset": ADMIN,
    "list_incidents": READ, "search_incidents": READ, "show_incident": READ, "incident_stats": READ,
    "incident_fatigue": READ, "incident_patterns": READ, "incident_oncall": READ,
    "delivery_dora": READ, "delivery_cycle_time": READ, "delivery_reviews": READ, "delivery_guardrails": READ,
    "delivery_silos": READ,
    "cost_allocation": READ, "cost_idle": READ, "cost_budgets": READ, "cost_commitments": READ, "cost_unit": READ,
    "cost_reconcile": READ,
    "get_current_user": READ, "list_api_tokens": AUDIT, "create_api_token": ADMIN, "revoke_api_token": ADMIN,
    "get_own_indicator": READ,
    # governance
    "list_audit_entries": AUDIT, "verify_audit_log": AUDIT, "definition_history": READ, "legal_holds": AUDIT,
    "list_discrepancies": READ, "review_discrepancy": MANAGE, "list_approvals": READ, "show_approval": READ,
    "propose_approval": MANAGE, "approve_approval": MANAGE, "reject_approval": MANAGE,
    # insights
    "csat_analysis": READ, "list_experiments": READ, "get_experiment": READ, "list_reviews": READ,
    "list_decision_log": READ, "get_decision_report": READ, "log_decision": MANAGE,
    "list_anomalies": READ, "mark_anomaly": MANAGE,
    # telemetry receivers
    "remote_write": PUSH, "otlp_metrics": PUSH, "receiver_status": PUSH,
    # web pages (engmetrics.web): same roles as the API behind them
    "dashboard_css": PUBLIC, "login_page": PUBLIC, "overview_page": READ, "indicator_page": READ,
    "catalog_page": READ, "datasets_page": READ, "quarantine_page": AUDIT, "slos_page": READ, "slo_page": READ,
    "incidents_page": READ, "incident_page": READ, "delivery_page": READ, "cost_page": READ,
    "audit_page": AUDIT, "approvals_page": READ, "reviews_page": READ,
    "experiments_page": READ, "experiment_page": READ, "anomalies_page": READ,
}
# Routes over a dataset `policies/access.yaml` restricts: the built-in policy lets these roles read `cost`.
POLICY = {name: {"manager", "metrics-admin", "auditor"} for name in (
    "cost_allocation", "cost_idle", "cost_budgets", "cost_commitments", "cost_unit", "cost_reconcile", "cost_page")}
# Pages answer a browser: no session -> 303 to /login, a role without access -> an HTML 403 page.
PAGES = {"overview_page", "indicator_page", "catalog_page", "datasets_page", "quarantine_page", "slos_page", "slo_page",
         "incidents_page", "incident_page", "delivery_page", "cost_page", "audit_page", "approvals_page",
         "reviews_page", "experiments_page", "experiment_page", "anomalies_page"}
# FastAPI's own pages (not APIRoutes): the OpenAPI document and the docs are open.
FRAMEWORK_PATHS = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/oauth2-redirect"}
PATH_VALUES = {"metric": "deploys", "dataset": "holidays", "token_id": "000000000000", "slo": "checkout",
               "incident_id": "i1", "kind": "indicator", "definition_id": "deploys",
               "name": "rollout", "finding_id": "f0"}


def _api_routes(app) -> list[MountedRoute]:
    routes = list(mounted_routes(app))
    others = {r.path for r in routes if not isinstance(r.route, APIRoute)}
    assert others <= FRAMEWORK_PATHS, f"routes outside the permission system: {others - FRAMEWORK_PATHS}"
    return [r for r in routes if isinstance(r.route, APIRoute)]


def _url(route: MountedRoute) -> str:
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], route.path)


def test_every_route_declares_exactly_the_expected_roles(app):
    routes = _api_routes(app)
    assert sorted(r.name for r in routes) == sorted(EXPECTED)
    for route in routes:
        declared = route_roles(route.route)  # raises for a route without exactly one declaration
        expected = EXPECTED[route.name]
        assert (PUBLIC if declared is None else {r.value for r in declared}) == expected, route.path


@pytest.mark.parametrize("role", [None, "viewer", "team-member", "manager", "metrics-admin", "auditor",
                                  "telemetry-pusher"])
def test_walk_every_route_with_every_role(app, client, auth, role):
    for route in _api_routes(app):
        for method in sorted(route.methods):
            headers = auth(role) if role else {}
            response = client.request(method, _url(route), headers=headers, params={"as_of": "2026-03-31"},
                                      follow_redirects=False)
            allowed = POLICY.get(route.name, EXPECTED[route.name])
            where = f"{method} {route.path} as {role}: {response.status_code} {response.text[:200]}"
            if route.name in PAGES and role is None:
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/login?next="), where
            elif route.name in PAGES and role not in allowed:  # type: ignore[operator]
                assert response.status_code == 403, where
                assert response.headers["content-type"].startswith("text/html"), where
                assert role in response.text, where
            elif allowed == PUBLIC:
                assert response.status_code not in (401, 403), where
            elif role is None:
                assert response.status_code == 401, where
                assert response.headers["www-authenticate"].startswith("Bearer"), where
            elif role in allowed:  # type: ignore[operator]
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == 403, where
                assert response.headers["content-type"] == "application/problem+json", where
                assert role in response.json()["detail"], where
            assert response.status_code < 500, where


def test_framework_pages_are_open(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
