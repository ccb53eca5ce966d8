"""Idle and rightsizing candidates: hand-checked verdicts, percentiles, savings and what is left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.cost.allocation import allocated_daily
from engmetrics.cost.allocation_rules import AllocationRules
from engmetrics.cost.idle import idle_resources
from engmetrics.settings import IdleRule, IdleSettings, load_settings
from engmetrics.store import Store

END = datetime(2026, 3, 15, tzinfo=UTC)  # window 1 March 00:00 .. 15 March 00:00 (14 days)
START = END - timedelta(days=14)
FEB20 = datetime(2026, 2, 20, tzinfo=UTC)
VM = "Virtual Machine"


def samples(store: Store, resource: str, first: datetime, cpu: list[float] | float, mem: float | None = 0.3,
            resource_type: str = VM, step_hours: int = 6, last: datetime = END, provider: str = "AWS") -> None:
    """Utilisation every `step_hours` from `first` until `last`; `cpu` a constant or values used in turn."""
    times = []
    t = first
    while t < last:
        times.append(t)
        t += timedelta(hours=step_hours)
    cpus = [cpu] * len(times) if isinstance(cpu, float) else [cpu[i % len(cpu)] for i in range(len(times))]
    table = pa.table({"resource_id": [resource] * len(times), "ts": pa.array(times, pa.timestamp("us", "UTC")),
                      "cpu_util": cpus, "mem_util": [mem] * len(times), "provider": [provider] * len(times),
                      "resource_type": [resource_type] * len(times), "region": ["eu-central-1"] * len(times)})
    store.sql.register("_new_samples", table)
    store.sql.execute("INSERT INTO utilization BY NAME SELECT * FROM _new_samples")
    store.sql.unregister("_new_samples")


def daily_cost(store: Store, resource: str | None, first: datetime, last: datetime, amount: float,
               tags: dict | None = None, resource_type: str = VM, currency: str = "USD",
               provider: str = "AWS") -> None:
    """One FOCUS usage row per day in [first, last), EffectiveCost `amount` (BilledCost the same)."""
    days = [first + timedelta(days=d) for d in range(int((last - first) / timedelta(days=1)))]
    store.sql.executemany(
        """INSERT INTO cost (x_row_hash, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart, ChargePeriodEnd,
               ChargeCategory, BilledCost, EffectiveCost, ResourceId, ResourceType, ProviderName, RegionId,
               BillingCurrency, Tags)
           VALUES (?, ?, ?, ?, ?, 'Usage', ?, ?, ?, ?, ?, 'eu-central-1', ?, ?)""",
        [[f"{resource}-{day.isoformat()}", day.replace(day=1), day.replace(day=1) + timedelta(days=31), day,
          day + timedelta(days=1), amount, amount, resource, resource_type, provider, currency,
          json.dumps(tags) if tags else None] for day in days])


@pytest.fixture
def fleet(store):
    """The hand-checked fleet; cost exported through 13 March only (14 March not billed yet)."""
    billed = END - timedelta(days=1)
    samples(store, "i-idle", FEB20, 0.02)
    daily_cost(store, "i-idle", FEB20, billed, 2.4, {"user:Team": "platform", "SERVICE": "billing"})
    samples(store, "i-small", START, [0.3 * i / 55 for i in range(56)], mem=0.45)  # first sample = window start
    daily_cost(store, "i-small", FEB20, billed, 10.0, {"owner-team": "payments"})
    samples(store, "i-busy", FEB20, 0.9)
    daily_cost(store, "i-busy", FEB20, billed, 20.0)
    samples(store, "i-young", datetime(2026, 3, 5, tzinfo=UTC), 0.01)
    daily_cost(store, "i-young", datetime(2026, 3, 5, tzinfo=UTC), billed, 3.0)
    samples(store, "i-sparse", FEB20, 0.01, step_hours=36)
    daily_cost(store, "i-agentless", FEB20, billed, 5.0, {"team": "search"})
    daily_cost(store, "s3-logs", FEB20, billed, 0.0, resource_type="Storage Bucket")  # free: not even unknown
    daily_cost(store, None, FEB20, billed, 7.0)  # tax-like row without a resource
    return store


def test_idle_rightsize_young_and_unknown_hand_checked(fleet):
    report = idle_resources(fleet, end=END)
    assert (report.start, report.lookback_days, report.cost_days) == (START, 14, 13)  # cost 1..13 March
    by_id = {i["resource_id"]: i for i in report.items}
    assert list(by_id) == ["i-small", "i-idle"]  # largest savings first
    idle = by_id["i-idle"]
    # 13 billed days x 2.4 = 31.2 over 13 cost days: 31.2 x 30 / 13 = 72 a month; idle saves all of it
    assert (idle["verdict"], idle["p95_cpu"], idle["p95_mem"], idle["samples"]) == ("idle", 0.02, 0.3, 56)
    assert (idle["monthly_cost"], idle["estimated_monthly_savings"]) == (72.0, 72.0)
    assert (idle["team"], idle["service"], idle["provider"], idle["region"], idle["resource_type"]) == (
        "platform", "billing", "AWS", "eu-central-1", VM)
    small = by_id["i-small"]
    # cpu = 0.3 i / 55 for i = 0..55; p95 at rank 55 x 0.95 = 52.25: 0.3 x 52.25 / 55 = 0.285 (< 0.40, mem 0.45 < 0.50)
    # cost 10 a day: 130 x 30 / 13 = 300 a month; rightsizing saves half
    assert (small["verdict"], small["p95_cpu"], small["samples"]) == ("rightsize", 0.285, 56)
    assert (small["monthly_cost"], small["estimated_monthly_savings"], small["team"]) == (300.0, 150.0, "payments")
    assert report.excluded_young == 1  # i-young: first sample 5 March, after the window's start
    assert report.insufficient_samples == 1  # i-sparse: one sample every 36 h = 10 in 14 days (< 14)
    assert report.evaluated == 3  # i-idle, i-small, i-busy (ok)
    # i-agentless has cost (5 x 13 x 30 / 13 = 150 a month) but no utilisation: unknown, never idle
    assert [(u["resource_id"], u["monthly_cost"], u["team"]) for u in report.unknown] == [
        ("i-agentless", 150.0, "search")]
    assert report.to_dict()["estimated_monthly_savings"] == {"USD": 222.0}


def test_per_resource_type_overrides(fleet):
    samples(fleet, "db-quiet", FEB20, 0.08, mem=0.2, resource_type="Database Instance")
    daily_cost(fleet, "db-quiet", FEB20, END - timedelta(days=1), 4.0, resource_type="Database Instance")
    default = {i["resource_id"]: i["verdict"] for i in idle_resources(fleet, end=END).items}
    assert default["db-quiet"] == "rightsize"  # 0.08 > 0.05
    rules = IdleSettings(by_resource_type={"database instance": IdleRule(idle_cpu_p95=0.1)})
    report = idle_resources(fleet, rules, end=END)
    verdicts = {i["resource_id"]: i["verdict"] for i in report.items}
    assert (verdicts["db-quiet"], verdicts["i-idle"]) == ("idle", "idle")  # other types keep the defaults
    stricter = IdleSettings(by_resource_type={VM: IdleRule(min_samples_per_day=4.5)})  # 63 samples; VMs have 56
    assert {i["resource_id"] for i in idle_resources(fleet, stricter, end=END).items} == {"db-quiet"}
    quarter = IdleSettings(by_resource_type={VM: IdleRule(rightsize_savings=0.25)})
    small = next(i for i in idle_resources(fleet, quarter, end=END).items if i["resource_id"] == "i-small")
    assert small["estimated_monthly_savings"] == 75.0  # 300 x 0.25


def test_team_and_service_keys_come_from_the_allocation_rules(fleet):
    rules = AllocationRules.model_validate({"dimensions": {"team": {"keys": ["squad", "owner-team"]},
                                                           "service": {"keys": ["app"]}}, "key_prefixes": []})
    daily_cost(fleet, "i-idle", END - timedelta(days=1), END, 2.4, {"Squad": "core", "app": "api", "Team": "x"})
    teams = {i["resource_id"]: (i["team"], i["service"]) for i in idle_resources(fleet, end=END, rules=rules).items}
    # i-idle: its latest tags (14 March) name squad core; i-small: owner-team; no user: prefix
    assert teams == {"i-idle": ("core", "api"), "i-small": ("payments", None)}


def test_monthly_cost_counts_the_days_the_resources_provider_has_billed(store):
    samples(store, "i-aws", FEB20, 0.02)
    daily_cost(store, "i-aws", FEB20, END - timedelta(days=1), 2.4)  # AWS billed through 13 March
    samples(store, "vm-azure", FEB20, 0.02, provider="Microsoft")
    daily_cost(store, "vm-azure", FEB20, datetime(2026, 3, 8, tzinfo=UTC), 3.0, provider="Microsoft",
               currency="usd")  # Microsoft's export stops on 7 March; a lower-case currency
    report = idle_resources(store, end=END)
    by_id = {i["resource_id"]: i for i in report.items}
    # window 1..14 March: AWS has 13 billed days, Microsoft 7. i-aws: 13 x 2.4 x 30 / 13 = 72;
    # vm-azure: 7 x 3 x 30 / 7 = 90 (not 21 x 30 / 13, as if it had cost nothing on 8..13 March)
    assert (report.cost_days, report.cost_days_by_provider) == (13, {"AWS": 13, "Microsoft": 7})
    assert (by_id["i-aws"]["monthly_cost"], by_id["i-aws"]["cost_days"]) == (72.0, 13)
    assert (by_id["vm-azure"]["monthly_cost"], by_id["vm-azure"]["cost_days"]) == (90.0, 7)
    assert report.to_dict()["estimated_monthly_savings"] == {"USD": 162.0}  # usd is USD


def test_resource_ids_match_without_regard_to_case(store):
    monitor = "/subscriptions/0A1B/resourceGroups/RG-web/providers/Microsoft.Compute/virtualMachines/vm-web-1"
    samples(store, monitor, FEB20, 0.02, provider="Microsoft")
    daily_cost(store, monitor.lower(), FEB20, END, 1.5, {"team": "web"}, provider="Microsoft")
    report = idle_resources(store, end=END)
    # one resource (the utilisation's spelling), not an idle one without cost plus an unknown one: 14 x 1.5 x 30 / 14
    assert [(i["resource_id"], i["verdict"], i["monthly_cost"], i["team"]) for i in report.items] == [
        (monitor, "idle", 45.0, "web")]
    assert report.unknown == []


def test_idle_and_allocation_name_the_same_owners(store):
    store.sql.execute("INSERT INTO teams (team) VALUES ('payments'), ('Platform')")
    store.sql.execute("INSERT INTO services (service, team) VALUES ('checkout', 'payments')")
    for resource in ("i-tagged", "i-ruled", "i-service"):
        samples(store, resource, FEB20, 0.02)
    daily_cost(store, "i-tagged", START, END, 1.0, {"Team": "Payments"})
    daily_cost(store, "i-ruled", START, END, 2.0, {"team": "search"})
    daily_cost(store, "i-service", START, END, 4.0, {"service": "Checkout"})
    rules = AllocationRules.model_validate({"owners": [{"match": {"ResourceId": "I-RULED"}, "team": "platform"}]})
    idle = {i["resource_id"]: (i["team"], i["service"]) for i in idle_resources(store, end=END, rules=rules).items}
    # Payments is the teams dataset's payments; the owner rule beats the search tag (Platform, canonical); the
    # service tag gives checkout and, through `services`, its team payments
    assert idle == {"i-tagged": ("payments", None), "i-ruled": ("Platform", None),
                    "i-service": ("payments", "checkout")}
    allocated: dict[str, float] = {}
    for r in allocated_daily(store, rules, "team", START, END).to_pyarrow().to_pylist():
        allocated[r["group"]] = allocated.get(r["group"], 0.0) + r["cost"]
    assert allocated == {"payments": 14 * 1.0 + 14 * 4.0, "Platform": 14 * 2.0}  # the same names


def test_lookback_days_changes_the_window(fleet):
    report = idle_resources(fleet, end=END, lookback_days=7)
    # 8..14 March: i-young (since 5 March) is old enough now; cost days 8..13 March = 6
    assert (report.cost_days, report.excluded_young) == (6, 0)
    young = next(i for i in report.items if i["resource_id"] == "i-young")
    assert (young["verdict"], young["samples"], young["monthly_cost"]) == ("idle", 28, 90.0)  # 3 x 30


def test_no_cost_data_gives_no_savings(store):
    samples(store, "i-idle", FEB20, 0.02)
    [item] = idle_resources(store, end=END).items
    assert (item["verdict"], item["monthly_cost"], item["estimated_monthly_savings"]) == ("idle", None, None)


def test_cli_json_and_table(workspace, cli):
    with Store.open(load_settings(workspace).store_url) as store:
        samples(store, "i-idle", FEB20, 0.02)
        daily_cost(store, "i-idle", FEB20, END, 2.4, {"team": "platform"})
    result = cli("cost", "idle", "--at", "2026-03-14", "--json")  # the last day judged: window 1..14 March
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["start"], out["end"], out["lookback_days"]) == ("2026-03-01T00:00:00+00:00",
                                                                "2026-03-15T00:00:00+00:00", 14)
    [item] = out["items"]
    assert {k: item[k] for k in ("resource_id", "verdict", "p95_cpu", "samples", "monthly_cost", "team")} == {
        "resource_id": "i-idle", "verdict": "idle", "p95_cpu": 0.02, "samples": 56, "monthly_cost": 72.0,
        "team": "platform"}  # 2.4 x 30
    assert set(item) >= {"resource_id", "resource_type", "provider", "region", "verdict", "p95_cpu", "p95_mem",
                         "samples", "monthly_cost", "estimated_monthly_savings", "team", "service"}
    short = cli("cost", "idle", "--at", "2026-03-14", "--lookback-days", "5")
    assert short.exit_code == 0, short.output
    assert "Estimated savings per month: 72.00 USD" in short.stdout
    bad = cli("cost", "idle", "--at", "March")
    assert bad.exit_code == 1 and "not an ISO date" in bad.output


def test_every_resource_is_accounted_for_once(store):
    @settings(max_examples=6, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["young", "old", "none"]), st.floats(0, 1), st.booleans()),
                    min_size=1, max_size=6))
    def check(resources):
        store.sql.execute("DELETE FROM utilization; DELETE FROM cost")
        for n, (age, cpu, billed) in enumerate(resources):
            name = f"r{n}"
            if age != "none":
                samples(store, name, FEB20 if age == "old" else START + timedelta(days=2), cpu, step_hours=12)
            if billed or age == "none":
                daily_cost(store, name, START, END, 1.0)
        report = idle_resources(store, end=END)
        assert report.evaluated + report.excluded_young + report.insufficient_samples + len(report.unknown) == len(
            resources)
        for item in report.items:  # billed: 1 a day on every day of the window, 30 a month
            billed = resources[int(item["resource_id"][1:])][2]
            assert item["monthly_cost"] == (30.0 if billed else None)
            assert item["estimated_monthly_savings"] == (item["monthly_cost"] if item["verdict"] == "idle" else 15.0
                                                         if billed else None)

    check()


@pytest.mark.spark
@pytest.mark.slow
def test_idle_is_the_same_on_pyspark(fleet, spark_session):
    import ibis

    fleet.sql.execute("INSERT INTO teams (team) VALUES ('Platform')")  # canonical names of the fleet's tags
    fleet.sql.execute("INSERT INTO services (service, team) VALUES ('Billing', 'platform')")
    for name in ("utilization", "cost", "teams", "services"):
        table = fleet.table(name)
        if name == "teams":  # Spark cannot take the work_start / work_end times from Arrow
            table = table.select("team")
        spark_session.createDataFrame(table.to_pyarrow()).createOrReplaceTempView(name)
    spark = Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    on_duckdb, on_spark = idle_resources(fleet, end=END).to_dict(), idle_resources(spark, end=END).to_dict()
    assert (on_duckdb["items"][1]["team"], on_duckdb["items"][1]["service"]) == ("Platform", "Billing")  # i-idle
    assert json.dumps(on_spark, sort_keys=True) == json.dumps(on_duckdb, sort_keys=True)
