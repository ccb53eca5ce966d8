"""Cost per unit of business volume: hand-checked periods, zero volume, trend, and the real allocation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.cost.allocation_rules import AllocationRules
from engmetrics.cost.unit import cost_per_unit, default_unit_window, unit_costs
from engmetrics.ingest import ingest_files
from engmetrics.settings import load_settings
from engmetrics.store import Store

MAR = datetime(2026, 3, 1, tzinfo=UTC)
COST_HEAD = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,"
             "EffectiveCost,BillingCurrency,ProviderName,Tags")


def allocation(rows: list[tuple[date, str, float]], currency: str = "USD") -> ibis.Table:
    """An `allocated_daily` table built by hand: (day, group, cost), all direct."""
    return ibis.memtable({"day": [r[0] for r in rows], "group": [r[1] for r in rows],
                          "direct": [r[2] for r in rows], "shared": [0.0] * len(rows),
                          "cost": [r[2] for r in rows], "currency": [currency] * len(rows)},
                         schema={"day": "date", "group": "string", "direct": "float64", "shared": "float64",
                                 "cost": "float64", "currency": "string"})


def volume(rows: list[tuple[str, str, datetime, float]]) -> ibis.Table:
    return ibis.memtable({"service": [r[0] for r in rows], "metric": [r[1] for r in rows],
                          "ts": [r[2] for r in rows], "value": [r[3] for r in rows]},
                         schema={"service": "string", "metric": "string", "ts": "timestamp('UTC')",
                                 "value": "float64"})


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def items(table: ibis.Table) -> list[dict]:
    rows = table.to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: (r["service"], r["metric"], r["period_start"]))


def test_cost_per_unit_by_week_with_a_zero_volume_week():
    # weeks of March 2026 start Monday 2, 9, 16
    alloc = allocation([(date(2026, 3, 2), "checkout", 30.0), (date(2026, 3, 3), "checkout", 10.0),
                        (date(2026, 3, 9), "checkout", 20.0), (date(2026, 3, 16), "checkout", 60.0),
                        (date(2026, 3, 2), "search", 99.0)])  # search has no volume: not shown
    vol = volume([("checkout", "orders", at(2), 10.0), ("checkout", "orders", at(4), 10.0),
                  ("checkout", "orders", at(10), 0.0), ("checkout", "orders", at(17), 30.0)])
    rows = items(cost_per_unit(alloc, vol, at(2, 0), at(23, 0), "week"))
    got = [(r["period_start"].isoformat(), r["cost"], r["volume"], r["cost_per_unit"], r["change"]) for r in rows]
    assert got == [
        ("2026-03-02", 40.0, 20.0, 2.0, None),  # (30 + 10) / (10 + 10); the first week has no change
        ("2026-03-09", 20.0, 0.0, None, None),  # volume 0: null, not infinity; so no change either
        ("2026-03-16", 60.0, 30.0, 2.0, None),  # 60 / 30; the week before has no cost per unit
    ]


def test_cost_per_unit_by_month_and_its_trend():
    alloc = allocation([(date(2026, 1, 10), "api", 100.0), (date(2026, 2, 3), "api", 150.0),
                        (date(2026, 2, 20), "API", 30.0)])  # allocation names: case is no difference
    vol = volume([("Api", "requests", datetime(2026, 1, 5, tzinfo=UTC), 50.0),
                  ("Api", "requests", datetime(2026, 2, 5, tzinfo=UTC), 120.0)])
    rows = items(cost_per_unit(alloc, vol, datetime(2026, 1, 1, tzinfo=UTC), MAR, "month"))
    assert [(r["period_start"].isoformat(), r["cost"], r["volume"], r["cost_per_unit"]) for r in rows] == [
        ("2026-01-01", 100.0, 50.0, 2.0), ("2026-02-01", 180.0, 120.0, 1.5)]  # 100/50; (150 + 30)/120
    assert rows[1]["change"] == pytest.approx(-0.25)  # (1.5 - 2) / 2
    assert rows[0]["currency"] == "USD"


def test_volume_without_cost_costs_zero():
    alloc = allocation([(date(2026, 3, 2), "a", 10.0), (date(2026, 3, 4), "a", 10.0)])
    vol = volume([("a", "tx", at(2), 10.0), ("a", "tx", at(3), 5.0), ("a", "tx", at(4), 20.0)])
    rows = items(cost_per_unit(alloc, vol, at(2, 0), at(5, 0), "day"))
    assert [(r["cost"], r["cost_per_unit"], r["change"]) for r in rows] == [
        (10.0, 1.0, None),   # 10 / 10
        (0.0, 0.0, -1.0),    # day 3: volume but no cost: 0 per unit, (0 - 1) / 1
        (10.0, 0.5, None)]   # day 4: 10 / 20; the day before costs 0 per unit: no relative change
    assert rows[1]["currency"] == "USD"  # no cost row that day: the service's currency


def test_a_gap_breaks_the_trend():
    alloc = allocation([(date(2026, 3, 2), "a", 10.0), (date(2026, 3, 4), "a", 10.0)])
    vol = volume([("a", "tx", at(2), 10.0), ("a", "tx", at(4), 20.0)])  # nothing at all on 3 March
    rows = items(cost_per_unit(alloc, vol, at(2, 0), at(5, 0), "day"))
    assert [(r["period_start"].day, r["change"]) for r in rows] == [(2, None), (4, None)]


def test_the_day_before_counts_as_the_previous_period():
    alloc = allocation([(date(2026, 3, 2), "a", 10.0), (date(2026, 3, 3), "a", 30.0)])
    vol = volume([("a", "tx", at(2), 10.0), ("a", "tx", at(3), 10.0)])
    rows = items(cost_per_unit(alloc, vol, at(2, 0), at(4, 0), "day"))
    assert [r["change"] for r in rows] == [None, 2.0]  # 1 -> 3: +200 %


def test_metric_filter_and_window():
    alloc = allocation([(date(2026, 3, 2), "a", 12.0)])
    vol = volume([("a", "orders", at(2), 4.0), ("a", "visits", at(2), 1200.0), ("a", "orders", at(9), 99.0)])
    both = items(cost_per_unit(alloc, vol, at(2, 0), at(3, 0), "day"))
    assert [(r["metric"], r["cost_per_unit"]) for r in both] == [("orders", 3.0), ("visits", 0.01)]
    [orders] = items(cost_per_unit(alloc, vol, at(2, 0), at(3, 0), "day", metric="orders"))
    assert orders["volume"] == 4.0  # the 9 March row is outside the window


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.sampled_from(["a", "b"]), st.floats(0, 100)), min_size=1,
                max_size=30),
       st.sampled_from(["day", "week", "month"]))
def test_no_cost_is_lost_by_the_period_grouping(cost_rows, period):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    alloc = allocation([(start.date() + timedelta(days=d - 1), g, c) for d, g, c in cost_rows])
    vol = volume([("a", "tx", start + timedelta(days=d, hours=1), 1.0) for d in range(0, 60, 7)])
    rows = cost_per_unit(alloc, vol, start, start + timedelta(days=60), period).to_pyarrow().to_pylist()
    assert sum(r["cost"] for r in rows) == pytest.approx(sum(c for _, g, c in cost_rows if g == "a"))
    assert all(r["cost_per_unit"] is None or r["volume"] > 0 for r in rows)


def test_default_window_is_whole_periods():
    assert default_unit_window(datetime(2026, 4, 1, tzinfo=UTC), "day")[0] == datetime(2026, 3, 4, tzinfo=UTC)


def write_data(store: Store, write) -> None:
    """Checkout (tagged) costs 10 a day on 2..8 March, search 5 a day; orders: 4 a day on 2..8 March."""
    lines = [COST_HEAD]
    for d in range(2, 9):
        for service, cost in (("checkout", 10), ("search", 5)):
            lines.append(f"2026-03-01,2026-04-01,2026-03-{d:02d},2026-03-{d + 1:02d},Usage,{cost},{cost},USD,AWS,"
                         f'"{{""service"": ""{service}""}}"')
    ingest_files(store, "cost", [write("cost.csv", "\n".join(lines) + "\n")])
    vol = "service,metric,ts,value\n" + "".join(f"checkout,orders,2026-03-{d:02d}T10:00:00Z,4\n" for d in range(2, 9))
    ingest_files(store, "business_volume", [write("vol.csv", vol)])


def test_unit_costs_over_the_real_allocation(store, write):
    write_data(store, write)
    [week] = unit_costs(store, AllocationRules(), at(2, 0), at(9, 0), "week", "orders")
    # 7 days x 10 = 70 allocated to checkout by its tag; 7 x 4 = 28 orders: 2.5 per order
    assert (week["service"], week["cost"], week["volume"], week["cost_per_unit"]) == ("checkout", 70.0, 28.0, 2.5)


def test_cli_json_and_table(workspace, cli, write):
    with Store.open(load_settings(workspace).store_url) as store:
        write_data(store, write)
    result = cli("cost", "unit", "--metric", "orders", "--period", "day", "--from", "2026-03-02", "--to",
                 "2026-03-03", "--json")  # a date alone as --to includes that day: 2 and 3 March
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [{k: i[k] for k in ("service", "period_start", "cost", "volume", "cost_per_unit", "change", "currency")}
            for i in out["items"]] == [
        {"service": "checkout", "period_start": "2026-03-02", "cost": 10.0, "volume": 4.0, "cost_per_unit": 2.5,
         "change": None, "currency": "USD"},
        {"service": "checkout", "period_start": "2026-03-03", "cost": 10.0, "volume": 4.0, "cost_per_unit": 2.5,
         "change": 0.0, "currency": "USD"}]  # 10 / 4 both days: no change
    table = cli("cost", "unit", "--period", "week")  # default window: 12 weeks before the data's end
    assert table.exit_code == 0, table.output
    assert "checkout" in table.stdout and "2.5" in table.stdout
    bad = cli("cost", "unit", "--period", "year")
    assert bad.exit_code == 1 and "--period" in bad.output


@pytest.mark.spark
@pytest.mark.slow
def test_cost_per_unit_is_the_same_on_pyspark(spark_session):
    spark = ibis.pyspark.connect(spark_session)
    alloc = allocation([(date(2026, 3, d), "a", float(d)) for d in range(2, 20)])
    vol = volume([("A", "tx", at(d), float(d % 3)) for d in range(2, 20)])
    for period in ("day", "week", "month"):
        expr = cost_per_unit(alloc, vol, at(2, 0), at(20, 0), period).order_by(["period_start"])
        assert spark.to_pyarrow(expr).to_pylist() == expr.to_pyarrow().to_pylist()
