"""Allocation invariants over random bills and rules (hypothesis), and the same numbers on PySpark."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_allocation import END, START, bill, org

from engmetrics.cost.allocation import allocated_daily, allocation_report, tag_coverage
from engmetrics.cost.allocation_rules import AllocationRules
from engmetrics.store import Store

TAGS = [None, "not json", '{"team": ""}', {"Team": "Payments"}, {"owner-team": "search"}, {"team": "SHARED"},
        {"service": "checkout", "env": "prod"}, {"user:Team": "ops", "Environment": "Dev"},
        {"application": "search-api", "costcenter": "cc1"}, {"TEAM": "payments", "stage": "prod"}]
TEAMS = ["Payments", "search", "ops", "platform"]
SERVICES = ["AWS Support", "EC2", "shared-k8s"]

row = st.fixed_dictionaries({
    "cost": st.one_of(st.floats(-50, 500, allow_nan=False), st.integers(0, 1000).map(float)),
    "day": st.sampled_from(["2026-03-01", "2026-03-02", "2026-03-31", "2026-04-01"]),
    "tags": st.sampled_from(TAGS), "currency": st.sampled_from(["USD", "EUR"]),
    "account": st.sampled_from([None, "1", "2"]), "service": st.sampled_from(SERVICES),
    "resource": st.sampled_from([None, "r1", "r2", "r3"])})


@st.composite
def shared_rule(draw, i: int) -> dict:
    split = draw(st.sampled_from(["even", "proportional", "usage", "fixed"]))
    match = draw(st.sampled_from([{"ServiceName": draw(st.sampled_from(SERVICES))}, {"untagged": True},
                                  {"tags": {"team": "shared"}}, {"SubAccountId": "2"}]))
    rule = {"name": f"r{i}", "match": match, "split": split, "to": draw(st.sampled_from(["team", "service"]))}
    names = draw(st.lists(st.sampled_from([*TEAMS, "checkout"]), min_size=1, max_size=3, unique=True))
    if split == "fixed":
        cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=len(names) - 1, max_size=len(names) - 1)))
        rule["percentages"] = {n: float(b - a) for n, a, b in zip(names, [0, *cuts], [*cuts, 100], strict=True)}
    elif draw(st.booleans()):
        rule["among"] = names
    if split == "usage":
        rule["usage"] = draw(st.sampled_from([{"dataset": "business_volume", "metric": "tx"},
                                              {"dataset": "utilization", "column": "mem_util"}]))
    return rule


@st.composite
def allocation_rules(draw) -> AllocationRules:
    n = draw(st.integers(0, 3))
    owners = draw(st.lists(st.sampled_from([
        {"match": {"SubAccountId": "1"}, "team": "platform"}, {"match": {"ResourceId": "r?"}, "environment": "prod"},
        {"match": {"ServiceName": "ec*"}, "service": "checkout"}]), max_size=2))
    return AllocationRules.model_validate({"owners": owners, "shared": [draw(shared_rule(i)) for i in range(n)]})


def totals(rows, key: str = "cost") -> dict:
    out: dict = defaultdict(float)
    for r in rows:
        out[r["currency"]] += r[key]
    return dict(out)


@pytest.fixture(scope="module")
def usage_store():
    """One store for every example (opening one takes a while): the org and usage; cost rows per example."""
    with Store.open("duckdb://") as store:
        org(store)
        store.sql.execute("""INSERT INTO business_volume VALUES ('checkout', 'tx', '2026-03-01 00:00:00+00', 3),
            ('search-api', 'tx', '2026-03-02 00:00:00+00', 1)""")
        store.sql.execute("INSERT INTO utilization (resource_id, ts, mem_util) VALUES "
                          "('r1', '2026-03-01 00:00:00+00', 0.5), ('r2', '2026-03-02 00:00:00+00', 0.25)")
        yield store


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, max_size=14), allocation_rules(), st.sampled_from(["team", "service", "environment", "tag:team"]),
       st.sampled_from(["effective", "billed"]))
def test_allocation_always_sums_to_the_period_total(usage_store, rows, rules, by, basis):
    usage_store.sql.execute("DELETE FROM cost")
    bill(usage_store, *[r | {"billed": r["cost"] * 2} for r in rows])
    out = allocated_daily(usage_store, rules, by, START, END, basis).to_pyarrow().to_pylist()
    coverage = tag_coverage(usage_store, rules, by, START, END, basis).to_pyarrow().to_pylist()
    factor = 2 if basis == "billed" else 1
    period = [r | {"currency": r["currency"], "cost": r["cost"] * factor} for r in rows if r["day"] < "2026-04-01"]
    expected, scale = totals(period), sum(abs(r["cost"]) for r in period) + 1
    for got in (totals(out), totals(coverage)):
        assert set(got) == set(expected)
        assert all(math.isclose(got[c], expected[c], abs_tol=1e-9 * scale) for c in expected)
    for r in out:
        assert math.isclose(r["cost"], r["direct"] + r["shared"], abs_tol=1e-9 * scale)
    for c in coverage:  # every source adds up to the account's cost
        assert math.isclose(sum(c[k] for k in ("tagged", "rule", "fallback", "shared", "untagged")), c["cost"],
                            abs_tol=1e-9 * scale)
    assert len({(r["day"], r["group"], r["currency"]) for r in out}) == len(out)


def scenario(store) -> AllocationRules:
    """A bill exercising every split: used by the PySpark comparison."""
    org(store)
    bill(store, {"cost": 10, "tags": {"Team": "Payments"}, "resource": "r1"},
         {"cost": 20, "tags": {"owner-team": "SEARCH"}, "resource": "r2"},
         {"cost": 3, "tags": {"service": "Checkout", "env": "Prod"}}, {"cost": 7},
         {"cost": 5, "account": "1", "tags": {"team": "search"}, "day": "2026-03-03"},
         {"cost": 30, "service": "AWS Support"}, {"cost": 12, "tags": '{"team": "shared"}'},
         {"cost": 8, "service": "shared-k8s"}, {"cost": 6, "service": "tx-shared"},
         {"cost": 9, "service": "AWS Support", "currency": "EUR"},
         {"cost": 4, "service": "AWS Support", "day": "2026-03-05"})
    store.sql.execute("INSERT INTO business_volume VALUES ('checkout', 'tx', '2026-03-02 03:00:00+00', 3), "
                      "('search-api', 'tx', '2026-03-02 04:00:00+00', 1)")
    store.sql.execute("INSERT INTO utilization (resource_id, ts, cpu_util) VALUES "
                      "('r1', '2026-03-02 00:00:00+00', 0.5), ('r2', '2026-03-02 00:00:00+00', 0.25)")
    return AllocationRules.model_validate({
        "owners": [{"match": {"SubAccountId": "1"}, "team": "platform"},
                   {"match": {"ResourceId": {"regex": "^R[0-9]$"}}, "environment": "prod"}],
        "shared": [{"name": "support", "match": {"ServiceName": "AWS Support"}, "split": "proportional"},
                   {"name": "platform", "match": {"tags": {"team": "shared"}}, "split": "fixed",
                    "percentages": {"payments": 25, "search": 75}},
                   {"name": "k8s", "match": {"ServiceName": "shared-k8s"}, "split": "usage",
                    "usage": {"dataset": "utilization"}},
                   {"name": "tx", "match": {"ServiceName": "tx-*"}, "split": "usage",
                    "usage": {"dataset": "business_volume", "metric": "tx"}},
                   {"name": "rest", "match": {"untagged": True}, "split": "even", "among": ["search", "ops"]}]})


def _rounded(value):
    """`value` with every float rounded to 9 places (the engines add in different orders)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return [_rounded(v) for v in value] if isinstance(value, list) else value


def _rows(table) -> list[tuple]:
    return sorted((str(r["day"]), r["group"], r["currency"], round(r["direct"], 9), round(r["shared"], 9))
                  for r in table.to_pyarrow().to_pylist())


def test_the_scenario_by_team(store):
    report = allocation_report(store, scenario(store), "team", START, END)
    items = {(i["group"], i["currency"]): round(i["cost"], 9) for i in report["items"]}
    # USD direct on 2 March: Payments 10 + 3 (checkout), search 20; 3 March platform 5; untagged 7 -> `rest`
    # (even among search, ops: 3.5 each). support 30 on 2 March proportional 13:20 -> 11.818181818 / 18.181818182;
    # platform 12 fixed 25/75 -> 3 / 9; k8s 8 by cpu r1 (Payments) 0.5 : r2 (search) 0.25 -> 16/3 and 8/3;
    # tx 6 by checkout 3 : search-api 1 -> 4.5 / 1.5; support on 5 March (4) has no direct cost -> unallocated;
    # EUR support 9 has no EUR direct cost -> unallocated
    assert items == {
        ("Payments", "USD"): round(13 + 30 * 13 / 33 + 3 + 16 / 3 + 4.5, 9),
        ("search", "USD"): round(20 + 30 * 20 / 33 + 9 + 8 / 3 + 1.5 + 3.5, 9),
        ("ops", "USD"): 3.5, ("platform", "USD"): 5.0, ("(unallocated)", "USD"): 4.0, ("(unallocated)", "EUR"): 9.0}
    assert sum(items.values()) == pytest.approx(10 + 20 + 3 + 7 + 5 + 30 + 12 + 8 + 6 + 9 + 4)


@pytest.mark.spark
@pytest.mark.slow
def test_allocation_is_the_same_on_pyspark(store, spark_session):
    import ibis

    rules = scenario(store)
    for name in ("cost", "teams", "services", "business_volume", "utilization"):
        table = store.table(name)
        if name == "teams":  # Spark cannot take the work_start / work_end times from Arrow
            table = table.select("team")
        spark_session.createDataFrame(table.to_pyarrow()).createOrReplaceTempView(name)  # arrow keeps types
    spark = Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    for by in ("service", "tag:env"):  # team and coverage: the report below
        on_duckdb = _rows(allocated_daily(store, rules, by, START, END))
        on_spark = _rows(allocated_daily(spark, rules, by, START, END))
        assert on_spark == on_duckdb, by
    on_duckdb = _rounded(allocation_report(store, rules, "team", START, END))
    assert _rounded(allocation_report(spark, rules, "team", START, END)) == on_duckdb
