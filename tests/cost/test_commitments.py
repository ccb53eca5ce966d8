"""Commitment utilisation and coverage against the FOCUS spec scenarios, and the commitment recommendation."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.cost.commitments import (
    best_commitment,
    commitments_report,
    coverage,
    hourly_spend,
    recommend,
    rollup,
    utilization,
)
from engmetrics.ingest import ingest_files
from engmetrics.settings import CommitmentSettings, load_settings
from engmetrics.store import Store

SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "focus-spec-scenarios"
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
WHOLE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
HEAD = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
        "PricingCategory", "ProviderName", "ServiceName", "ServiceCategory", "SkuId", "BillingCurrency", "BilledCost",
        "EffectiveCost", "ListCost", "CommitmentDiscountId", "CommitmentDiscountType", "CommitmentDiscountCategory",
        "CommitmentDiscountStatus", "CommitmentDiscountQuantity")


def focus_csv(rows: list[dict]) -> str:
    """A FOCUS CSV of `rows` (missing columns empty; billing period March 2026; hourly charge from `start`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, HEAD)
    writer.writeheader()
    for r in rows:
        start = r.pop("start", T0)
        hours = r.pop("hours", 1)
        writer.writerow({"BillingPeriodStart": "2026-03-01T00:00:00Z", "BillingPeriodEnd": "2026-04-01T00:00:00Z",
                         "ChargePeriodStart": start.isoformat(),
                         "ChargePeriodEnd": (start + timedelta(hours=hours)).isoformat(), "ChargeCategory": "Usage",
                         "ProviderName": "AWS", "BillingCurrency": "USD", **r})
    return out.getvalue()


def scenario(name: str) -> Path:
    path = next(SCENARIOS.glob(f"*/{name}.csv"), None)
    if path is None:
        pytest.skip(f"FOCUS spec scenarios not present at {SCENARIOS}")
    return path


def ingested(store: Store, path: Path):
    result = ingest_files(store, "cost", [path])
    assert result.read == result.inserted + result.updated + result.unchanged + result.quarantined
    return result


def the_commitment(store: Store) -> dict:
    [item] = utilization(store, *WHOLE).to_pyarrow().to_pylist()
    return item


# (file, quarantined, used_cost, unused_cost, utilization, quantity utilisation, purchase_cost), from the rows:
SCENARIO_ANSWERS = [
    # the Used row: EffectiveCost 0.50, CommitmentDiscountQuantity 1.00; no Unused row; purchase BilledCost 0.50
    ("one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource", 0, 0.5, 0.0, 1.0, 1.0,
     0.5),
    # two identical Used rows of 1.00 (quantity 2.00 each): both count, 2.00 used; purchase 2.00
    ("one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources", 0, 2.0, 0.0, 1.0, 1.0,
     2.0),
    # one Used row of 1.50
    ("one_hundred_percent_utilization_without_commitment_discount_flexibility", 0, 1.5, 0.0, 1.0, 1.0, 1.5),
    # one Unused row of 1.50 (quantity 1.00): 0 / (0 + 1.5)
    ("zero_percent_utilization_without_commitment_discount_flexibility", 0, 0.0, 1.5, 0.0, 0.0, 1.5),
    ("commitment_discount_usage_scenario_1", 0, 1.0, 0.0, 1.0, 1.0, 0.0),  # Used 1.00
    ("commitment_discount_usage_scenario_2", 0, 0.0, 1.0, 0.0, 0.0, 0.0),  # Unused 1.00
    ("commitment_discount_usage_scenario_3", 0, 0.75, 0.25, 0.75, 0.75, 0.0),  # 0.75 / (0.75 + 0.25)
    ("commitment_discount_usage_scenario_4", 0, 1.0, 0.0, 1.0, 1.0, 0.0),  # Used 1.00; the other row is on-demand
    # purchases only: nothing used or unused yet, so no utilisation
    ("commitment_discount_purchase_scenario_1", 0, 0.0, 0.0, None, None, 8760.0),
    # the third row's ChargePeriodEnd "2023-02-01T30:00:00Z" is no timestamp: quarantined; 1.00 + 1.00 remain
    ("commitment_discount_purchase_scenario_2", 1, 0.0, 0.0, None, None, 2.0),
    ("commitment_discount_purchase_scenario_3", 1, 0.0, 0.0, None, None, 4381.0),  # 4380 + 0.50 + 0.50
]


@pytest.mark.parametrize(("name", "quarantined", "used", "unused", "util", "qty_util", "purchase"), SCENARIO_ANSWERS)
def test_spec_scenario_utilisation(store, name, quarantined, used, unused, util, qty_util, purchase):
    assert ingested(store, scenario(name)).quarantined == quarantined
    item = the_commitment(store)
    assert item["commitment_id"] == "<my-commitment-discount-id>"
    assert (item["used_cost"], item["unused_cost"], item["purchase_cost"]) == pytest.approx((used, unused, purchase))
    assert item["utilization"] == (None if util is None else pytest.approx(util))
    assert item["quantity_utilization"] == (None if qty_util is None else pytest.approx(qty_util))
    if name.startswith("one_hundred_percent"):
        assert item["utilization"] == 1.0  # what the file name says
    if name.startswith("zero_percent"):
        assert item["utilization"] == 0.0


@pytest.mark.parametrize(("name", "expected", "listed"), [
    # Used 1.00 of eligible 1.00 + on-demand 0.50 (no ListCost column: no list-based coverage)
    ("commitment_discount_usage_scenario_4", 1.0 / 1.5, None),
    # Used 0.50 + on-demand 2.25; by ListCost 3.00 / (3.00 + 2.25)
    ("one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource", 0.5 / 2.75, 3.0 / 5.25),
    # the Unused row is idle commitment, not usage: covered 0 of the on-demand 2.00
    ("zero_percent_utilization_without_commitment_discount_flexibility", 0.0, 0.0),
])
def test_spec_scenario_coverage(store, name, expected, listed):
    ingested(store, scenario(name))
    [row] = coverage(store, *WHOLE).to_pyarrow().to_pylist()
    assert row["coverage"] == pytest.approx(expected)
    assert row["coverage_list"] == (None if listed is None else pytest.approx(listed))


def test_coverage_by_sku_counts_only_skus_with_commitment_rows(store):
    ingested(store, scenario("zero_percent_utilization_without_commitment_discount_flexibility"))
    # the commitment's SKU is VM_LARGE (its Unused row); the on-demand usage is VM_MEDIUM: nothing eligible
    assert coverage(store, *WHOLE, eligible_by="sku").to_pyarrow().to_pylist() == []


def test_rollup_is_cost_weighted(store, write):
    rows = [{"CommitmentDiscountId": cid, "CommitmentDiscountType": "Savings Plan", "CommitmentDiscountStatus": st,
             "EffectiveCost": cost, "BilledCost": 0, "PricingCategory": "Committed"}
            for cid, st, cost in [("a", "Used", 3), ("a", "unused", 1), ("b", "USED", 1), ("b", "Unused", 3)]]
    ingested(store, write("c.csv", focus_csv(rows)))
    per = {r["commitment_id"]: r["utilization"] for r in utilization(store, *WHOLE).to_pyarrow().to_pylist()}
    assert per == {"a": 0.75, "b": 0.25}  # 3/4 and 1/4, status compared case-blind
    [total] = rollup(utilization(store, *WHOLE)).to_pyarrow().to_pylist()
    assert (total["commitments"], total["utilization"]) == (2, 0.5)  # (3 + 1) / 8, not the mean of the ratios


def test_a_lower_case_currency_is_the_same_currency(store, write):
    rows = [{"CommitmentDiscountId": "a", "CommitmentDiscountStatus": status, "EffectiveCost": cost, "BilledCost": 0,
             "ServiceName": "EC2", "BillingCurrency": currency, "PricingCategory": "Committed"}
            for status, cost, currency in [("Used", 3, "USD"), ("Unused", 1, "USD")]]
    rows.append({"ServiceName": "EC2", "EffectiveCost": 2, "BilledCost": 2, "PricingCategory": "Standard"})
    ingested(store, write("c.csv", focus_csv(rows)))
    # as a bill may hold them (whatever ingest makes of its input): two rows in lower case, one with a blank
    store.sql.execute("UPDATE cost SET BillingCurrency = 'usd' WHERE CommitmentDiscountStatus = 'Unused'")
    store.sql.execute("UPDATE cost SET BillingCurrency = ' usd' WHERE PricingCategory = 'Standard'")
    [item] = utilization(store, *WHOLE).to_pyarrow().to_pylist()
    # one commitment in one currency: 3 / (3 + 1)
    assert (item["currency"], item["used_cost"], item["unused_cost"], item["utilization"]) == ("USD", 3.0, 1.0, 0.75)
    [row] = coverage(store, *WHOLE).to_pyarrow().to_pylist()
    # eligible EC2 usage: the Used 3 and the on-demand 2 (the Unused row is idle commitment): 3 / 5
    assert (row["currency"], row["covered_cost"], row["eligible_cost"], row["coverage"]) == ("USD", 3.0, 5.0, 0.6)
    t = store.table("cost")
    hours = hourly_spend(t, t.EffectiveCost, T0, T0 + timedelta(hours=1)).to_pyarrow().to_pylist()
    assert [(r["currency"], r["spend"]) for r in hours] == [("USD", 6.0)]  # 3 + 1 + 2 in one currency


def test_best_commitment_on_a_hand_made_series():
    spend = [4, 0, 9, 1, 7, 2, 8, 3, 6, 5]  # 0..9 shuffled
    c = best_commitment(spend, 0.3)
    # k = ceil(0.3 x 10) = 3: the third smallest, 2. On demand 45; committed 10 x 2 x 0.7 = 14 plus the spend
    # above 2: 1+2+...+7 = 28, so 42: savings 3 (6.7 %). Hours below 2: 0 and 1 (20 %), idle 0.7 x (2 + 1) = 2.1
    assert (c.level, c.on_demand_cost, c.committed_cost, c.savings) == (2.0, 45.0, pytest.approx(42.0),
                                                                         pytest.approx(3.0))
    assert (c.savings_share, c.unused_hours_share, c.expected_unused_cost) == (pytest.approx(3 / 45), 0.2,
                                                                               pytest.approx(2.1))
    assert c.commitment_cost_per_hour == pytest.approx(1.4)
    # d x n = 3 exactly: any level in [2, 3] costs the same; the smaller is chosen
    assert best_commitment(spend, 0.3).committed_cost == pytest.approx(
        10 * 3 * 0.7 + sum(max(0, s - 3) for s in spend))
    assert best_commitment(spend, 0.0).level == 0.0  # no discount: no commitment
    assert best_commitment([], 0.3).level == 0.0
    with pytest.raises(ValueError):
        best_commitment(spend, 1.0)


def _cost(spend: np.ndarray, level: float, d: float) -> float:
    return float(np.sum(level * (1 - d) + np.maximum(0, spend - level)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=60), st.floats(0, 0.9),
       st.floats(0, 1000))
def test_best_commitment_is_never_beaten(spend, d, other):
    s = np.array(spend)
    c = best_commitment(s, d)
    assert c.committed_cost == pytest.approx(_cost(s, c.level, d))
    for level in [*spend, other, 0.0]:
        assert c.committed_cost <= _cost(s, level, d) + 1e-6 * (1 + abs(c.committed_cost))
    assert c.savings >= -1e-9  # never worse than on-demand: L = 0 is always a candidate


def week_of_spend(night: float = 10.0, day: float = 20.0) -> list[dict]:
    """168 hourly on-demand compute rows (12 night hours at `night`, 12 day hours at `day`), plus rows the
    recommendation must ignore: storage (not eligible) and committed usage (not on-demand)."""
    rows = [{"start": T0 + timedelta(hours=h), "PricingCategory": "Standard", "ServiceName": "EC2",
             "ServiceCategory": "Compute", "EffectiveCost": night if (h % 24) < 12 else day, "BilledCost": 0}
            for h in range(168)]
    rows.append({"start": T0, "hours": 168, "PricingCategory": "Standard", "ServiceName": "S3",
                 "ServiceCategory": "Storage", "EffectiveCost": 5000, "BilledCost": 5000})
    rows.append({"start": T0, "PricingCategory": "Committed", "ServiceName": "EC2", "ServiceCategory": "Compute",
                 "EffectiveCost": 999, "BilledCost": 0, "CommitmentDiscountId": "sp-1",
                 "CommitmentDiscountStatus": "Used"})
    return rows


@pytest.mark.parametrize(("d", "level", "savings", "unused_hours", "unused_cost"), [
    # k = ceil(0.3 x 168) = 51 <= 84 night hours: L = 10. On demand 84 x 10 + 84 x 20 = 2520; committed
    # 168 x 10 x 0.7 = 1176 + 84 x 10 above the level = 2016: savings 504 (20 %); never idle
    (0.3, 10.0, 504.0, 0.0, 0.0),
    # k = ceil(0.6 x 168) = 101 > 84: L = 20. Committed 168 x 20 x 0.4 = 1344: savings 1176; the 84 night hours
    # leave 10 idle each: 84 x 10 x 0.4 = 336
    (0.6, 20.0, 1176.0, 0.5, 336.0),
])
def test_recommendation_on_a_hand_made_week(store, write, d, level, savings, unused_hours, unused_cost):
    ingested(store, write("w.csv", focus_csv(week_of_spend())))
    [r] = recommend(store, T0, T0 + timedelta(days=7), discount=0.9, discounts={"AWS": d})
    assert (r["provider"], r["status"], r["hours"], r["discount"]) == ("AWS", "ok", 168, d)
    assert (r["level_per_hour"], r["on_demand_cost"]) == (level, pytest.approx(2520.0))
    assert (r["savings"], r["savings_share"]) == (pytest.approx(savings), pytest.approx(savings / 2520))
    assert (r["unused_hours_share"], r["expected_unused_cost"]) == (unused_hours, pytest.approx(unused_cost))


def test_recommendation_needs_a_week_of_data(store, write):
    ingested(store, write("w.csv", focus_csv(week_of_spend()[:100])))  # 100 hours
    [r] = recommend(store, T0, T0 + timedelta(days=30))
    assert (r["hours"], r["status"], r["level_per_hour"]) == (100, "insufficient_data", None)


def test_named_services_replace_the_default_eligibility(store, write):
    ingested(store, write("w.csv", focus_csv(week_of_spend())))
    # only S3 (a 168-hour row of 5000: 5000/168 per hour, flat): every hour at that level, L = that level
    [r] = recommend(store, T0, T0 + timedelta(days=7), services=["S3"])
    assert r["level_per_hour"] == pytest.approx(5000 / 168)
    assert r["savings"] == pytest.approx(5000 * 0.3)  # the whole spend committed at 30 % off


def test_a_daily_row_is_spread_over_its_hours(store, write):
    ingested(store, write("d.csv", focus_csv([{"start": T0, "hours": 24, "EffectiveCost": 48, "BilledCost": 48,
                                               "PricingCategory": "Standard"}])))
    t = store.table("cost")
    rows = hourly_spend(t, t.EffectiveCost, T0 + timedelta(hours=20), T0 + timedelta(days=2)).to_pyarrow().to_pylist()
    assert [r["spend"] for r in rows] == [2.0] * 4  # 48 / 24 per hour; only hours 20..23 are in the window


def test_report_window_ends_after_the_last_charge(store, write):
    ingested(store, write("w.csv", focus_csv(week_of_spend())))
    report = commitments_report(store, lookback_days=30)
    assert (report.start, report.end) == (T0 + timedelta(days=7) - timedelta(days=30), T0 + timedelta(days=7))
    assert [i["commitment_id"] for i in report.items] == ["sp-1"]
    [cov] = report.coverage  # EC2 is covered 999 of 999 + 84 x 10 + 84 x 20
    assert cov["coverage"] == pytest.approx(999 / (999 + 2520))
    assert report.to_dict()["recommendations"][0]["lookback_days"] == 30


def test_settings_model_refuses_a_bad_discount():
    with pytest.raises(ValueError):
        CommitmentSettings(discounts={"AWS": 1.2})


def test_cli_json_and_table(workspace, cli, write):
    with Store.open(load_settings(workspace).store_url) as store:
        ingested(store, write("w.csv", focus_csv(week_of_spend())))
    result = cli("cost", "commitments", "--lookback-days", "7", "--discount", "0.3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    [item] = out["items"]
    assert {k: item[k] for k in ("commitment_id", "type", "category", "provider", "used_cost", "unused_cost",
                                 "utilization")} == {
        "commitment_id": "sp-1", "type": None, "category": None, "provider": "AWS", "used_cost": 999.0,
        "unused_cost": 0.0, "utilization": 1.0}
    [rec] = out["recommendations"]
    assert {k: rec[k] for k in ("level_per_hour", "savings", "savings_share", "unused_hours_share",
                                "expected_unused_cost", "lookback_days")} == {
        "level_per_hour": 10.0, "savings": pytest.approx(504.0), "savings_share": pytest.approx(0.2),
        "unused_hours_share": 0.0, "expected_unused_cost": 0.0, "lookback_days": 7}
    shared = cli("cost", "commitments", "--lookback-days", "7", "--provider-discount", "AWS=0.6")
    assert shared.exit_code == 0, shared.output
    assert "sp-1" in shared.stdout and "20.00" in shared.stdout  # the 60 % level
    bad = cli("cost", "commitments", "--provider-discount", "AWS")
    assert bad.exit_code == 1 and "PROVIDER=RATE" in bad.output


@pytest.mark.spark
@pytest.mark.slow
def test_utilisation_and_recommendation_are_the_same_on_pyspark(store, write, spark_session):
    import ibis

    rows = [*week_of_spend(), {"CommitmentDiscountId": "sp-2", "CommitmentDiscountStatus": "Unused",
                               "EffectiveCost": 1.0, "BilledCost": 0, "PricingCategory": "Committed",
                               "CommitmentDiscountQuantity": 2}]
    ingested(store, write("w.csv", focus_csv(rows)))
    spark = ibis.pyspark.connect(spark_session)
    spark_session.createDataFrame(store.table("cost").to_pyarrow()).createOrReplaceTempView("cost")
    on_spark = Store(spark, url="pyspark://")
    end = T0 + timedelta(days=7)

    def everything(s: Store) -> str:
        report = commitments_report(s, lookback_days=7, end=end)
        return json.dumps(report.to_dict(), default=str, sort_keys=True)

    assert everything(on_spark) == everything(store)
    assert "sp-2" in everything(store)
