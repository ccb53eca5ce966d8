"""`engmetrics slo gate`: stages from hand-checked budgets, exit codes, overrides recorded in the store.

Every SLO here is Occurrences with target 0.99 over a rolling 7d window and one bucket of 10 000 events,
so 100 bad events are allowed and `remaining = 1 - bad / 100`:

| service  | SLO                   | bad | remaining | default policy stage |
| -------- | --------------------- | --- | --------- | -------------------- |
| checkout | checkout-availability |  40 |    0.6    | healthy              |
| checkout | checkout-latency      |  10 |    0.9    | healthy              |
| search   | search-availability   |  70 |    0.3    | warn                 |
| payments | payments-availability | 120 |   -0.2    | freeze (blocks)      |
| thin     | thin-availability     | 50 events in all: insufficient_data (min_events 100) |
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_policy import GOOD
from typer.testing import CliRunner

from engmetrics.cli.main import app as main_app
from engmetrics.settings import load_settings
from engmetrics.slo import load_slos
from engmetrics.slo.gate import active_override, evaluate_gate, record_override
from engmetrics.slo.policy import load_policies
from engmetrics.store import Store
from engmetrics.workspace import init_workspace

runner = CliRunner()
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
EVENTS_AT = NOW - timedelta(hours=2)  # inside the 7d window of a check run now

POLICY = GOOD  # the policy of the policy tests: warn below 50 %, freeze below 0

SEARCH_POLICY = """\
kind: ErrorBudgetPolicy
name: search-strict
services: [search]
stages:
  - {name: fine, below: null}
  - {name: stop, below: 0.5, block_releases: true, actions: [stop feature releases]}
"""


def _slo(service: str, indicator: str) -> str:
    name = f"{service}-{indicator}"
    source = "type: engmetrics\n        spec: {{dataset: sli_events, service: {s}, indicator: {i}, column: {c}}}"
    return f"""\
apiVersion: openslo/v1
kind: SLI
metadata: {{name: {name}}}
spec:
  ratioMetric:
    good:
      metricSource:
        {source.format(s=service, i=indicator, c="good")}
    total:
      metricSource:
        {source.format(s=service, i=indicator, c="total")}
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  service: {service}
  indicatorRef: {name}
  timeWindow: [{{duration: 7d, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - displayName: Good
      target: 0.99
"""


EVENTS = {  # (service, indicator): (good, total)
    ("checkout", "availability"): (9960, 10000),
    ("checkout", "latency"): (9990, 10000),
    ("search", "availability"): (9930, 10000),
    ("payments", "availability"): (9880, 10000),
    ("thin", "availability"): (50, 50),
}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = init_workspace(tmp_path / "ws")
    (root / "slos" / "slos.yaml").write_text("---\n".join(_slo(s, i) for s, i in EVENTS))
    (root / "policies" / "budget.yaml").write_text(POLICY)
    with Store.open(load_settings(root).store_url) as store:
        for (service, indicator), (good, total) in EVENTS.items():
            store.sql.execute("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)",
                              [service, indicator, EVENTS_AT, good, total])
    return root


def gate(ws: Path, *args: str):
    return runner.invoke(main_app, ["-w", str(ws), "slo", "gate", *args])


def gate_json(ws: Path, *args: str) -> tuple[int, dict]:
    result = gate(ws, *args, "--json")
    return result.exit_code, json.loads(result.stdout)


def overrides(ws: Path) -> list[tuple]:
    with Store.open(load_settings(ws).store_url, read_only=True) as store:
        return store.sql.execute("SELECT service, slo, stage, reason, overridden_by, expires_at - created_at "
                                 "FROM release_gate_overrides ORDER BY created_at").fetchall()


def test_healthy_budget_allows_releases(ws):
    code, out = gate_json(ws, "checkout")
    assert code == 0
    assert (out["service"], out["allowed"], out["stage"]) == ("checkout", True, "healthy")
    assert out["actions"] == ["release freely"]
    # the lower of 0.6 (availability) and 0.9 (latency) drives the stage
    assert out["driven_by"] == {"slo": "checkout-availability", "objective": "Good", "window": "7d",
                                "remaining": pytest.approx(0.6)}
    assert out["override"] is None
    assert sorted((s["slo"], round(s["remaining"], 6), s["stage"]) for s in out["slos"]) == [
        ("checkout-availability", 0.6, "healthy"), ("checkout-latency", 0.9, "healthy")]
    assert out["policy"]["name"] == "default" and out["policy"]["source"] == "policies/budget.yaml:1"


def test_warn_stage_allows_releases_and_prints_its_actions(ws):
    result = gate(ws, "search")
    assert result.exit_code == 0, result.output
    assert "stage warn" in result.stdout and "releases allowed" in result.stdout
    assert "driven by SLO search-availability, objective Good, window 7d: 30.0 % of the error budget left" in (
        " ".join(result.stdout.split()))
    assert "- notify the team" in result.stdout and "- review risky changes" in result.stdout


def test_exhausted_budget_blocks_releases(ws):
    result = gate(ws, "payments")
    assert result.exit_code == 3, result.output
    text = " ".join(result.stdout.split())
    assert "payments: releases BLOCKED (stage freeze" in text
    assert "driven by SLO payments-availability, objective Good, window 7d: -20.0 % of the error budget left" in text
    assert "- freeze feature releases" in text and "- reliability work only" in text
    code, out = gate_json(ws, "payments")
    assert code == 3
    assert (out["allowed"], out["blocked_by_policy"], out["stage"]) == (False, True, "freeze")
    assert out["driven_by"]["remaining"] == pytest.approx(-0.2)
    assert overrides(ws) == []


def test_override_with_reason_is_recorded_and_opens_the_gate(ws):
    result = gate(ws, "payments", "--override", "--reason", "hotfix for INC-42", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert "overridden" in result.stdout
    assert "hotfix for INC-42" in result.stdout
    assert overrides(ws) == [("payments", "payments-availability", "freeze", "hotfix for INC-42", "alice",
                              timedelta(hours=24))]
    # the override stays in force for later checks of the same service and stage (e.g. the pipeline's)
    code, out = gate_json(ws, "payments")
    assert code == 0
    assert (out["allowed"], out["blocked_by_policy"], out["stage"]) == (True, True, "freeze")
    assert out["override"]["reason"] == "hotfix for INC-42" and out["override"]["recorded"] is False
    assert len(overrides(ws)) == 1


def test_override_json_and_expiry(ws):
    code, out = gate_json(ws, "payments", "--override", "--reason", "rollback", "--by", "bob", "--expires-in", "2h")
    assert code == 0
    assert out["allowed"] is True and out["override"]["recorded"] is True
    assert out["override"]["overridden_by"] == "bob" and out["override"]["stage"] == "freeze"
    assert overrides(ws)[0][-1] == timedelta(hours=2)


def test_override_needs_a_reason(ws):
    for extra in ([], ["--reason", "   "]):
        result = gate(ws, "payments", "--override", "--by", "alice", *extra)
        assert result.exit_code == 2, result.output
        assert "--override needs --reason" in result.stderr
    result = gate(ws, "payments", "--reason", "why not")
    assert result.exit_code == 2
    assert "go with --override" in result.stderr
    assert overrides(ws) == []


def test_override_of_an_open_gate_records_nothing(ws):
    result = gate(ws, "search", "--override", "--reason", "just in case", "--by", "alice")
    assert result.exit_code == 0
    assert "no override recorded" in result.stderr
    assert overrides(ws) == []


def test_policy_file_error_names_file_and_line(ws):
    (ws / "policies" / "budget.yaml").write_text(POLICY.replace("below: 0.5", "below: 2"))
    result = gate(ws, "checkout")
    assert result.exit_code == 1
    assert "policies/budget.yaml:9: ERROR [model] stages.1.below" in result.stderr


def test_most_specific_policy_wins_over_star(ws):
    (ws / "policies" / "search.yaml").write_text(SEARCH_POLICY)
    result = gate(ws, "search")  # 30 % left: warn under "*", but below search-strict's 50 % stop
    assert result.exit_code == 3, result.output
    assert "stage stop" in result.stdout and "search-strict" in result.stdout
    assert "- stop feature releases" in result.stdout
    code, out = gate_json(ws, "checkout")  # still the "*" policy: 60 % left
    assert (code, out["stage"], out["policy"]["name"]) == (0, "healthy", "default")


def test_service_without_policy_gets_the_built_in_default(ws):
    (ws / "policies" / "budget.yaml").write_text(SEARCH_POLICY)  # covers search only
    code, out = gate_json(ws, "payments")
    assert (code, out["stage"], out["policy"]["source"]) == (3, "freeze", "built-in")


def test_unknown_service_fails(ws):
    result = gate(ws, "nope")
    assert result.exit_code == 1
    assert "no SLO for service 'nope'" in result.stderr


def test_service_whose_slos_the_store_cannot_compute_fails(ws):
    sloth = Path(__file__).resolve().parents[1] / "fixtures" / "sloth" / "getting-started.yml"
    (ws / "slos" / "sloth.yaml").write_text(sloth.read_text())  # Prometheus queries: not computed here
    result = gate(ws, "myservice")
    assert result.exit_code == 1
    assert "no SLO of service 'myservice' can be computed from the store" in " ".join(result.stderr.split())


def test_insufficient_data(ws):
    code, out = gate_json(ws, "thin")  # 50 events < min_events 100: allowed under `insufficient_data: allow`
    assert (code, out["allowed"], out["stage"]) == (0, True, "insufficient_data")
    assert out["driven_by"]["slo"] == "thin-availability" and out["driven_by"]["remaining"] == pytest.approx(1.0)
    (ws / "policies" / "budget.yaml").write_text(POLICY.replace("insufficient_data: allow",
                                                                "insufficient_data: block"))
    code, out = gate_json(ws, "thin")
    assert (code, out["allowed"], out["stage"]) == (3, False, "insufficient_data")
    # --at before the events: no SLO of checkout has data, so the blocking policy blocks it too
    code, out = gate_json(ws, "checkout", "--at", (EVENTS_AT - timedelta(days=1)).isoformat())
    assert (code, out["stage"]) == (3, "insufficient_data")
    assert {s["state"] for s in out["slos"]} == {"insufficient_data"}


def test_at_judges_the_budget_at_that_instant(ws):
    after_window = (EVENTS_AT + timedelta(days=8)).isoformat()  # the events have left the 7d window
    code, out = gate_json(ws, "payments", "--at", after_window)
    assert (code, out["stage"]) == (0, "insufficient_data")


def test_override_in_force_only_between_creation_and_expiry(ws):
    specs, policies = load_slos(ws), load_policies(ws)
    with Store.open(load_settings(ws).store_url) as store:
        decision = evaluate_gate(store, specs, policies, "payments", NOW)
        assert not decision.allowed
        made = record_override(store, decision, reason="r", by="me", expires_in=timedelta(hours=1), now=NOW)
        assert made["stage"] == "freeze" and made["slo"] == "payments-availability"
        assert active_override(store, "payments", "freeze", NOW - timedelta(seconds=1)) is None
        assert active_override(store, "payments", "freeze", NOW)["override_id"] == made["override_id"]
        assert active_override(store, "payments", "freeze", NOW + timedelta(hours=1)) is None
        assert active_override(store, "payments", "warn", NOW) is None
        assert evaluate_gate(store, specs, policies, "payments", NOW + timedelta(minutes=30)).allowed
        assert not evaluate_gate(store, specs, policies, "payments", NOW + timedelta(hours=2)).allowed
