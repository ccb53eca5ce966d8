"""Compute a declarative calculation for one period, as one Ibis aggregation per period.

Semantics (also in docs/catalog.md):

- rows belong to the period when `start <= time_column < end` (UTC); `window: all_time` drops the start;
- the calculation's `filters` select the *population*; a measure's own `filters` select within it;
- sample size: `count` and `sum` - rows in the population; `ratio` - rows feeding the denominator;
  `percentile` - rows (after the measure's filters) where both timestamps are set;
- fewer rows than `min_sample` (default 1), a null sum or a zero denominator give no value (no data);
- except that an empty `count` or `sum` (with the default `min_sample`) over a *covered* period is a real
  0: covered means the dataset holds rows both before the period's end and at or after its start, so the
  feed was alive (a week without incidents is 0 incidents, a dataset never ingested is no data); the
  same holds for a group seen in one period and absent from the other;
- over a *sampled* dataset (one with a `weight` column: `request_events`; null weight = 1) `count`, `sum`
  and `ratio` are Horvitz-Thompson estimates of the values before sampling (sum of weights, sum of
  weight * value, ratio of the two totals; `engmetrics.telemetry.sampling_estimate`) with a 95 % interval
  (`low`, `high`, `reliable`, `estimated` = True); sample sizes stay stored rows. (`percentile` is refused
  there by the loader: docs/sampling.md.)

>>> from engmetrics.store import Store
>>> from engmetrics.catalog.model import Calculation
>>> from engmetrics.catalog.periods import Period
>>> from datetime import date
>>> calc = Calculation.model_validate({"dataset": "deployments", "measure": {"type": "count"}})
>>> compute(Store.open("duckdb://"), calc, Period(date(2026, 1, 1), date(2026, 1, 7)))
{None: GroupValue(value=None, sample_size=0)}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from ..telemetry.sampling_estimate import (
    WEIGHT,
    ht_aggregates,
    ratio_estimate,
    sampled_dataset,
    terms_from_row,
    total_estimate,
)
from .model import Calculation, CountMeasure, Filter, PercentileMeasure, RatioMeasure, SumMeasure
from .periods import Period
from .rules import resolved_time_column

__all__ = ["CONFIDENCE", "NULL_GROUP", "GroupValue", "aggregate", "compute", "empty_value", "finish", "population"]

NULL_GROUP = "(null)"
CONFIDENCE = 0.95  # of the interval of an estimate from sampled data
_HT = "ht_"  # prefix of the Horvitz-Thompson terms in an aggregated row
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class GroupValue:
    """A value (None = no data) and its sample size; for an estimate from sampled data (`estimated`), its
    interval `low`..`high` at `CONFIDENCE` and whether that interval can be trusted (`reliable`)."""

    value: float | None
    sample_size: int
    low: float | None = field(default=None, repr=False)
    high: float | None = field(default=None, repr=False)
    reliable: bool | None = field(default=None, repr=False)
    estimated: bool = field(default=False, repr=False)


def _condition(t: ir.Table, f: Filter) -> ir.BooleanValue:
    col = t[f.column]
    ops = {
        "eq": lambda: col == f.value, "ne": lambda: col != f.value, "lt": lambda: col < f.value,
        "le": lambda: col <= f.value, "gt": lambda: col > f.value, "ge": lambda: col >= f.value,
        "in": lambda: col.isin(f.value), "not_in": lambda: col.notin(f.value),
        "is_null": col.isnull, "not_null": col.notnull,
    }
    return ops[f.op]()


def _all(t: ir.Table, filters: list[Filter]) -> ir.BooleanValue | None:
    cond = None
    for f in filters:
        c = _condition(t, f)
        cond = c if cond is None else cond & c
    return cond


def _limits(col: ir.Column, period: Period) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(on or after the period's start, before its end) for a timestamp or date column."""
    if col.type().is_date():
        return col >= ibis.date(period.start), col <= ibis.date(period.end)
    return col >= ibis.timestamp(period.start_ts), col < ibis.timestamp(period.end_ts)


def _bounds(t: ir.Table, column: str, period: Period, all_time: bool) -> ir.BooleanValue:
    lower, upper = _limits(t[column], period)
    return upper if all_time else lower & upper


def _simple(t: ir.Table, m: CountMeasure | SumMeasure, prefix: str) -> dict[str, ir.Scalar]:
    cond = _all(t, m.filters)
    if isinstance(m, CountMeasure):
        return {f"{prefix}value": t.count(where=cond), f"{prefix}rows": t.count(where=cond)}
    return {f"{prefix}value": t[m.column].sum(where=cond), f"{prefix}rows": t.count(where=cond)}


def _term(t: ir.Table, m: CountMeasure | SumMeasure) -> ir.FloatingValue:
    """A row's share of a count or sum measure: 1 or the column's value (null: 0) where the measure's filters
    hold, else 0 (the y of the HT terms)."""
    value = ibis.literal(1.0) if isinstance(m, CountMeasure) else t[m.column].cast("float64").fill_null(0.0)
    cond = _all(t, m.filters)
    return value if cond is None else cond.fill_null(False).ifelse(value, 0.0)


def _weighted(t: ir.Table, calc: Calculation) -> dict[str, ir.Scalar]:
    """The HT terms of a count, sum or ratio measure over a sampled dataset (none otherwise)."""
    m = calc.measure
    if not sampled_dataset(calc.dataset) or isinstance(m, PercentileMeasure):
        return {}
    w = t[WEIGHT].cast("float64").fill_null(1.0)
    if isinstance(m, RatioMeasure):
        return ht_aggregates(t, w, _term(t, m.numerator), _term(t, m.denominator), prefix=_HT)
    return ht_aggregates(t, w, _term(t, m), ibis.literal(1.0), prefix=_HT)


def _metrics(t: ir.Table, calc: Calculation, person: str | None = None) -> tuple[ir.Table, dict[str, ir.Scalar]]:
    """The aggregations of `calc`'s measure; with `person`, also `people`: the distinct values of that
    column over the rows feeding the value (count, sum: after the measure's filters; ratio: the
    numerator's and the denominator's rows; percentile: rows with a duration, after the measure's
    filters)."""
    m = calc.measure
    if isinstance(m, CountMeasure | SumMeasure):
        aggs = _simple(t, m, "")
        aggs["n"] = t.count()
        feeding = _all(t, m.filters)
    elif isinstance(m, RatioMeasure):
        aggs = {**_simple(t, m.numerator, "num_"), **_simple(t, m.denominator, "den_")}
        num, den = _all(t, m.numerator.filters), _all(t, m.denominator.filters)
        feeding = None if num is None or den is None else num | den
    else:
        assert isinstance(m, PercentileMeasure)
        seconds = t[m.end].epoch_seconds() - t[m.start].epoch_seconds()
        t = t.mutate(_duration=seconds.cast("float64") / _UNIT_SECONDS[m.unit])
        cond = t._duration.notnull()
        extra = _all(t, m.filters)
        feeding = cond = cond if extra is None else cond & extra
        aggs = {"value": t._duration.quantile(m.percentile, where=cond), "n": t.count(where=cond)}
    if person is not None:
        aggs["people"] = t[person].nunique(where=feeding)
    return t, {**aggs, **_weighted(t, calc)}


def finish(row: dict[str, Any], calc: Calculation) -> GroupValue:
    """The value and sample size of one aggregated row (see `aggregate`)."""
    if isinstance(calc.measure, RatioMeasure):
        n = int(row["den_rows"] or 0)
        num, den = row["num_value"], row["den_value"]
        value = None if num is None or den is None or den == 0 else float(num) / float(den)
    else:
        n = int(row["n"] or 0)
        value = None if row["value"] is None else float(row["value"])
    if n < calc.min_sample or value is None or value != value:  # NaN from an empty engine reduction
        return GroupValue(None, n)
    if _HT + "n_sampled" not in row:
        return GroupValue(value, n)
    terms = terms_from_row(row, _HT)
    if isinstance(calc.measure, RatioMeasure) and terms.total_x == 0:
        return GroupValue(None, n)
    est = (ratio_estimate if isinstance(calc.measure, RatioMeasure) else total_estimate)(terms, CONFIDENCE)
    return GroupValue(est.value, n, est.lower, est.upper, est.reliable, estimated=True)


def empty_value(store: Any, calc: Calculation, period: Period) -> GroupValue:
    """The value of a period (or a group) with no rows: a real 0 for a `count` or `sum` (default
    `min_sample`) when the dataset covers the period, else no data (see the module docstring)."""
    if not (isinstance(calc.measure, CountMeasure | SumMeasure) and calc.min_sample == 1):
        return GroupValue(None, 0)
    t = store.table(calc.dataset)
    after, before = _limits(t[resolved_time_column(calc)], period)
    row = t.aggregate(before=t.count(where=before), after=t.count(where=after)).execute().iloc[0]
    if not (row["before"] and row["after"]):
        return GroupValue(None, 0)
    if sampled_dataset(calc.dataset):  # no sampled row: 0 is the estimate, but no interval can be trusted
        return GroupValue(0.0, 0, 0.0, 0.0, reliable=False, estimated=True)
    return GroupValue(0.0, 0)


def population(store: Any, calc: Calculation, period: Period) -> ir.Table:
    """The rows of `calc`'s population in `period`: inside the period by the time column (or up to its
    end for `window: all_time`), after the calculation's filters."""
    t = store.table(calc.dataset)
    time_column = resolved_time_column(calc)
    assert time_column is not None, "the loader checks the time column"
    t = t.filter(_bounds(t, time_column, period, calc.window == "all_time"))
    condition = _all(t, calc.filters)
    return t if condition is None else t.filter(condition)


def aggregate(t: ir.Table, calc: Calculation, by: str | None = None,
              person: str | None = None) -> list[dict[str, Any]]:
    """One aggregated row of `calc`'s measure over `t` (grouped by column `by`: one row per value, under
    the key `_group`); `finish` turns a row into its value. With `person`, each row also has `people`
    (see `_metrics`). One Ibis aggregation, executed."""
    t, aggs = _metrics(t, calc, person)
    expr = t.group_by(_group=t[by]).aggregate(**aggs) if by else t.aggregate(**aggs)
    frame = expr.execute()
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def compute(store: Any, calc: Calculation, period: Period) -> dict[str | None, GroupValue]:
    """The calculation's value per group (key None when not grouped) for `period`.

    Every group present in the period's population is returned; no rows at all gives `{None: no data}`
    for an ungrouped calculation and `{}` for a grouped one.
    """
    t = population(store, calc, period)
    if calc.group_by:
        t = t.mutate(_group=t[calc.group_by].cast("string").fill_null(NULL_GROUP))
    rows = aggregate(t, calc, "_group" if calc.group_by else None)
    if not calc.group_by:
        result = finish(rows[0], calc)
        return {None: empty_value(store, calc, period) if result.sample_size == 0 else result}
    return {str(r["_group"]): finish(r, calc) for r in rows}
