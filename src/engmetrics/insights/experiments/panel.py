"""The engine side of an experiment: an indicator's value per unit (team or service) and time bucket (day or
ISO week), computed by the catalog's own calculation (`catalog.compute`: population, measure, `finish`) with
one Ibis aggregation per period, grouped by unit and bucket.

Semantics:

- a row belongs to the bucket `truncate(time_column)` (UTC; weeks start on Monday, as ISO weeks), and to the
  period when its time lies in `from..to` (days, inclusive); a week cut by the period's edge holds only the
  period's days of it;
- the value of a cell follows the indicator: `min_sample`, a zero denominator and an empty percentile give no
  value (the cell is left out);
- a `count` or `sum` indicator (default `min_sample`) over a period the dataset covers gives 0 for a unit
  and bucket without rows (a week without incidents), for every unit seen in the period or named by the caller;
- a unit's value in a period is the mean of its buckets' values; its observations the rows behind them.

Only declarative indicators over a dataset with the unit column, computed per period (`window: period`) and
not about individuals, can be split per unit (`check_metric`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from ...catalog.compute import NULL_GROUP, aggregate, empty_value, finish, population
from ...catalog.loader import Definition
from ...catalog.model import Calculation, CountMeasure, SumMeasure
from ...catalog.periods import Period
from ...catalog.rules import resolved_time_column
from ...governance.board import needs_approval
from ...store.datasets import REGISTRY

__all__ = ["Cell", "buckets", "check_metric", "unit_cells", "unit_means"]

TRUNCATE = {"day": "D", "week": "W"}
_SEPARATOR = "|"


@dataclass(frozen=True)
class Cell:
    """One unit's value in one bucket (`bucket`: the day, or the Monday of the week) and its sample size."""

    unit: str
    bucket: date
    value: float
    sample_size: int


def check_metric(definition: Definition, unit: str) -> str | None:
    """Why `definition` cannot be split per `unit` (a sentence), or None when it can."""
    ind = definition.indicator
    calc = ind.calculation
    if not isinstance(calc, Calculation):
        return f"{ind.id} is computed by the calculator {calc.calculator!r}, which cannot be split per {unit}"
    if calc.window == "all_time":
        return f"{ind.id} counts everything up to the period end (window: all_time): it has no per-period value"
    if needs_approval(ind):
        return f"{ind.id} is an individual-level indicator: experiments do not read individual data"
    dataset = REGISTRY.get(calc.dataset)
    if dataset is None or unit not in dataset.column_index:
        return f"{ind.id} reads dataset {calc.dataset!r}, which has no {unit!r} column"
    return None


def buckets(period: Period, grain: str) -> list[date]:
    """The buckets of `period`: every day, or the Monday of every ISO week it touches.

    >>> buckets(Period(date(2026, 3, 4), date(2026, 3, 16)), "week")
    [datetime.date(2026, 3, 2), datetime.date(2026, 3, 9), datetime.date(2026, 3, 16)]
    """
    first = period.start if grain == "day" else period.start - timedelta(days=period.start.weekday())
    step = 1 if grain == "day" else 7
    return [first + timedelta(days=i) for i in range(0, (period.end - first).days + 1, step)]


def unit_cells(store: Any, calc: Calculation, unit: str, grain: str, period: Period,
               units: list[str] | None = None) -> list[Cell]:
    """The value of `calc` per unit and bucket of `period` (module doc), sorted by unit and bucket; one Ibis
    aggregation grouped by a `unit|bucket` key, and for a `count` or `sum` one more to see whether the data
    covers the period (`catalog.compute.empty_value`)."""
    t = population(store, calc, period)
    time = t[resolved_time_column(calc)]
    bucket = time.truncate(TRUNCATE[grain])
    if not time.type().is_date():
        bucket = bucket.cast("date")
    key = t[unit].cast("string").fill_null(NULL_GROUP).concat(_SEPARATOR, bucket.cast("string"))
    rows = aggregate(t.mutate(_key=key), calc, "_key")
    cells: dict[tuple[str, date], Cell] = {}
    for row in rows:
        name, day = str(row["_group"]).rsplit(_SEPARATOR, 1)
        value = finish(row, calc)
        if value.value is not None:
            cells[(name, date.fromisoformat(day))] = Cell(name, date.fromisoformat(day), value.value,
                                                          value.sample_size)
    if isinstance(calc.measure, CountMeasure | SumMeasure) and calc.min_sample == 1:
        names = {c.unit for c in cells.values()} | set(units or [])
        if names and empty_value(store, calc, period).value == 0.0:
            for name in names:
                for day in buckets(period, grain):
                    cells.setdefault((name, day), Cell(name, day, 0.0, 0))
    return [cells[k] for k in sorted(cells)]


def unit_means(cells: list[Cell], units: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(mean bucket value, observations) of each of `units` over `cells`: NaN and 0 for a unit without cells."""
    index = {u: i for i, u in enumerate(units)}
    picked = [c for c in cells if c.unit in index]
    where = np.array([index[c.unit] for c in picked], dtype=int)
    values = np.array([c.value for c in picked], dtype=float)
    counts = np.bincount(where, minlength=len(units)).astype(float)
    sums = np.bincount(where, weights=values, minlength=len(units))
    observations = np.bincount(where, weights=np.array([c.sample_size for c in picked], dtype=float),
                               minlength=len(units))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    return means, observations
