"""Indicator definitions: the pydantic v2 models behind `metrics/*.yaml`.

A calculation is either declarative (a dataset, filters, a time column, an optional group-by column and
one measure from a small closed set: `count`, `sum`, `ratio`, `percentile`) or the name of a built-in
calculator that a domain registers (see `engmetrics.catalog.calculators`).

>>> ind = Indicator.model_validate({
...     "id": "deploys", "name": "Deployments", "kind": "leading", "unit": "deployments",
...     "direction": "higher_is_better", "cadence": "weekly",
...     "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
...     "thresholds": {"green": {"min": 5}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}}})
>>> ind.calculation.measure.type, ind.status
('count', 'active')
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

__all__ = [
    "Band", "Calculation", "CalculatorCall", "CatalogFile", "CountMeasure", "Filter", "Indicator",
    "Measure", "Outcome", "Owner", "PercentileMeasure", "RatioMeasure", "SumMeasure", "Thresholds",
]

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]*$", max_length=80,
                                  description="lower-case identifier: letters, digits, _ . -")]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Strict):
    """Who answers for the indicator: a team and an accountable role in it."""

    team: str | list[str] | None = Field(None, description="the one owning team (a list is ambiguous)")
    role: str | None = Field(None, description="accountable role, e.g. 'engineering manager'")


class Filter(_Strict):
    """A row filter: `column op value`. `is_null` / `not_null` take no value; `in` / `not_in` a list."""

    column: str
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_null", "not_null"] = "eq"
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_matches_op(self) -> Filter:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"op {self.op} takes no value")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op} needs a non-empty list value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a single value")
        return self


class CountMeasure(_Strict):
    """Number of rows (after the calculation's and this measure's filters)."""

    type: Literal["count"] = "count"
    filters: list[Filter] = Field(default_factory=list)


class SumMeasure(_Strict):
    """Sum of a numeric column."""

    type: Literal["sum"] = "sum"
    column: str
    filters: list[Filter] = Field(default_factory=list)


SimpleMeasure = Annotated[CountMeasure | SumMeasure, Discriminator("type")]


class RatioMeasure(_Strict):
    """numerator / denominator, each a count or a sum; no data when the denominator is 0."""

    type: Literal["ratio"] = "ratio"
    numerator: SimpleMeasure
    denominator: SimpleMeasure


class PercentileMeasure(_Strict):
    """Exact (interpolated) percentile of `end - start` over rows where both are set."""

    type: Literal["percentile"] = "percentile"
    start: str = Field(description="timestamp column where the duration starts")
    end: str = Field(description="timestamp column where the duration ends")
    percentile: float = Field(0.5, gt=0, lt=1, description="e.g. 0.5 for the median, 0.9 for p90")
    unit: Literal["seconds", "minutes", "hours", "days"] = "hours"
    filters: list[Filter] = Field(default_factory=list)


Measure = Annotated[CountMeasure | SumMeasure | RatioMeasure | PercentileMeasure, Discriminator("type")]


class Calculation(_Strict):
    """A declarative calculation over one dataset of the store."""

    dataset: str
    measure: Measure
    time_column: str | None = Field(
        None, description="timestamp that places a row in a period (default: the dataset's time column)")
    filters: list[Filter] = Field(default_factory=list, description="applied before the measure")
    group_by: str | None = Field(None, description="compute one value per value of this column")
    window: Literal["period", "all_time"] = Field(
        "period", description="'all_time' counts everything up to the period end (a vanity smell)")
    min_sample: int = Field(1, ge=1, description="fewer rows than this is no_data")


class CalculatorCall(_Strict):
    """A built-in calculator registered by a domain, with optional keyword parameters."""

    calculator: str
    params: dict[str, Scalar] = Field(default_factory=dict)
    min_sample: int = Field(1, ge=1, description="a smaller sample size is no_data")


def _calculation_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "calculator" if "calculator" in value else "query"
    return "calculator" if isinstance(value, CalculatorCall) else "query"


AnyCalculation = Annotated[
    Annotated[Calculation, Tag("query")] | Annotated[CalculatorCall, Tag("calculator")],
    Discriminator(_calculation_kind),
]


class Band(_Strict):
    """Values `v` with `min <= v < max`; a missing bound is unbounded."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Band:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"empty band: min {self.min} is not below max {self.max}")
        return self

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value < self.max)


class Thresholds(_Strict):
    """Green, amber and red bands; amber may be left out."""

    green: Band
    amber: Band | None = None
    red: Band

    def bands(self) -> list[tuple[str, Band]]:
        return [(n, b) for n, b in (("green", self.green), ("amber", self.amber), ("red", self.red)) if b]


class Indicator(_Strict):
    """One performance indicator (KPI)."""

    id: Identifier
    name: str
    description: str = ""
    owner: Owner | None = None
    kind: Literal["leading", "lagging"]
    unit: str
    direction: Literal["higher_is_better", "lower_is_better"]
    cadence: Literal["daily", "weekly", "monthly", "quarterly"]
    calculation: AnyCalculation
    thresholds: Thresholds | None = None
    outcome: str | None = Field(None, description="id of a declared outcome or of a parent indicator")
    guardrail: str | None = Field(None, description="id of the counter-indicator read beside this one")
    audience: Literal["team", "org", "individual"] = "team"
    affects: list[Literal["promotion", "compensation", "performance_review"]] = Field(
        default_factory=list, description="career decisions the indicator may inform: each needs review-board "
        "approval before it computes (policies/review_board.yaml)")
    perception: str | None = Field(
        None, description="the `perception` survey dimension that says how teams see what this indicator "
        "measures (compared by `engmetrics governance discrepancies`)")
    review_by: date | None = None
    status: Literal["proposed", "active", "deprecated"] = "active"
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _lower_tags(cls, tags: list[str]) -> list[str]:
        return [t.strip().lower() for t in tags]

    @model_validator(mode="after")
    def _active_needs_thresholds(self) -> Indicator:
        if self.status == "active" and self.thresholds is None:
            raise ValueError("an active indicator needs thresholds: its status is green, amber or red by them")
        return self


class Outcome(_Strict):
    """A business outcome that indicators serve."""

    id: Identifier
    name: str
    description: str = ""


class CatalogFile(_Strict):
    """A `metrics/*.yaml` file: a list of indicators and, optionally, the outcomes they serve.

    A file may instead hold a single indicator mapping at top level.
    """

    indicators: list[Indicator] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
