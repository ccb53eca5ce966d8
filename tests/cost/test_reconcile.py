"""Reconciliation: invoices, a missing day, duplicates, a provider that stops early, currencies (hand-checked).

The fixture tests/fixtures/cost/reconcile_lines.csv, January 2026:
- AWS (USD, invoice INV-1): daily EC2 10.00 on 1, 2, 4, 5 January; nothing on 3 January; the 4 January row
  twice with different export ids (x_LineItemId c, d); the 5 January row twice, identical in every column;
  a monthly Support charge of 3.00. Line items 6 x 10 + 3 = 63; the invoice says 43 (no duplicates).
- Azure (EUR): 7.00 on 1, 2, 3 January; its data stops two days before the others'.
- Oracle (GBP): 1.00 a day on 1..5 January; the rates table has no GBP.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.cost.reconcile import Invoice, Rate, load_invoices, load_rates, reconcile
from engmetrics.errors import InputError
from engmetrics.ingest import ingest_files
from engmetrics.settings import load_settings
from engmetrics.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cost"
LINES, INVOICES, RATES = (FIXTURES / f"reconcile_{n}" for n in ("lines.csv", "invoices.csv", "rates.yaml"))
JAN = date(2026, 1, 1)


def by_provider(result) -> dict[str, dict]:
    return {i["provider"]: i for i in result.items}


@pytest.fixture(scope="module")
def lines():
    """The fixture ingested once for the module's read-only tests (opening a store takes a second)."""
    with Store.open("duckdb://") as store:
        result = ingest_files(store, "cost", [LINES])
        # ingest keeps the two identical 5 January rows apart (the second copy gets its own key): 15 in, 15 stored
        assert (result.read, result.inserted, result.quarantined) == (15, 15, 0)
        assert store.count("cost") == 15
        yield store


def test_reingesting_the_file_adds_nothing(store):
    ingest_files(store, "cost", [LINES])
    again = ingest_files(store, "cost", [LINES])
    assert (again.inserted, again.unchanged) == (0, 15)
    assert store.count("cost") == 15


def test_missing_day_duplicates_and_invoice_difference(lines):
    result = reconcile(lines, invoices=load_invoices(INVOICES))
    aws = by_provider(result)["AWS"]
    assert (aws["billing_period_start"], aws["currency"], aws["rows"]) == (JAN, "USD", 7)
    # 10 + 10 + 10 + 10 + 10 + 10 + 3 = 63 against 43: the difference is the two surplus copies (2 x 10)
    assert (aws["line_item_total"], aws["invoice_total"], aws["difference"], aws["matches"]) == (63.0, 43.0, 20.0,
                                                                                                False)
    assert (aws["duplicates"], aws["duplicate_cost"]) == (2, 20.0)
    assert aws["missing_days"] == ["2026-01-03"]  # the monthly Support row does not cover the gap
    assert aws["invoices"] == [{"invoice_id": "INV-1", "line_item_total": 63.0, "invoice_total": 43.0,
                                "difference": 20.0}]
    assert (aws["last_charge_day"], aws["stops_early"]) == (date(2026, 1, 5), False)
    copies = sorted((d["ChargePeriodStart"].day, d["copies"]) for d in result.duplicates)
    assert copies == [(4, 2), (5, 2)]
    assert all(len(d["row_hashes"]) == 2 for d in result.duplicates)


def test_a_provider_whose_data_stops_early(lines):
    result = reconcile(lines)
    azure = by_provider(result)["Azure"]
    assert (azure["currency"], azure["line_item_total"], azure["missing_days"]) == ("EUR", 21.0, [])
    assert (azure["last_charge_day"], azure["stops_early"]) == (date(2026, 1, 3), True)  # 3 vs 5 January
    assert {p["provider"]: (p["days_behind"], p["stops_early"]) for p in result.providers} == {
        "AWS": (0, False), "Azure": (2, True), "Oracle": (0, False)}


def test_without_rates_amounts_stay_in_their_currency(lines):
    result = reconcile(lines, invoices=load_invoices(INVOICES))
    keys = sorted((i["provider"], i["currency"], i["rows"]) for i in result.items)
    # the Azure invoice is in USD, its line items in EUR: never compared without a rate, two items
    assert keys == [("AWS", "USD", 7), ("Azure", "EUR", 3), ("Azure", "USD", 0), ("Oracle", "GBP", 5)]


def test_rates_convert_by_day_and_a_currency_without_rate_is_reported(lines):
    result = reconcile(lines, rates=load_rates(RATES), target="usd", invoices=load_invoices(INVOICES))
    items = by_provider(result)
    azure, oracle = items["Azure"], items["Oracle"]
    # 7 x 1.10 (1 Jan) + 7 x 1.10 (2 Jan) + 7 x 1.20 (the dated rate from 3 Jan) = 23.80, as invoiced
    assert azure["currency"] == "USD"
    assert azure["line_item_total"] == pytest.approx(23.8)
    assert (azure["difference"], azure["matches"]) == (pytest.approx(0.0), True)
    # GBP has no rate: not summed, listed with its own amount, no difference
    assert (oracle["line_item_total"], oracle["missing_rates"], oracle["difference"]) == (0.0, ["GBP"], None)
    assert oracle["unconverted"] == [{"currency": "GBP", "amount": 5.0, "rows": 5}]
    assert items["AWS"]["line_item_total"] == 63.0  # USD to USD: unchanged
    assert result.currency == "USD"


def test_an_inverse_rate_is_used_when_the_direct_one_is_missing(lines):
    rates = [Rate.model_validate({"from": "USD", "to": "GBP", "rate": 0.5})]  # 1 GBP = 2 USD
    oracle = by_provider(reconcile(lines, rates=rates, target="USD"))["Oracle"]
    assert (oracle["line_item_total"], oracle["missing_rates"]) == (10.0, [])  # 5 GBP x 2
    euros = by_provider(reconcile(lines, rates=rates, target="USD"))["Azure"]
    assert (euros["missing_rates"], euros["unconverted"][0]["amount"]) == (["EUR"], 21.0)


def test_an_invoice_without_a_rate_makes_no_difference(lines):
    bills = [Invoice(provider="AWS", billing_period_start=JAN, invoice_id="INV-1", total=40, currency="CHF")]
    aws = by_provider(reconcile(lines, rates=load_rates(RATES), target="USD", invoices=bills))["AWS"]
    assert (aws["invoice_total"], aws["difference"], aws["missing_rates"]) == (0.0, None, ["CHF"])


def test_rates_and_invoices_files_name_the_bad_line(tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("from,to,rate,date\nEUR,USD,1.1,\nEUR,USD,-2,2026-01-01\n")
    with pytest.raises(InputError, match=r"rates.csv:3: rate"):
        load_rates(rates)
    invoices = tmp_path / "invoices.csv"
    invoices.write_text("provider,billing_period_start,invoice_id,total,currency\nAWS,January,,1,USD\n")
    with pytest.raises(InputError, match=r"invoices.csv:2: billing_period_start"):
        load_invoices(invoices)
    assert load_rates(RATES)[1].valid_from == date(2026, 1, 3)


def test_an_invoice_provider_matches_whatever_its_case(lines):
    bills = [Invoice(provider="aws", billing_period_start=JAN, invoice_id="INV-1", total=43, currency="usd")]
    items = reconcile(lines, invoices=bills).items
    assert [(i["provider"], i["invoice_total"]) for i in items if i["invoice_total"] is not None] == [("AWS", 43.0)]


def test_conflicting_rates_are_an_input_error(tmp_path, store):
    rates = tmp_path / "rates.csv"
    rates.write_text("from,to,rate,date\nEUR,USD,1.1,2026-01-03\nEUR,USD,1.1,2026-01-03\nEUR,USD,1.2,2026-01-03\n")
    with pytest.raises(InputError, match=r"rates.csv:4: two different rates for EUR -> USD on 2026-01-03: 1.1 and "
                                         r"1.2 \(line 2\)"):
        load_rates(rates)
    rates.write_text("from,to,rate\nEUR,USD,1.1\nusd,eur,0.8\nEUR,USD,1.1\n")  # a repeat; the inverse is another pair
    assert len(load_rates(rates)) == 3
    both = [Rate.model_validate({"from": "EUR", "to": "USD", "rate": r}) for r in (1.1, 1.2)]
    with pytest.raises(InputError, match=r"two different rates for EUR -> USD without a date: 1\.1 and 1\.2"):
        reconcile(store, target="USD", rates=both)


def insert(store: Store, rows: list[tuple[str, str, int, float, str]]) -> None:
    """Cost rows written directly (identical rows under distinct keys): (provider, month "2026-01", UTC day,
    BilledCost, BillingCurrency), one day long each, keyed by position."""
    store.sql.execute("DELETE FROM cost")
    for i, (provider, month, day, cost, unit) in enumerate(rows):
        start = f"{month}-01 00:00:00+00"
        store.sql.execute(
            'INSERT INTO cost (x_row_hash, "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", '
            '"ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ProviderName", "BillingCurrency") '
            "VALUES (?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ + INTERVAL 1 MONTH, ?::TIMESTAMPTZ, "
            "?::TIMESTAMPTZ + INTERVAL 1 DAY, 'Usage', ?, ?, ?, ?)",
            [f"{i:04d}", start, start, f"{month}-{day:02d} 00:00:00+00", f"{month}-{day:02d} 00:00:00+00", cost,
             cost, provider, unit])


def test_the_window_limits_every_check_to_its_billing_periods(store):
    """January: a row twice; February: 1.0 and 2.0 on the 1st, each twice. Only February's are reconciled."""
    insert(store, [("p", "2026-01", 5, 4.0, "USD")] * 2 + [("p", "2026-02", 1, 1.0, "USD")] * 2
           + [("p", "2026-02", 1, 2.0, "USD")] * 2)
    bills = [Invoice(provider="p", billing_period_start=date(2026, m, 1), total=1, currency="USD") for m in (1, 2)]
    feb = reconcile(store, invoices=bills, start=datetime(2026, 2, 1, tzinfo=UTC), end=datetime(2026, 3, 1, tzinfo=UTC))
    [item] = feb.items  # the January invoice is outside the window: no January item
    # line items 1 + 1 + 2 + 2 = 6; surplus copies 1 (of 1.0) + 1 (of 2.0), their cost 3
    assert (item["billing_period_start"], item["line_item_total"], item["invoice_total"]) == (
        date(2026, 2, 1), 6.0, 1.0)
    assert (item["duplicates"], item["duplicate_cost"], feb.duplicate_groups) == (2, 3.0, 2)
    assert feb.to_dict()["from"] == datetime(2026, 2, 1, tzinfo=UTC)
    whole = reconcile(store)  # default: every billing period present
    assert [(i["billing_period_start"].month, i["duplicates"]) for i in whole.items] == [(1, 1), (2, 2)]


def test_duplicates_are_counted_in_the_engine_and_shown_up_to_100(store):
    """105 days, each with a row twice: 105 groups counted, the first 100 (by day) shown."""
    insert(store, [("p", f"2026-{1 + d // 28:02d}", 1 + d % 28, 1.0, "USD") for d in range(105) for _ in range(2)])
    result = reconcile(store)
    surplus = sum(i["duplicates"] for i in result.items)
    assert (result.duplicate_groups, len(result.duplicates), surplus) == (105, 100, 105)
    assert result.duplicates[0]["ChargePeriodStart"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert result.duplicates[-1]["ChargePeriodStart"] == datetime(2026, 4, 16, tzinfo=UTC)  # day 99: 28 x 3 + 15


def test_currency_codes_are_trimmed_and_upper_cased(store):
    insert(store, [("p", "2026-01", 1, 1.0, "USD"), ("p", "2026-01", 2, 2.0, " usd "), ("p", "2026-01", 3, 4.0, "eur")])
    items = [(i["currency"], i["line_item_total"]) for i in reconcile(store).items]
    assert items == [("EUR", 4.0), ("USD", 3.0)]  # 1 + 2: one currency


@pytest.fixture(scope="module")
def reused_store():
    """One store for every hypothesis example."""
    with Store.open("duckdb://") as opened:
        yield opened


@settings(max_examples=8, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["p", "q"]), st.integers(1, 6), st.sampled_from([1.0, 2.5])),
                     min_size=1, max_size=25))
def test_totals_and_duplicates_account_for_every_row(reused_store, rows):
    store = reused_store
    store.sql.execute("DELETE FROM cost")
    for i, (provider, day, cost) in enumerate(rows):  # written directly: identical rows under distinct keys
        store.sql.execute(
            'INSERT INTO cost (x_row_hash, "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", '
            '"ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ProviderName", "BillingCurrency") '
            "VALUES (?, TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-02-01 00:00:00+00', ?::TIMESTAMPTZ, "
            "?::TIMESTAMPTZ, 'Usage', ?, ?, ?, 'USD')",
            [str(i), f"2026-01-{day:02d} 00:00:00+00", f"2026-01-{day + 1:02d} 00:00:00+00", cost, cost, provider])
    result = reconcile(store)
    assert sum(i["line_item_total"] for i in result.items) == pytest.approx(sum(c for _, _, c in rows))
    assert sum(i["duplicates"] for i in result.items) == len(rows) - len(set(rows))
    for i in result.items:
        days = {d for p, d, _ in rows if p == i["provider"]}
        assert i["missing_days"] == [f"2026-01-{d:02d}" for d in range(min(days), max(days)) if d not in days]


def test_cli_with_the_workspace_rates_file(workspace, cli):
    with Store.open(load_settings(workspace).store_url) as store:
        ingest_files(store, "cost", [LINES])
    shutil.copy(RATES, workspace / "budgets" / "rates.yaml")
    result = cli("cost", "reconcile", "--invoices", INVOICES, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["currency"] == "USD"  # rates found in budgets/rates.yaml: USD unless --currency says otherwise
    aws = next(i for i in out["items"] if i["provider"] == "AWS")
    assert {k: aws[k] for k in ("provider", "billing_period_start", "line_item_total", "invoice_total", "difference",
                                "currency", "missing_days", "duplicates", "last_charge_day", "stops_early")} == {
        "provider": "AWS", "billing_period_start": "2026-01-01", "line_item_total": 63.0, "invoice_total": 43.0,
        "difference": 20.0, "currency": "USD", "missing_days": ["2026-01-03"], "duplicates": 2,
        "last_charge_day": "2026-01-05", "stops_early": False}
    table = cli("cost", "reconcile", "--currency", "EUR")
    assert table.exit_code == 0, table.output
    assert "Data stops early: Azure" in table.stdout and "no rate into EUR: Oracle 5.00 GBP" in table.stdout
    bad = cli("cost", "reconcile", "--invoices", workspace / "missing.csv")
    assert bad.exit_code == 1 and "cannot read" in bad.output
    later = json.loads(cli("cost", "reconcile", "--from", "2026-02-01", "--json").stdout)
    assert (later["from"], later["to"], later["items"]) == ("2026-02-01T00:00:00+00:00", None, [])
    january = json.loads(cli("cost", "reconcile", "--from", "2026-01-01", "--to", "2026-01-31", "--json").stdout)
    assert january["to"] == "2026-02-01T00:00:00+00:00" and len(january["items"]) == 3  # a date includes its day
    assert cli("cost", "reconcile", "--from", "2026-02-01", "--to", "2026-01-01").exit_code == 1


@pytest.mark.spark
@pytest.mark.slow
def test_reconcile_is_the_same_on_pyspark(lines, spark_session):
    import ibis

    spark_session.createDataFrame(lines.table("cost").to_pyarrow()).createOrReplaceTempView("cost")
    on_spark = Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    options = {"rates": load_rates(RATES), "target": "USD", "invoices": load_invoices(INVOICES)}
    expected = reconcile(lines, **options).to_dict()
    assert json.dumps(reconcile(on_spark, **options).to_dict(), default=str) == json.dumps(expected, default=str)
    assert by_provider(reconcile(lines, **options))["AWS"]["duplicates"] == 2
