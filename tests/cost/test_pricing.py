"""What-if pricing: on-demand, a price table and a commitment, against what was paid (hand-checked)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.cost.pricing import Committed, OnDemand, load_price_table, what_if
from engmetrics.errors import InputError
from engmetrics.ingest import ingest_files
from engmetrics.settings import load_settings
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(days=1))
HEAD = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
        "PricingCategory", "ProviderName", "ServiceName", "ServiceCategory", "SkuId", "BillingCurrency", "BilledCost",
        "EffectiveCost", "ListCost", "ListUnitPrice", "PricingQuantity", "CommitmentDiscountId",
        "CommitmentDiscountStatus")


def focus_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEAD)
    writer.writeheader()
    for r in rows:
        start = T0 + timedelta(hours=r.pop("hour", 0))
        writer.writerow({"BillingPeriodStart": "2026-03-01T00:00:00Z", "BillingPeriodEnd": "2026-04-01T00:00:00Z",
                         "ChargePeriodStart": start.isoformat(), "ChargePeriodEnd": (start + timedelta(hours=1))
                         .isoformat(), "ChargeCategory": "Usage", "ProviderName": "AWS", "BillingCurrency": "USD",
                         "PricingCategory": "Standard", **r})
    return out.getvalue()


def load(store: Store, write, rows: list[dict]) -> None:
    result = ingest_files(store, "cost", [write("cost.csv", focus_csv(rows))])
    assert result.quarantined == 0


MIXED = [
    {"ServiceName": "EC2", "EffectiveCost": 10, "BilledCost": 10, "ListCost": 10},
    {"ServiceName": "EC2", "EffectiveCost": 6, "BilledCost": 0, "ListCost": 10, "PricingCategory": "Committed",
     "CommitmentDiscountId": "ri-1", "CommitmentDiscountStatus": "Used"},
    {"ServiceName": "EC2", "EffectiveCost": 2, "BilledCost": 0, "ListCost": 3, "PricingCategory": "Committed",
     "CommitmentDiscountId": "ri-1", "CommitmentDiscountStatus": "Unused"},
    {"ServiceName": "S3", "EffectiveCost": 4, "BilledCost": 4, "ListUnitPrice": 0.5, "PricingQuantity": 10},
    {"ServiceName": "Support", "EffectiveCost": 7, "BilledCost": 7},
    {"ServiceName": "EC2", "EffectiveCost": 100, "BilledCost": 100, "ListCost": 100, "ChargeCategory": "Tax"},
]


def test_on_demand_repricing(store, write):
    load(store, write, MIXED)
    result = what_if(store, OnDemand(), *WINDOW)
    [item] = result.items
    # paid: 10 + 6 + 2 + 4 + 7 = 29 (the tax row is no usage). Re-priced: 10 (list) + 10 (list of the covered
    # row) + 0 (idle commitment disappears) + 0.5 x 10 (ListUnitPrice x PricingQuantity) + 7 (no list price:
    # kept, counted unpriced) = 32
    assert (item["paid"], item["repriced"], item["difference"]) == (29.0, 32.0, 3.0)
    assert (item["unpriced_rows"], item["unpriced_cost"], item["rows"]) == (1, 7.0, 5)
    assert item["difference_share"] == pytest.approx(3 / 29)
    ec2 = next(s for s in result.services if s["service"] == "EC2")
    assert (ec2["paid"], ec2["repriced"]) == (18.0, 20.0)


def test_price_table_by_sku_then_service(store, write, tmp_path):
    load(store, write, [
        {"ServiceName": "EC2", "SkuId": "sku-a", "PricingQuantity": 100, "EffectiveCost": 25, "BilledCost": 25},
        {"ServiceName": "EC2", "SkuId": "sku-b", "PricingQuantity": 10, "EffectiveCost": 5, "BilledCost": 5},
        {"ServiceName": "S3", "SkuId": "sku-s", "PricingQuantity": 10, "EffectiveCost": 4, "BilledCost": 4},
        {"ServiceName": "S3", "SkuId": "sku-s", "PricingQuantity": 10, "EffectiveCost": 4, "BilledCost": 4,
         "BillingCurrency": "EUR"},
        {"ServiceName": "Lambda", "PricingQuantity": 10, "EffectiveCost": 1, "BilledCost": 1},
    ])
    prices = tmp_path / "prices.csv"
    prices.write_text("SkuId,ServiceName,unit_price,currency\nsku-a,,0.2,\n,EC2,1.0,\n,S3,0.3,usd\n")  # usd: USD
    result = what_if(store, load_price_table(prices), *WINDOW)
    usd, eur = sorted(result.items, key=lambda i: i["currency"], reverse=True)
    # USD: sku-a by its SKU 0.2 x 100 = 20 (the SKU beats the EC2 entry); sku-b by service 1.0 x 10 = 10;
    # S3 0.3 x 10 = 3; Lambda has no entry: kept at 1. Paid 25 + 5 + 4 + 1 = 35, re-priced 20 + 10 + 3 + 1 = 34
    assert (usd["currency"], usd["paid"], usd["repriced"], usd["unpriced_rows"]) == ("USD", 35.0, 34.0, 1)
    # EUR: the S3 entry prices USD rows only: unpriced, kept at 4
    assert (eur["currency"], eur["paid"], eur["repriced"], eur["unpriced_rows"]) == ("EUR", 4.0, 4.0, 1)


def test_price_table_yaml_and_its_errors(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("prices:\n  - {SkuId: a, unit_price: 1}\n  - {ServiceName: b, unit_price: 2.5}\n")
    assert [(e.sku_id, e.service_name, e.unit_price) for e in load_price_table(good).entries] == [
        ("a", None, 1.0), (None, "b", 2.5)]
    cases = {
        "- {SkuId: a, unit_price: 1}\n- {SkuId: a, unit_price: 2}\n": ("line 2", "has a price already"),
        "- {SkuId: a, ServiceName: b, unit_price: 1}\n": ("line 1", "exactly one of SkuId and ServiceName"),
        "- {SkuId: a}\n- {SkuId: b, unit_price: -1}\n": ("line 1", "unit_price"),
        "prices: 3\n": ("line 1", "expected a list"),
    }
    for text, (line, message) in cases.items():
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(InputError) as err:
            load_price_table(bad)
        assert f"bad.yaml:{line.split()[1]}" in str(err.value) and message in str(err.value), text


def commitment_rows() -> list[dict]:
    """Ten hours of eligible on-demand compute (4, 0, 9, 1, 7, 2, 8, 3, 6, 5) and storage of 50 (not eligible)."""
    rows = [{"hour": h, "ServiceName": "EC2", "ServiceCategory": "Compute", "EffectiveCost": s, "BilledCost": s,
             "ListCost": s} for h, s in enumerate([4, 0, 9, 1, 7, 2, 8, 3, 6, 5])]
    return [*rows, {"hour": 3, "ServiceName": "S3", "ServiceCategory": "Storage", "EffectiveCost": 50,
                    "BilledCost": 50}]


@pytest.mark.parametrize(("level", "repriced"), [
    # the best level at 30 %: the third smallest hour, 2 -> 10 x 2 x 0.7 + (2+...+7 above 2 = 28) = 42, + 50
    (None, 92.0),
    # level 5: 10 x 5 x 0.7 = 35 + above 5: 4 + 2 + 3 + 1 = 10 -> 45, + 50
    (5.0, 95.0),
    # level 0: plain on-demand, 45 + 50
    (0.0, 95.0),
])
def test_committed_repricing(store, write, level, repriced):
    load(store, write, commitment_rows())
    [item] = what_if(store, Committed(level=level, discount=0.3), *WINDOW).items
    assert (item["paid"], item["repriced"], item["hours"]) == (95.0, pytest.approx(repriced), 10)
    assert item["level_per_hour"] == (2.0 if level is None else level)


def test_committed_refuses_a_bad_discount(store):
    with pytest.raises(InputError):
        what_if(store, Committed(discount=1.5), *WINDOW)


def test_cli_whatif(workspace, cli, write, tmp_path):
    with Store.open(load_settings(workspace).store_url) as store:
        load(store, write, MIXED)
    result = cli("cost", "whatif", "on-demand", "--from", "2026-03-02", "--to", "2026-03-02", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "on-demand"
    assert [(i["paid"], i["repriced"], i["difference"]) for i in out["items"]] == [(29.0, 32.0, 3.0)]
    committed = cli("cost", "whatif", "committed", "--level", "0")  # default window: 28 days before the data's end
    assert committed.exit_code == 0, committed.output
    assert "29.00" in committed.stdout
    prices = tmp_path / "prices.csv"
    prices.write_text("ServiceName,unit_price\nEC2,-1\n")
    bad = cli("cost", "whatif", str(prices))
    assert bad.exit_code == 1 and "prices.csv:2" in bad.output
    missing = cli("cost", "whatif", str(tmp_path / "none.csv"))
    assert missing.exit_code == 1 and "cannot read" in missing.output


@pytest.mark.spark
@pytest.mark.slow
def test_what_if_is_the_same_on_pyspark(store, write, tmp_path, spark_session):
    import ibis

    load(store, write, [*MIXED, *commitment_rows()])
    spark_session.createDataFrame(store.table("cost").to_pyarrow()).createOrReplaceTempView("cost")
    on_spark = Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    prices = tmp_path / "prices.csv"
    prices.write_text("SkuId,ServiceName,unit_price,currency\n,EC2,1.0,\n,S3,0.3,USD\n")
    for model in (OnDemand(), Committed(discount=0.3), load_price_table(prices)):
        expected = what_if(store, model, *WINDOW).to_dict()
        assert json.dumps(what_if(on_spark, model, *WINDOW).to_dict(), default=str) == json.dumps(expected, default=str)
