"""Evaluation against hand-computed values on small inserted data.

As of 2026-03-31, weekly: current = 2026-03-25..31, previous = 2026-03-18..24 (UTC, inclusive days).
"""

from __future__ import annotations

from datetime import date

import pytest
from catalog_helpers import BASE, indicator

from engmetrics.catalog.compute import GroupValue, compute
from engmetrics.catalog.evaluate import evaluate, save_results
from engmetrics.catalog.loader import Catalog, Definition
from engmetrics.catalog.model import Calculation, Indicator
from engmetrics.catalog.periods import Period
from engmetrics.store import Store

AS_OF = date(2026, 3, 31)
CURRENT = Period(date(2026, 3, 25), date(2026, 3, 31))
PREVIOUS = Period(date(2026, 3, 18), date(2026, 3, 24))
PROD = {"column": "environment", "value": "production"}


@pytest.fixture(scope="module")
def store():
    s = Store.open("duckdb://")
    s.sql.execute("""INSERT INTO deployments (deployment_id, service, environment, started_at, status) VALUES
        ('d1', 'a', 'production', '2026-03-25 00:00:00+00', 'success'),
        ('d2', 'a', 'production', '2026-03-31 23:59:59+00', 'failure'),
        ('d3', 'b', 'production', '2026-04-01 00:00:00+00', 'success'),
        ('d4', 'b', 'production', '2026-03-24 23:59:59+00', 'success'),
        ('d5', 'b', 'staging',    '2026-03-26 10:00:00+00', 'success'),
        ('d6', 'b', 'production', '2026-03-27 10:00:00+02', 'success'),
        ('d7', 'a', 'production', '2026-03-18 00:00:00+00', 'failure'),
        ('d8', 'a', 'production', '2026-03-17 23:59:59+00', 'success')""")
    s.sql.execute("""INSERT INTO changes (change_id, repo, author, created_at, merged_at, additions) VALUES
        ('c1', 'r', 'p', '2026-03-26 08:00:00+00', '2026-03-26 10:00:00+00', 10),
        ('c2', 'r', 'p', '2026-03-27 08:00:00+00', '2026-03-27 18:00:00+00', 5),
        ('c3', 'r', 'p', '2026-03-28 08:00:00+00', '2026-03-28 12:00:00+00', NULL),
        ('c4', 'r', 'p', '2026-03-29 08:00:00+00', NULL, 20),
        ('c5', 'r', 'p', '2026-03-20 08:00:00+00', '2026-03-20 09:00:00+00', 7)""")
    yield s
    s.close()


def _calc(**spec) -> Calculation:
    return Calculation.model_validate(spec)


def _both(store, calc):
    return compute(store, calc, CURRENT), compute(store, calc, PREVIOUS)


def test_count_with_population_filter_and_boundaries(store):
    calc = _calc(dataset="deployments", filters=[PROD], measure={"type": "count"})
    # current d1 (start boundary), d2 (last second), d6; previous d4, d7 (start boundary); d3, d8 outside
    assert _both(store, calc) == ({None: GroupValue(3.0, 3)}, {None: GroupValue(2.0, 2)})


def test_count_with_measure_filter_keeps_population_as_sample(store):
    calc = _calc(dataset="deployments", filters=[PROD],
                 measure={"type": "count", "filters": [{"column": "status", "value": "success"}]})
    assert _both(store, calc) == ({None: GroupValue(2.0, 3)}, {None: GroupValue(1.0, 2)})


def test_ratio(store):
    calc = _calc(dataset="deployments", filters=[PROD], measure={
        "type": "ratio",
        "numerator": {"type": "count", "filters": [{"column": "status", "value": "failure"}]},
        "denominator": {"type": "count"}})
    assert _both(store, calc) == ({None: GroupValue(1 / 3, 3)}, {None: GroupValue(0.5, 2)})


def test_min_sample_makes_small_periods_no_data(store):
    calc = _calc(dataset="deployments", filters=[PROD], min_sample=3, measure={"type": "count"})
    assert _both(store, calc) == ({None: GroupValue(3.0, 3)}, {None: GroupValue(None, 2)})


def test_sum_ignores_nulls(store):
    calc = _calc(dataset="changes", measure={"type": "sum", "column": "additions"})
    assert _both(store, calc) == ({None: GroupValue(35.0, 4)}, {None: GroupValue(7.0, 1)})


def test_percentile_of_duration(store):
    median = _calc(dataset="changes", measure={"type": "percentile", "start": "created_at",
                                              "end": "merged_at", "percentile": 0.5, "unit": "hours"})
    # durations 2h, 10h, 4h (c4 not merged) -> median 4; previous 1h
    assert _both(store, median) == ({None: GroupValue(4.0, 3)}, {None: GroupValue(1.0, 1)})
    p90 = _calc(dataset="changes", measure={"type": "percentile", "start": "created_at", "end": "merged_at",
                                           "percentile": 0.9, "unit": "minutes"})
    # sorted [120, 240, 600] min, position 0.9 * 2 = 1.8 -> 240 + 0.8 * 360 = 528
    assert compute(store, p90, CURRENT)[None].value == pytest.approx(528.0)


def test_percentile_with_measure_filter(store):
    calc = _calc(dataset="changes", measure={"type": "percentile", "start": "created_at", "end": "merged_at",
                                            "filters": [{"column": "additions", "op": "ge", "value": 10}]})
    assert compute(store, calc, CURRENT) == {None: GroupValue(2.0, 1)}


def test_group_by(store):
    calc = _calc(dataset="deployments", filters=[PROD], group_by="service", measure={"type": "count"})
    assert _both(store, calc) == ({"a": GroupValue(2.0, 2), "b": GroupValue(1.0, 1)},
                                  {"a": GroupValue(1.0, 1), "b": GroupValue(1.0, 1)})


def test_empty_count_is_zero_in_a_covered_period_and_no_data_otherwise(store):
    calc = _calc(dataset="deployments", filters=[{"column": "environment", "value": "test"}],
                 measure={"type": "count"})
    assert compute(store, calc, CURRENT) == {None: GroupValue(0.0, 0)}  # deployments exist before and after
    later = Period(date(2026, 4, 2), date(2026, 4, 8))  # nothing ingested from 2026-04-02 on
    assert compute(store, calc, later) == {None: GroupValue(None, 0)}
    never = _calc(dataset="incidents", measure={"type": "count"})  # a dataset never ingested
    assert compute(store, never, CURRENT) == {None: GroupValue(None, 0)}
    strict = _calc(dataset="deployments", filters=[{"column": "environment", "value": "test"}],
                   measure={"type": "count"}, min_sample=2)
    assert compute(store, strict, CURRENT) == {None: GroupValue(None, 0)}
    ratio = _calc(dataset="deployments", filters=[PROD], measure={
        "type": "ratio", "numerator": {"type": "count"},
        "denominator": {"type": "count", "filters": [{"column": "status", "value": "cancelled"}]}})
    assert compute(store, ratio, CURRENT) == {None: GroupValue(None, 0)}


def test_all_time_window(store):
    calc = _calc(dataset="deployments", filters=[PROD], window="all_time", measure={"type": "count"})
    assert _both(store, calc) == ({None: GroupValue(6.0, 6)}, {None: GroupValue(3.0, 3)})


def _definition(**changes) -> Definition:
    return Definition(Indicator.model_validate(indicator(BASE, **changes)), "metrics/m.yaml", 1)


def test_evaluate_items_status_and_storage(store):
    grouped = _definition(id="by_service", calculation={
        "dataset": "deployments", "filters": [PROD], "group_by": "service", "measure": {"type": "count"}},
        thresholds={"green": {"min": 2}, "red": {"max": 2}})
    empty = _definition(id="empty", calculation={"dataset": "incidents", "measure": {"type": "count"}})
    proposed = _definition(id="later", status="proposed")
    catalog = Catalog(definitions=[grouped, empty, proposed])
    results = evaluate(store, catalog, AS_OF, git_commit="abc123")
    got = [(r.metric, r.group, r.value, r.previous, r.status, r.sample_size) for r in results]
    assert got == [("by_service", "a", 2.0, 1.0, "green", 2), ("by_service", "b", 1.0, 1.0, "red", 1),
                   ("empty", None, None, None, "no_data", 0)]
    item = results[0].to_dict()
    assert {"metric", "period_start", "period_end", "value", "previous", "status",
            "definition_version"} <= item.keys()
    assert (item["period_start"], item["period_end"]) == ("2026-03-25", "2026-03-31")
    assert save_results(store, results) == 3
    assert save_results(store, results) == 3  # re-running replaces, never duplicates
    rows = store.sql.execute('SELECT metric, "group", value, status, definition_version, git_commit, as_of '
                             "FROM _metric_results ORDER BY metric, \"group\"").fetchall()
    assert [r[:4] for r in rows] == [("by_service", "a", 2.0, "green"), ("by_service", "b", 1.0, "red"),
                                     ("empty", None, None, "no_data")]
    assert {r[4] for r in rows[:2]} == {results[0].definition_version}
    assert {(r[5], r[6]) for r in rows} == {("abc123", AS_OF)}


def test_a_group_absent_from_one_period_is_zero_there_when_covered(store):
    by_env = _definition(id="by_env", calculation={
        "dataset": "deployments", "group_by": "environment", "measure": {"type": "count"}},
        thresholds={"green": {"min": 2}, "red": {"max": 2}})
    results = evaluate(store, Catalog(definitions=[by_env]), AS_OF)
    # current week: production d1 d2 d6, staging d5; previous week: production d4 d7, no staging
    assert [(r.group, r.value, r.previous, r.status) for r in results] == [
        ("production", 3.0, 2.0, "green"), ("staging", 1.0, 0.0, "red")]
