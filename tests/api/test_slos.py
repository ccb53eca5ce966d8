"""GET /api/v1/slos and /api/v1/slos/{slo} on a tiny hand-written `sli_events` data set, judged at
2026-03-31T00:00Z over 7-day rolling windows [2026-03-24, 2026-03-31):

- checkout-availability (Occurrences): 990/1000 and 995/1000 good; 0/100 at 20:00 on the 30th is removed
  by a correction. Target 0.99: SLI 1985/2000 = 0.9925, budget 20 bad events, 15 spent, 25 % left (ok);
  target 0.995: budget 10, 15 spent, -50 % left (exhausted).
- checkout-latency: 900/1000 on the 29th under version 1 (target 0.9: budget 100, 100 spent) and 960/1000
  on the 30th under version 2 (effective from the 30th, target 0.95: budget 50, 40 spent): 140 of 150
  spent, 1/15 left (warning).
- checkout-future: its only version takes effect in 2027, so it is skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engmetrics.ingest import ingest_files

from .conftest import KEY

AT = {"at": "2026-03-31T00:00:00Z"}
PROBLEM = "application/problem+json"
SLI_EVENTS = """service,indicator,ts,good,total
checkout,availability,2026-03-29T10:00:00Z,990,1000
checkout,availability,2026-03-30T10:00:00Z,995,1000
checkout,availability,2026-03-30T20:00:00Z,0,100
checkout,latency,2026-03-29T10:00:00Z,900,1000
checkout,latency,2026-03-30T10:00:00Z,960,1000
checkout,availability,2026-03-20T10:00:00Z,0,1000
"""


def _sli(name: str, indicator: str) -> str:
    source = "{{type: engmetrics, spec: {{dataset: sli_events, service: checkout, indicator: {}, column: {}}}}}"
    return f"""apiVersion: openslo/v1
kind: SLI
metadata: {{name: {name}}}
spec:
  ratioMetric:
    good: {{metricSource: {source.format(indicator, "good")}}}
    total: {{metricSource: {source.format(indicator, "total")}}}
"""


SPECS = {
    "availability.yaml": _sli("checkout-availability", "availability") + """---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-availability, displayName: Checkout availability}
spec:
  service: checkout
  description: Checkout answers its requests.
  indicatorRef: checkout-availability
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives:
    - {displayName: Available, target: 0.99}
    - {displayName: Strict, targetPercent: 99.5}
  corrections:
    - {start: "2026-03-30T20:00:00", duration: 1h, reason: load test}
""",
    "latency.yaml": _sli("checkout-latency", "latency") + """---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-latency}
spec:
  service: checkout
  indicatorRef: checkout-latency
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: Fast, target: 0.9}]
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
  annotations: {engmetrics.dev/effective-from: "2026-03-30"}
spec:
  service: checkout
  indicatorRef: checkout-latency
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: Fast, target: 0.95}]
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-future
  annotations: {engmetrics.dev/effective-from: "2027-01-01"}
spec:
  service: checkout
  indicatorRef: checkout-latency
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.9}]
""",
}


def write_slos(root: Path) -> None:
    (root / "slos").mkdir(exist_ok=True)
    for name, text in SPECS.items():
        (root / "slos" / name).write_text(text)


def ingest_sli_events(store, tmp_path: Path) -> None:
    path = tmp_path / "sli_events.csv"
    path.write_text(SLI_EVENTS)
    ingest_files(store, "sli_events", [path], pseudonym_key=KEY)


@pytest.fixture
def settings(settings):
    write_slos(settings.workspace)
    return settings


@pytest.fixture
def api_store(api_store, tmp_path):
    ingest_sli_events(api_store, tmp_path)
    return api_store


def _by_objective(items: list[dict]) -> dict[tuple[str, str], dict]:
    return {(i["slo"], i["objective"]): i for i in items}


def test_list_gives_hand_checked_budgets(client, auth):
    answer = client.get("/api/v1/slos", params=AT, headers=auth("viewer"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["at"] == "2026-03-31T00:00:00+00:00"
    assert body["skipped"] == [{"slo": "checkout-future", "reason": "no version is in force yet"}]
    items = _by_objective(body["items"])
    assert sorted(items) == [("checkout-availability", "Available"), ("checkout-availability", "Strict"),
                             ("checkout-latency", "Fast")]
    ok = items["checkout-availability", "Available"]
    assert (ok["service"], ok["window"], ok["budgeting_method"]) == ("checkout", "7d", "Occurrences")
    assert ok["target"] == 0.99
    assert (ok["window_start"], ok["window_end"]) == ("2026-03-24T00:00:00+00:00", "2026-03-31T00:00:00+00:00")
    assert (ok["good"], ok["total"], ok["sli"]) == (1985, 2000, 0.9925)  # the 0/1000 of the 20th is outside
    assert ok["error_budget"] == {"allowed": 20.0, "consumed": 15.0, "remaining": 0.25}
    assert ok["burn_rate"] == 0.75
    # 1d: 5 bad of 1000 (the excluded hour is not counted) = 0.005 / 0.01; 3d: 15 of 2000; no events in 2h, 6h
    assert ok["burn_rates"] == {"5m": None, "30m": None, "1h": None, "2h": None, "6h": None, "1d": 0.5, "3d": 0.75}
    assert [(a["severity"], a["long_window"], a["factor"], a["firing"]) for a in ok["alerts"]] == [
        ("page", "1h", 3.36, False), ("page", "6h", 1.4, False), ("ticket", "1d", 0.7, False),
        ("ticket", "3d", 0.233333, False)]
    assert ok["time_to_exhaustion_hours"] == 84.0  # 25 % of 168 h at half the sustainable rate
    assert ok["excluded_events"] == 100
    assert ok["exclusions"] == [{
        "source": "slo:checkout-availability:corrections[0]", "reason": "load test", "approved_by": None,
        "start": "2026-03-30T20:00:00+00:00", "end": "2026-03-30T21:00:00+00:00", "good": 0.0, "total": 100.0,
        "bad": 100.0, "budget_removed": 5.0}]
    assert ok["state"] == "ok"
    strict = items["checkout-availability", "Strict"]
    assert strict["target"] == 0.995
    assert strict["error_budget"] == {"allowed": 10.0, "consumed": 15.0, "remaining": -0.5}
    assert strict["state"] == "exhausted" and strict["time_to_exhaustion_hours"] is None
    latency = items["checkout-latency", "Fast"]
    assert (latency["good"], latency["total"], latency["sli"]) == (1860, 2000, 0.93)
    assert latency["error_budget"] == {"allowed": 150.0, "consumed": 140.0, "remaining": round(1 / 15, 9)}
    assert latency["target"] == 0.95 and latency["version_since"] == "2026-03-30T00:00:00+00:00"
    assert latency["state"] == "warning"


def test_list_filters_by_service(client, auth):
    none = client.get("/api/v1/slos", params={**AT, "service": "search"}, headers=auth("viewer")).json()
    assert none["items"] == [] and none["skipped"] == []
    some = client.get("/api/v1/slos", params={**AT, "service": "checkout"}, headers=auth("viewer")).json()
    assert len(some["items"]) == 3 and len(some["skipped"]) == 1


def test_show_gives_items_and_spec_summary(client, auth):
    body = client.get("/api/v1/slos/checkout-latency", params=AT, headers=auth("team-member")).json()
    assert [i["objective"] for i in body["items"]] == ["Fast"] and body["skipped"] == []
    assert body["items"][0]["error_budget"]["consumed"] == 140.0
    spec = body["slo"]
    assert (spec["name"], spec["service"], spec["budgeting_method"], spec["indicator"]) == (
        "checkout-latency", "checkout", "Occurrences", "checkout-latency")
    assert [(v["effective_from"], v["targets"], v["in_force"]) for v in spec["versions"]] == [
        (None, [0.9], False), ("2026-03-30T00:00:00+00:00", [0.95], True)]
    assert [(o["display_name"], o["target"]) for o in spec["objectives"]] == [("Fast", 0.95)]
    window = spec["windows"][0]
    assert (window["duration"], window["is_rolling"], window["alert_table"]["name"]) == ("7d", True, "default")
    assert [t["factor"] for t in window["alert_table"]["tiers"]] == [3.36, 1.4, 0.7, 0.233333]
    assert spec["file"] == "slos/latency.yaml"

    availability = client.get("/api/v1/slos/checkout-availability", params=AT, headers=auth("viewer")).json()
    assert len(availability["items"]) == 2
    assert availability["slo"]["description"] == "Checkout answers its requests."
    assert availability["slo"]["corrections"][0]["reason"] == "load test"


def test_show_an_slo_not_in_force_yet(client, auth):
    body = client.get("/api/v1/slos/checkout-future", params=AT, headers=auth("viewer")).json()
    assert body["items"] == [] and body["skipped"] == [{"slo": "checkout-future",
                                                        "reason": "no version is in force yet"}]
    assert body["slo"]["computed"] is False
    assert body["slo"]["versions"][0]["effective_from"] == "2027-01-01T00:00:00+00:00"


def test_unknown_slo_is_a_404_problem(client, auth):
    answer = client.get("/api/v1/slos/nope", headers=auth("viewer"))
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM
    assert "no SLO 'nope'" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/slos", "/api/v1/slos/checkout-availability"])
def test_every_reader_may_read_and_a_token_is_needed(client, auth, path):
    answer = client.get(path, params=AT)
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    bad = client.get(path, params=AT, headers={"Authorization": "Bearer emt_nope_nope"})
    assert bad.status_code == 401
    for role in ("viewer", "team-member", "manager", "metrics-admin", "auditor"):
        assert client.get(path, params=AT, headers=auth(role)).status_code == 200, role


def test_default_instant_and_bad_instant(client, auth):
    now = client.get("/api/v1/slos", headers=auth("viewer"))
    assert now.status_code == 200 and now.json()["at"].endswith(":00+00:00")
    bad = client.get("/api/v1/slos", params={"at": "yesterday"}, headers=auth("viewer"))
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_broken_specs_are_a_problem_listing_the_issues(client, auth, settings):
    (settings.workspace / "slos" / "broken.yaml").write_text("apiVersion: openslo/v1\nkind: Slo\nmetadata: {name: a}\n")
    answer = client.get("/api/v1/slos", headers=auth("viewer"))
    assert answer.status_code == 500 and answer.headers["content-type"] == PROBLEM
    assert "slo validate" in answer.json()["detail"]
    assert any("slos/broken.yaml:2" in i for i in answer.json()["issues"])
    (settings.workspace / "slos" / "broken.yaml").unlink()  # the specs are reloaded once fixed
    assert client.get("/api/v1/slos", params=AT, headers=auth("viewer")).status_code == 200


def test_a_workspace_without_slos(client, auth, settings):
    for path in (settings.workspace / "slos").iterdir():
        path.unlink()
    body = client.get("/api/v1/slos", params=AT, headers=auth("viewer")).json()
    assert body["items"] == [] and body["skipped"] == []
