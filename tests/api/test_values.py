"""Catalog, metric values and scorecard over the API, against hand-checked numbers (see conftest)."""

from __future__ import annotations

AS_OF = {"as_of": "2026-03-31"}


def test_list_and_show_indicators_with_lineage(client, auth):
    listed = client.get("/api/v1/indicators", headers=auth("viewer")).json()
    assert [i["id"] for i in listed] == ["deploys", "failures", "incidents"]
    assert listed[0]["owner"] == "platform" and listed[0]["file"] == "metrics/delivery.yaml"

    deploys = client.get("/api/v1/indicators/deploys", headers=auth("viewer")).json()
    assert deploys["calculation"]["dataset"] == "deployments" and deploys["definition_version"]
    assert deploys["lineage"] == {
        "outcome_chain": [{"id": "delivery", "name": "Fast, safe delivery", "type": "outcome"}],
        "guardrail": {"id": "failures", "name": "Failed deploys", "type": "indicator"},
        "children": [], "guardrail_of": ["failures"]}
    incidents = client.get("/api/v1/indicators/incidents", headers=auth("viewer")).json()["lineage"]
    assert [n["id"] for n in incidents["outcome_chain"]] == ["failures", "delivery"]
    assert incidents["guardrail"] is None
    failures = client.get("/api/v1/indicators/failures", headers=auth("viewer")).json()["lineage"]
    assert failures["children"] == ["incidents"] and failures["guardrail_of"] == ["deploys"]

    tree = client.get("/api/v1/outcomes/tree", headers=auth("viewer")).json()
    assert [c["id"] for c in tree[0]["children"]] == ["deploys", "failures"]
    assert tree[0]["children"][1]["children"][0]["id"] == "incidents"


def _by_key(rows):
    return {(r["metric"], r["group"]): r for r in rows}


def test_metric_values_are_the_hand_counted_ones(client, auth):
    rows = _by_key(client.get("/api/v1/metrics", params=AS_OF, headers=auth("manager")).json())
    # current week 03-25..31: d1..d6 (d6 at 23:59:59 is in, d9 on 04-01 is out); previous: d7, d8
    deploys = rows[("deploys", None)]
    assert (deploys["value"], deploys["previous"], deploys["status"], deploys["previous_status"]) == (
        6.0, 2.0, "green", "amber")
    assert (deploys["period_start"], deploys["period_end"], deploys["sample_size"]) == ("2026-03-25", "2026-03-31", 6)
    failures = rows[("failures", None)]  # d3, d5 now; d8 before
    assert (failures["value"], failures["previous"], failures["status"]) == (2.0, 1.0, "amber")
    assert rows[("incidents", "payments")]["value"] == 2.0
    assert rows[("incidents", "payments")]["previous"] == 0.0  # no payments incident in a covered week
    assert (rows[("incidents", "search")]["value"], rows[("incidents", "search")]["previous"]) == (1.0, 1.0)
    assert set(rows) == {("deploys", None), ("failures", None), ("incidents", "payments"), ("incidents", "search")}


def test_metric_filter_and_team_scope(client, auth):
    only = client.get("/api/v1/metrics", params={**AS_OF, "metric": ["failures"]}, headers=auth("viewer")).json()
    assert [r["metric"] for r in only] == ["failures"]
    member = _by_key(client.get("/api/v1/metrics", params=AS_OF, headers=auth("team-member")).json())
    assert set(member) == {("deploys", None), ("failures", None), ("incidents", "payments")}  # not search's


def test_scorecard_groups_by_outcome_with_trends(client, auth):
    groups = client.get("/api/v1/scorecard", params=AS_OF, headers=auth("viewer")).json()
    assert [(g["outcome"], g["name"]) for g in groups] == [("delivery", "Fast, safe delivery")]
    rows = {(r["metric"], r["group"]): r for r in groups[0]["rows"]}
    assert (rows[("deploys", None)]["trend"], rows[("deploys", None)]["improving"]) == ("up", True)
    assert (rows[("failures", None)]["trend"], rows[("failures", None)]["improving"]) == ("up", False)
    assert (rows[("incidents", "search")]["trend"], rows[("incidents", "search")]["improving"]) == ("flat", None)
    assert rows[("deploys", None)]["guardrail"] == "failures"
    member = client.get("/api/v1/scorecard", params=AS_OF, headers=auth("team-member")).json()
    assert ("incidents", "search") not in {(r["metric"], r["group"]) for r in member[0]["rows"]}


def test_datasets_with_row_counts(client, auth):
    datasets = {d["name"]: d for d in client.get("/api/v1/datasets", headers=auth("viewer")).json()}
    assert (datasets["deployments"]["rows"], datasets["incidents"]["rows"], datasets["holidays"]["rows"]) == (9, 4, 0)
    assert datasets["deployments"]["key"] == ["deployment_id"]


def test_no_data_when_nothing_was_ingested(client, auth):
    rows = client.get("/api/v1/metrics", params={"as_of": "2020-01-31"}, headers=auth("viewer")).json()
    assert {r["status"] for r in rows} == {"no_data"}


def test_prometheus_metrics_endpoint(client, auth):
    from prometheus_client.parser import text_string_to_metric_families

    answer = client.get("/metrics", headers=auth("team-member"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert any(name.startswith("engmetrics_indicator") for name in families)
    assert 'engmetrics_indicator_status{' in answer.text and 'metric="deploys"' in answer.text
    assert client.get("/metrics").status_code == 401
