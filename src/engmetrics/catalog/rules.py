"""Stage 3 of loading: rules across definitions and against the store's dataset registry.

Checks: ids unique across indicators and outcomes; the dataset exists; every column named by the
calculation exists with a fitting type (sums over numbers, durations between timestamps, the time
column a timestamp or date); filter values fit their column's type; a named calculator is registered
and accepts the given params; no percentile over a sampled dataset (one whose rows carry weights).

Indicators about individuals (audience `individual`, or grouped by a person column) load like any other:
they compute only with a review-board approval in force, which evaluation enforces
(`engmetrics.governance.board.needs_approval` and `approval_status`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from ..errors import Issue
from ..store.datasets import REGISTRY
from ..store.registry import NUMERIC, TEMPORAL, Dataset, value_fits
from ..telemetry.sampling_estimate import sampled_dataset
from .calculators import CALCULATORS
from .loader import Catalog, Definition
from .model import Calculation, CalculatorCall, PercentileMeasure, RatioMeasure, SumMeasure

__all__ = ["cross_definition_issues", "resolved_time_column"]


def resolved_time_column(calc: Calculation) -> str | None:
    """The calculation's time column, defaulting to the dataset's."""
    if calc.time_column:
        return calc.time_column
    dataset = REGISTRY.get(calc.dataset)
    return dataset.time_column if dataset else None


def _columns(calc: Calculation) -> Iterator[tuple[tuple[Any, ...], str, set[str] | None]]:
    """(location, column, allowed logical types or None for any) for every column the calculation names."""
    for i, f in enumerate(calc.filters):
        yield ("calculation", "filters", i, "column"), f.column, None
    if calc.group_by:
        yield ("calculation", "group_by"), calc.group_by, None
    m = calc.measure
    parts: list[tuple[tuple[Any, ...], Any]] = [(("calculation", "measure"), m)]
    if isinstance(m, RatioMeasure):
        parts = [(("calculation", "measure", "numerator"), m.numerator),
                 (("calculation", "measure", "denominator"), m.denominator)]
    for base, measure in parts:
        for i, f in enumerate(measure.filters):
            yield (*base, "filters", i, "column"), f.column, None
        if isinstance(measure, SumMeasure):
            yield (*base, "column"), measure.column, NUMERIC
        if isinstance(measure, PercentileMeasure):
            yield (*base, "start"), measure.start, {"timestamp"}
            yield (*base, "end"), measure.end, {"timestamp"}


def _calculation_issues(d: Definition) -> Iterator[Issue]:
    calc = d.indicator.calculation

    def issue(message: str, *loc: Any) -> Issue:
        return Issue("ERROR", "calculation", message, file=d.file, line=d.line_of(*loc), metric=d.id)

    if isinstance(calc, CalculatorCall):
        if calc.calculator not in CALCULATORS:
            yield issue(f"unknown calculator {calc.calculator!r}; registered: "
                        f"{', '.join(sorted(CALCULATORS)) or 'none'}", "calculation", "calculator")
            return
        try:
            inspect.signature(CALCULATORS[calc.calculator]).bind(None, None, **calc.params)
        except TypeError as exc:
            yield issue(f"calculator {calc.calculator}: {exc}", "calculation", "params")
        return
    dataset: Dataset | None = REGISTRY.get(calc.dataset)
    if dataset is None:
        yield issue(f"unknown dataset {calc.dataset!r}; known: {', '.join(REGISTRY)}",
                    "calculation", "dataset")
        return
    time_column = resolved_time_column(calc)
    if time_column is None:
        yield issue(f"dataset {dataset.name} has no default time column: set calculation.time_column",
                    "calculation")
    else:
        yield from _check_column(issue, dataset, ("calculation", "time_column"), time_column, TEMPORAL)
    for loc, column, types in _columns(calc):
        yield from _check_column(issue, dataset, loc, column, types)
    yield from _filter_value_issues(calc, dataset, issue)
    if isinstance(calc.measure, PercentileMeasure) and sampled_dataset(dataset.name):
        yield issue(f"dataset {dataset.name} holds sampled rows (with weights): a percentile over them is not "
                    "supported; use a count, sum or ratio (estimated with an interval), e.g. the share of slow "
                    "requests (docs/sampling.md)", "calculation", "measure")


def _filter_value_issues(calc: Calculation, dataset: Dataset, issue: Any) -> Iterator[Issue]:
    """Filter values must fit their column's type (else the engine refuses the comparison at evaluation)."""
    m = calc.measure
    parts: list[tuple[tuple[Any, ...], Any]] = [(("calculation",), calc), (("calculation", "measure"), m)]
    if isinstance(m, RatioMeasure):
        parts[1:] = [(("calculation", "measure", "numerator"), m.numerator),
                     (("calculation", "measure", "denominator"), m.denominator)]
    for base, holder in parts:
        for i, f in enumerate(holder.filters):
            if f.value is None or f.column not in dataset.column_index:
                continue
            kind = dataset.column(f.column).type
            values = f.value if isinstance(f.value, list) else [f.value]
            bad = [v for v in values if not value_fits(v, kind)]
            if bad:
                yield issue(f"filter on {dataset.name}.{f.column} ({kind}): value {bad[0]!r} does not fit",
                            *base, "filters", i, "value")


def _check_column(issue: Any, dataset: Dataset, loc: tuple[Any, ...], column: str,
                  types: set[str] | None) -> Iterator[Issue]:
    if column not in dataset.column_index:
        yield issue(f"dataset {dataset.name} has no column {column!r}", *loc)
    elif types is not None and dataset.column(column).type not in types:
        yield issue(f"column {dataset.name}.{column} is {dataset.column(column).type}, expected "
                    f"{' or '.join(sorted(types))}", *loc)


def cross_definition_issues(catalog: Catalog) -> list[Issue]:
    """Every ERROR found across the catalog's definitions."""
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    located = [(d.id, d.file, d.line) for d in catalog.definitions]
    located += [(o.outcome.id, o.file, o.line) for o in catalog.outcomes]
    for ident, file, line in located:
        if ident in seen:
            issues.append(Issue("ERROR", "duplicate-id", f"id {ident!r} is already defined at {seen[ident]}",
                                file=file, line=line, metric=ident))
        else:
            seen[ident] = f"{file}:{line}"
    for d in catalog.definitions:
        issues.extend(_calculation_issues(d))
    return issues

