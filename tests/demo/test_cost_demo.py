"""The demo exercises every cost feature (issue 7): a dirty two-provider FOCUS export that loads with an exact
accounting, allocation rules with each shared-cost split, idle and rightsizing candidates, budgets with a
forecast alert, a savings plan, unit cost, what-if pricing and a reconciliation with findings."""

from __future__ import annotations

import gzip
import json
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.cost.allocation_rules import load_allocation_rules
from engmetrics.demo import DemoResult, build_demo
from engmetrics.settings import load_settings
from engmetrics.store import Store

END = date(2026, 1, 4)  # 45 days: Nov 21 to Jan 4; December is the one closed, invoiced month


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return build_demo(tmp_path_factory.mktemp("cost") / "demo", days=45, end=END, evaluate=False)


def cost(demo: DemoResult, *args: str, exit_code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["-w", str(demo.directory), "cost", *args, "--json"])
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def test_the_dirty_export_loads_with_an_exact_accounting(demo: DemoResult) -> None:
    path = demo.directory / "data" / "focus_cost_export.csv.gz"
    with gzip.open(path, "rt") as handle:
        header, *lines = handle.read().splitlines()
    assert header.endswith('"x_ExportId"') and '"ChargeClass"' in header
    text = "\n".join(lines)
    assert ',"NULL",' in text and ',"usage-based",' in text and ',"standard",' in text
    (ingested,) = [r for r in demo.ingested if r.dataset == "cost"]
    assert ingested.quarantined == 0
    assert ingested.inserted == len(lines)  # the duplicated line item is a row of its own
    with Store.open(load_settings(demo.directory).store_url, read_only=True) as store:
        t = store.table("cost")
        frequencies = set(t.ChargeFrequency.to_pyarrow().to_pylist())
        exports = t.filter(t.x_extensions.contains("x_ExportId")).count().execute()
        zones = t.filter(t.ProviderName == "Microsoft").AvailabilityZone.count().execute()
        providers = set(t.ProviderName.to_pyarrow().to_pylist())
    assert frequencies <= {"Usage-Based", "Recurring", "One-Time"}  # usage-based normalised
    assert exports == len(lines) and zones == 0  # NULL text read as null
    assert providers == {"AWS", "Microsoft"}

    report = cost(demo, "validate", str(path), exit_code=3)  # not conformant
    failed = {r["rule"] for r in report["rules"] if r["status"] == "fail"}
    assert failed == {"allowed_values:ChargeFrequency", "allowed_values:PricingCategory"}  # the lower case only


def test_allocation_rules_use_every_split_and_add_up(demo: DemoResult) -> None:
    rules = load_allocation_rules(demo.directory)
    assert {r.split for r in rules.shared} == {"proportional", "usage", "fixed"}
    assert "owner-team" in rules.dimensions.team.keys and rules.owners[0].team == "platform"
    out = cost(demo, "allocate", "--by", "team", "--from", "2025-12-01", "--to", "2025-12-31")
    usd = [i for i in out["items"] if i["currency"] == "USD"]
    total = next(t for t in out["totals"] if t["currency"] == "USD")
    assert sum(i["cost"] for i in usd) == pytest.approx(total["cost"])
    assert total["shared"] > 0 and all(i["shared"] > 0 for i in usd if not i["group"].startswith("("))
    assert {i["group"] for i in usd} >= {"payments", "platform", "(untagged)"}
    coverage = {c["account"]: c for c in out["coverage"]}
    assert coverage["acct-sandbox"]["rule"] > 0 and coverage["acct-shared"]["shared"] > 0
    assert any(i["currency"] == "EUR" and i["group"] == "data" for i in out["items"])


def test_idle_rightsizing_young_and_unmonitored_instances(demo: DemoResult) -> None:
    out = cost(demo, "idle", "--at", END.isoformat())
    verdicts = {i["verdict"] for i in out["items"]}
    assert verdicts == {"idle", "rightsize"}
    for item in out["items"]:
        if item["verdict"] == "rightsize":
            assert 0.1 < item["p95_cpu"] < 0.4 and item["p95_mem"] < 0.5 and item["estimated_monthly_savings"] > 0
    assert out["excluded_young"] == 3
    assert any(u["resource_id"].startswith("i-") for u in out["unknown"])  # the instance without an agent


def test_a_budget_forecast_crosses_before_the_actual(demo: DemoResult) -> None:
    items = cost(demo, "budgets", "--at", END.isoformat())["items"]
    assert {next(iter(i["scope"])) for i in items} == {"team", "account"}
    assert {i["period"] for i in items} == {"monthly", "quarterly"}
    early = [i for i in items if any(a["type"] == "forecast" and a["percent"] == 100 for a in i["alerts"])
             and i["actual"] < i["amount"] <= i["forecast"]]
    assert early and early[0]["status"] == "forecast_over_budget"


def test_a_savings_plan_partly_used(demo: DemoResult) -> None:
    out = cost(demo, "commitments")
    (plan,) = out["items"]
    assert (plan["type"], plan["category"], plan["provider"]) == ("Savings Plan", "Spend", "AWS")
    assert 0 < plan["utilization"] < 1 and plan["quantity_utilization"] == pytest.approx(plan["utilization"])
    assert plan["purchase_cost"] > 0
    assert 0 < out["coverage"][0]["coverage"] < 1
    assert any(r["status"] == "ok" and r["savings"] > 0 for r in out["recommendations"])


def test_unit_cost_and_what_if(demo: DemoResult) -> None:
    unit = cost(demo, "unit", "--from", "2025-12-01", "--to", "2025-12-31")["items"]
    assert unit and all(i["cost_per_unit"] > 0 for i in unit if i["volume"])
    whatif = {i["provider"]: i for i in cost(demo, "whatif", "on-demand", "--from", "2025-12-01",
                                             "--to", "2025-12-31")["items"]}
    assert whatif["AWS"]["repriced"] > whatif["AWS"]["paid"]  # the savings plan saves money


def test_reconciliation_finds_the_duplicate_the_missing_day_and_late_data(demo: DemoResult) -> None:
    out = cost(demo, "reconcile", "--invoices", str(demo.directory / "data" / "invoices.csv"))
    assert out["currency"] == "USD"  # budgets/rates.yaml converts the EUR provider
    items = {(i["provider"], i["billing_period_start"]): i for i in out["items"]}
    aws, azure = items[("AWS", "2025-12-01")], items[("Microsoft", "2025-12-01")]
    assert aws["duplicates"] == 1 and aws["missing_days"] == []
    assert aws["difference"] == pytest.approx(aws["duplicate_cost"], abs=0.01)  # the invoice bills it once
    assert len(azure["missing_days"]) == 1 and azure["difference"] < 0  # the invoice has the missing day
    late = {p["provider"]: p for p in out["providers"]}
    assert late["Microsoft"]["stops_early"] and late["Microsoft"]["days_behind"] == 2
    assert not late["AWS"]["stops_early"]
    invoiced = [i for i in out["items"] if i["invoice_total"] is not None]
    assert len(invoiced) == 2 and all(i["billing_period_start"] == "2025-12-01" for i in invoiced)
