"""An indicator in words, for the dashboard and the published catalog: its calculation as one sentence, when
it has no value, and its thresholds as words or table rows. Pure functions of the definition (no store).

>>> from engmetrics.catalog.model import Indicator
>>> ind = Indicator.model_validate({
...     "id": "deploys", "name": "Deploys", "kind": "leading", "unit": "deployments",
...     "direction": "higher_is_better", "cadence": "weekly",
...     "calculation": {"dataset": "deployments", "time_column": "finished_at",
...                     "filters": [{"column": "environment", "value": "production"}],
...                     "measure": {"type": "count"}},
...     "thresholds": {"green": {"min": 5}, "red": {"max": 5}}})
>>> describe_calculation(ind)
'Count of rows of `deployments` where environment = production, by week of finished_at.'
>>> [row["words"] for row in threshold_rows(ind)]
['5 deployments or more', 'below 5 deployments']
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from markupsafe import Markup, escape

from .calculators import CALCULATORS
from .model import (
    Band,
    Calculation,
    CalculatorCall,
    CountMeasure,
    Filter,
    Indicator,
    PercentileMeasure,
    RatioMeasure,
    SumMeasure,
)
from .rules import resolved_time_column

__all__ = ["PERIOD_NOTE", "band_text", "calculator_doc", "code_spans", "describe_calculation", "describe_filter",
           "describe_no_data", "threshold_rows"]

_PERIOD_WORD = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter"}
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in", "not_in": "not in"}

#: How periods are cut, said once on every indicator page.
PERIOD_NOTE = ("Periods are trailing windows ending on the evaluation date, in UTC: a day, 7 days, one calendar "
               "month or three calendar months. A row belongs to a period when its time column is on or after "
               "the period's start and before its end.")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_filter(f: Filter) -> str:
    """A filter in words.

    >>> describe_filter(Filter(column="status", op="in", value=["success", "failure"]))
    'status in (success, failure)'
    >>> describe_filter(Filter(column="resolved_at", op="not_null"))
    'resolved_at is set'
    """
    if f.op == "is_null":
        return f"{f.column} is empty"
    if f.op == "not_null":
        return f"{f.column} is set"
    if isinstance(f.value, list):
        return f"{f.column} {_OPS[f.op]} ({', '.join(_value(v) for v in f.value)})"
    return f"{f.column} {_OPS[f.op]} {_value(f.value)}"


def _where(filters: list[Filter], lead: str = " where ") -> str:
    return lead + " and ".join(describe_filter(f) for f in filters) if filters else ""


def _simple(m: CountMeasure | SumMeasure) -> str:
    what = "the count of rows" if isinstance(m, CountMeasure) else f"the sum of `{m.column}`"
    return what + _where(m.filters)


def _head(m: Any) -> tuple[str, list[str]]:
    """(the measure up to the dataset, the measure's own row conditions)."""
    own = [describe_filter(f) for f in getattr(m, "filters", [])]
    if isinstance(m, CountMeasure):
        return "Count of rows of", own
    if isinstance(m, SumMeasure):
        return f"Sum of `{m.column}` over rows of", own
    if isinstance(m, RatioMeasure):
        return f"Ratio of {_simple(m.numerator)} to {_simple(m.denominator)}, over rows of", []
    assert isinstance(m, PercentileMeasure)
    return (f"p{m.percentile * 100:g} (exact, interpolated) of {m.end} - {m.start} in {m.unit} over rows of",
            ["both are set", *own])


def describe_calculation(ind: Indicator) -> str:
    """The calculation as one sentence: the measure, the dataset and its population filters, the measure's own
    conditions, the period and time column, then the window and the grouping. Every shape is in
    tests/catalog/test_words.py.

    >>> from engmetrics.catalog.model import Indicator
    >>> describe_calculation(Indicator.model_validate({
    ...     "id": "x", "name": "X", "kind": "leading", "unit": "n", "direction": "higher_is_better",
    ...     "cadence": "daily", "status": "proposed",
    ...     "calculation": {"calculator": "delivery.deployments_per_day", "params": {"environment": "prod"}}}))
    'Built-in calculator `delivery.deployments_per_day` with environment = prod, by day.'
    """
    calc = ind.calculation
    period = _PERIOD_WORD[ind.cadence]
    if isinstance(calc, CalculatorCall):
        params = ", ".join(f"{k} = {_value(v)}" for k, v in sorted(calc.params.items()))
        return f"Built-in calculator `{calc.calculator}`{f' with {params}' if params else ''}, by {period}."
    assert isinstance(calc, Calculation)
    head, own = _head(calc.measure)
    text = f"{head} `{calc.dataset}`{_where(calc.filters)}"
    if own:
        verb = "counting" if isinstance(calc.measure, CountMeasure) else "using"
        text += f", {verb} only rows where {' and '.join(own)}"
    text += f", by {period} of {resolved_time_column(calc) or '(no time column)'}"
    if calc.window == "all_time":
        text += f", counting every row up to the end of each {period} (all time)"
    if calc.group_by:
        text += f", one value per {calc.group_by}"
    return text + "."


def describe_no_data(ind: Indicator) -> str:
    """When the indicator has no value for a period (and when an empty period is a real 0)."""
    calc = ind.calculation
    n = calc.min_sample
    if isinstance(calc, CalculatorCall):
        return "No value when the calculator finds no data." if n == 1 else \
            f"No value when the calculator's sample is smaller than {n}."
    assert isinstance(calc, Calculation)
    m = calc.measure
    if isinstance(m, RatioMeasure):
        few = f"fewer than {n} rows feed the denominator or " if n > 1 else ""
        return f"No value when {few}the denominator is 0."
    if isinstance(m, PercentileMeasure):
        return f"No value when fewer than {n} rows have both times set." if n > 1 else \
            "No value when no row has both times set."
    if n > 1:
        return f"No value when fewer than {n} rows of `{calc.dataset}` qualify."
    return (f"A period without rows is 0 when `{calc.dataset}` has data on both sides of it; otherwise there "
            "is no value.")


def code_spans(text: str) -> Markup:
    """Escape `text` and show its `backticked` parts as code.

    >>> str(code_spans("Count of rows of `a<b>`"))
    'Count of rows of <code>a&lt;b&gt;</code>'
    """
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def calculator_doc(ind: Indicator) -> str | None:
    """The first paragraph of a built-in calculator's docstring (None for a declarative calculation)."""
    calc = ind.calculation
    if not isinstance(calc, CalculatorCall) or calc.calculator not in CALCULATORS:
        return None
    doc = inspect.getdoc(CALCULATORS[calc.calculator]) or ""
    return " ".join(doc.split("\n\n")[0].split()) or None


def _number(value: float) -> str:
    return f"{value:g}"


def band_text(band: Band, unit: str) -> str:
    """A band in words, in `unit` (a ratio has none): lower bound included, upper excluded.

    >>> band_text(Band(min=2, max=5), "deployments")
    'from 2 up to (not including) 5 deployments'
    >>> band_text(Band(max=0.15), "ratio")
    'below 0.15'
    """
    unit = "" if unit == "ratio" else f" {unit}"
    if band.min is not None and band.max is not None:
        return f"from {_number(band.min)} up to (not including) {_number(band.max)}{unit}"
    if band.min is not None:
        return f"{_number(band.min)}{unit} or more"
    if band.max is not None:
        return f"below {_number(band.max)}{unit}"
    return "any value"


def threshold_rows(ind: Indicator) -> list[dict[str, str]]:
    """One row per band: `status`, `from` (inclusive, '' when unbounded), `to` (exclusive) and `words` (in the
    indicator's unit; a ratio has none)."""
    if ind.thresholds is None:
        return []
    return [{"status": name, "from": "" if band.min is None else _number(band.min),
             "to": "" if band.max is None else _number(band.max), "words": band_text(band, ind.unit)}
            for name, band in ind.thresholds.bands()]
