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
  same holds for a group seen in one period and absent from the other.

>>> from engmetrics.store import Store
>>> from engmetrics.catalog.model import Calculation
>>> from engmetrics.catalog.periods import Period
>>> from datetime import date
>>> calc = Calculation.model_validate({"dataset": "deployments", "measure": {"type": "count"}})
>>> compute(Store.open("duckdb://"), calc, Period(date(2026, 1, 1), date(2026, 1, 7)))
{None: GroupValue(value=None, sample_size=0)}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from .model import Calculation, CountMeasure, Filter, PercentileMeasure, RatioMeasure, SumMeasure
from .periods import Period
from .rules import resolved_time_column

__all__ = ["NULL_GROUP", "GroupValue", "aggregate", "compute", "empty_value", "finish", "population"]

NULL_GROUP = "(null)"
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class GroupValue:
    value: float | None
    sample_size: int


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
    return t, aggs


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
    return GroupValue(value, n)


def empty_value(store: Any, calc: Calculation, period: Period) -> GroupValue:
    """The value of a period (or a group) with no rows: a real 0 for a `count` or `sum` (default
    `min_sample`) when the dataset covers the period, else no data (see the module docstring)."""
    if not (isinstance(calc.measure, CountMeasure | SumMeasure) and calc.min_sample == 1):
        return GroupValue(None, 0)
    t = store.table(calc.dataset)
    after, before = _limits(t[resolved_time_column(calc)], period)
    row = t.aggregate(before=t.count(where=before), after=t.count(where=after)).execute().iloc[0]
    return GroupValue(0.0, 0) if row["before"] and row["after"] else GroupValue(None, 0)


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
