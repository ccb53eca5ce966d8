"""Portability: target recommendation, budget attribution and `status_series` (a calendar window and a composite
SLO) give the same results on DuckDB and on PySpark (DESIGN.md "portability").

Each test builds a small hand-written scenario in an in-memory DuckDB store (the data helpers of the modules
that test each calculation), copies every table the calculation reads into Spark temp views, runs it on both
engines and compares the JSON dumps, plus hand-checked numbers so that the comparison cannot pass vacuously.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from test_attribution import AT as ATTRIBUTION_AT
from test_attribution import CHECKOUT, SEARCH, SEARCH_RATIO, fill
from test_attribution import specs as attribution_specs
from test_recommend import FOUR_WEEKS, MON, _at, _insert
from test_status import _hours, _sli, minutes, slo_doc, specs_of

from engmetrics.slo.attribution import budget_attribution
from engmetrics.slo.recommend import recommend, recommend_sli_events
from engmetrics.slo.status import slo_status, status_series
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        yield s


def on_spark(spark_session, store: Store, *names: str) -> Store:
    """A PySpark store holding copies of the DuckDB store's tables `names`.

    The copy goes through Arrow, so an empty table keeps its column types (an empty pandas frame would not).
    """
    import ibis

    for name in names:
        spark_session.createDataFrame(store.table(name).to_pyarrow()).createOrReplaceTempView(name)
    return Store(ibis.pyspark.connect(spark_session), url="pyspark://")


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)


# --- recommend ------------------------------------------------------------------------------------------------

def test_recommendation_is_the_same_on_pyspark(store, spark_session):
    _insert(store, FOUR_WEEKS)
    _insert(store, [(_at(3), 0, 1000)], indicator="latency")  # other indicator: filtered out
    _insert(store, [(_at(3), 0, 1000)], service="search")  # other service: filtered out
    _insert(store, FOUR_WEEKS[:2] + FOUR_WEEKS[4:6], indicator="gappy")  # weeks 01-05 and 01-19 only
    spark = on_spark(spark_session, store, "sli_events")

    def runs(s: Store) -> list[dict]:
        return [recommend_sli_events(s, "checkout", "availability", period_days=7).to_dict(),
                # a partial first week and a gap (see test_recommend.test_gaps_and_partial_weeks)
                recommend_sli_events(s, "checkout", "gappy", start=_at(2), end=_at(21)).to_dict(),
                # `recommend` on a bare (ts, good, total) table
                recommend(s.table("sli_events").select("ts", "good", "total"), end=_at(28)).to_dict(),
                recommend_sli_events(s, "checkout", "none").to_dict()]  # no data

    on_duckdb = runs(store)
    theirs = runs(spark)
    weekly, window, bare, empty = on_duckdb
    # hand-checked (test_recommend): 3970/4000 over 4 ISO weeks; the worst 7-day period is 980/1000
    assert [(w["week"], w["good"], w["total"]) for w in weekly["weeks"]] == [
        ("2026-01-05", 990, 1000), ("2026-01-12", 990, 1000), ("2026-01-19", 995, 1000), ("2026-01-26", 995, 1000)]
    assert (weekly["overall"]["good"], weekly["overall"]["total"]) == (3970, 4000)
    assert weekly["overall"]["worst_period"] == {"start": "2026-01-06", "end": "2026-01-13",
                                                 "achieved": pytest.approx(0.98, abs=1e-12)}
    assert weekly["overall"]["low"] == pytest.approx(0.9893135957, abs=1e-6)
    assert (weekly["recommended_target"], weekly["aspirational_target"]) == (0.95, 0.99)
    assert [(w["week"], w["total"], w["full"]) for w in window["weeks"]] == [
        ("2026-01-05", 500, False), ("2026-01-12", 0, True), ("2026-01-19", 1000, True)]
    assert "gap: 1 week(s) without events: 2026-01-12" in window["warnings"]
    assert bare["overall"]["total"] == 8000 and bare["overall"]["start"] == MON.isoformat()
    assert empty["warnings"] == ["no events in the history: nothing to recommend"]
    for ours, spark_result in zip(on_duckdb, theirs, strict=True):
        assert dumps(spark_result) == dumps(ours)


# --- budget attribution ---------------------------------------------------------------------------------------

def test_budget_attribution_is_the_same_on_pyspark(store, spark_session, tmp_path):
    fill(store)  # the scenario of test_attribution: incidents, deployments, a maintenance window
    spark = on_spark(spark_session, store, "sli_events", "incidents", "deployments", "maintenance_windows")
    slo_sets = [attribution_specs(tmp_path / "a", CHECKOUT, SEARCH), attribution_specs(tmp_path / "b", SEARCH_RATIO)]

    def runs(s: Store) -> list[tuple[list[dict], list[dict]]]:
        out = []
        for slos in slo_sets:
            items = slo_status(s, slos, ATTRIBUTION_AT).items
            out.append((items, [a.to_dict() for a in budget_attribution(s, slos, items)]))
        return out

    on_duckdb = runs(store)
    theirs = runs(spark)
    (_, (checkout, search)), (_, (ratio,)) = on_duckdb
    # hand-checked (test_attribution's docstring): 47 bad events of 63 allowed; INC-1 25, INC-3 2, D-1 10, D-2 5
    assert (checkout["unit"], checkout["allowed"], checkout["consumed"]) == ("events", 63.0, 47.0)
    assert [(i["incident_id"], i["consumed"]) for i in checkout["incidents"]] == [("INC-1", 25.0), ("INC-3", 2.0)]
    assert [(d["deployment_id"], d["consumed"]) for d in checkout["deployments"]] == [("D-1", 10.0), ("D-2", 5.0)]
    assert (checkout["unattributed"], checkout["exclusions"][0]["bad"]) == (5.0, 8.0)
    assert (search["unit"], search["consumed"], search["unattributed"]) == ("slices", 3.0, 1.0)
    assert ratio["consumed"] == pytest.approx(0.32)
    for (items, attributions), (spark_items, spark_attributions) in zip(on_duckdb, theirs, strict=True):
        assert dumps(spark_items) == dumps(items)
        assert dumps(spark_attributions) == dumps(attributions)


# --- status_series: a calendar window and a composite SLO -----------------------------------------------------

def _journey() -> str:
    """The checkout journey of test_status: cart (weight 2, target 0.999) and pay (target 0.995) over 1 h."""
    indent = chr(10) + "  ", chr(10) + "      "
    return f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: checkout-journey}}
spec:
  service: checkout
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - displayName: cart
      target: 0.999
      compositeWeight: 2
      indicator:
        metadata: {{name: cart-sli}}
        spec:{_sli("cart", "availability").replace(*indent)}
    - displayName: pay
      target: 0.995
      indicator:
        metadata: {{name: pay-sli}}
        spec:{_sli("pay", "availability").replace(*indent)}
"""


def test_status_series_with_a_calendar_month_and_a_composite_is_the_same_on_pyspark(store, spark_session, tmp_path):
    # 100 events per hour from 13 January; 50 bad on 31 January 00:00, 10 bad on 5 February 00:00
    _hours(store, "a", "x", datetime(2026, 1, 13, tzinfo=UTC), 28 * 24, 100, {18: 50, 23: 10})
    end = datetime(2026, 2, 10, tzinfo=UTC)
    minutes(store, "cart", "availability", end - timedelta(hours=1), 60, 1000, 0, 60, 1)  # SLI 0.999
    minutes(store, "pay", "availability", end - timedelta(hours=1), 60, 100, 0, 60, 1)  # SLI 0.99
    store.sql.execute("""INSERT INTO maintenance_windows VALUES
        ('mw-9', 'other', '2026-02-03 10:00:00+00', '2026-02-03 11:00:00+00', NULL, 'not ours', NULL)""")
    specs = specs_of(tmp_path, slo_doc("month", "a", "x", target=0.99, window="1M", rolling=False), _journey())
    spark = on_spark(spark_session, store, "sli_events", "maintenance_windows")
    # the last day of January, the first instant of February (an empty calendar window) and 10 February
    instants = [datetime(2026, 1, 31, 12, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), end]
    on_duckdb = [r.items for r in status_series(store, specs, instants)]
    theirs = [r.items for r in status_series(spark, specs, instants)]

    def by_objective(items: list[dict]) -> dict[tuple[str, str], dict]:
        return {(i["slo"], i["objective"]): i for i in items}

    january, boundary, february = (by_objective(items) for items in on_duckdb)
    month = ("month", "main")
    # January: 13 Jan to 31 Jan 12:00 is 18 days + 12 h of 100 events: 44,400, 50 bad
    assert january[month]["window_start"] == "2026-01-01T00:00:00+00:00"
    assert (january[month]["total"], january[month]["error_budget"]["consumed"]) == (44_400, 50)
    assert boundary[month]["window_start"] == "2026-02-01T00:00:00+00:00"
    assert boundary[month]["state"] == "insufficient_data" and boundary[month]["total"] == 0
    # February so far: 9 days x 24 h x 100 = 21,600 events, 10 bad of 216 allowed
    assert (february[month]["total"], february[month]["error_budget"]["consumed"]) == (21_600, 10)
    assert february[month]["error_budget"]["remaining"] == pytest.approx(1 - 10 / 216)
    composite = february[("checkout-journey", "composite")]
    # SLI (2 x 0.999 + 0.99) / 3 = 0.996 against target 2.993 / 3: exhausted
    assert composite["sli"] == pytest.approx(0.996) and composite["state"] == "exhausted"
    assert [c["weight"] for c in composite["components"]] == [2.0, 1.0]
    assert january[("checkout-journey", "composite")]["sli"] is None  # no journey events yet
    assert on_duckdb[-1] == slo_status(store, specs, end).items  # the series agrees with the status
    for ours, spark_items in zip(on_duckdb, theirs, strict=True):
        assert dumps(spark_items) == dumps(ours)
