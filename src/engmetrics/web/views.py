"""What the dashboard pages show, computed from library calls only (no SQL, no HTML here).

>>> from engmetrics.catalog.model import Filter
>>> describe_filter(Filter(column="status", value="failure"))
'status = failure'
>>> status_label("no_data")
'No data'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..auth.roles import Principal
from ..auth.scope import per_team, readable_results
from ..catalog.cache import EvaluationCache
from ..catalog.evaluate import MetricResult
from ..catalog.history import HistoryPoint, history
from ..catalog.loader import Catalog, Definition
from ..catalog.model import Band, Calculation, CalculatorCall, Filter, Indicator
from ..catalog.views import ScorecardGroup, relative_change, scorecard, trend
from ..charts import format_value, sparkline
from ..governance.access import ReadAccess
from ..settings import PrivacySettings
from ..store import REGISTRY

__all__ = ["STATUS_ICON", "Change", "Move", "Overview", "band_text", "describe_calculation", "describe_filter",
           "indicator_history", "overview", "search_catalog", "status_label"]

#: A shape per status, shown beside the status word so colour never carries the meaning alone.
STATUS_ICON = {"green": "●", "amber": "▲", "red": "■", "no_data": "○"}
_LABELS = {"green": "Green", "amber": "Amber", "red": "Red", "no_data": "No data"}
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in", "not_in": "not in",
        "is_null": "is empty", "not_null": "is set"}
SPARK_PERIODS = 8


def status_label(status: str | None) -> str:
    """The word shown for a status ('Green', 'No data'; 'None' for an indicator without thresholds)."""
    return _LABELS.get(status or "", "None" if status is None else status.replace("_", " ").capitalize())


def describe_filter(f: Filter) -> str:
    """A filter in words, e.g. `status = failure`."""
    if f.op in ("is_null", "not_null"):
        return f"{f.column} {_OPS[f.op]}"
    value = ", ".join(map(str, f.value)) if isinstance(f.value, list) else f.value
    return f"{f.column} {_OPS[f.op]} {value}"


def _where(filters: list[Filter]) -> str:
    return f" where {' and '.join(describe_filter(f) for f in filters)}" if filters else ""


def _measure_words(measure: Any) -> str:
    if measure.type == "count":
        return f"the number of rows{_where(measure.filters)}"
    if measure.type == "sum":
        return f"the sum of {measure.column}{_where(measure.filters)}"
    if measure.type == "ratio":
        return f"{_measure_words(measure.numerator)}, divided by {_measure_words(measure.denominator)}"
    pct = f"p{measure.percentile * 100:g}"
    return (f"the {pct} (exact, interpolated) of the time from {measure.start} to {measure.end} in "
            f"{measure.unit}, over rows where both are set{_where(measure.filters)}")


def describe_calculation(ind: Indicator) -> str:
    """The indicator's calculation in plain words.

    >>> from engmetrics.catalog.model import Indicator
    >>> text = describe_calculation(Indicator.model_validate({
    ...     "id": "d", "name": "D", "kind": "leading", "unit": "x", "direction": "higher_is_better",
    ...     "cadence": "weekly", "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
    ...     "thresholds": {"green": {"min": 5}, "red": {"max": 5}}}))
    >>> text.split(". ")[0]
    'Each weekly period: the number of rows of the deployments dataset, placed in a period by started_at'
    """
    calc = ind.calculation
    if isinstance(calc, CalculatorCall):
        params = ", ".join(f"{k} = {v}" for k, v in sorted(calc.params.items()))
        with_params = f" with {params}" if params else ""
        return (f"Each {ind.cadence} period: the built-in calculator {calc.calculator}{with_params}. "
                f"No data when its sample is smaller than {calc.min_sample}.")
    assert isinstance(calc, Calculation)
    dataset = REGISTRY.get(calc.dataset)
    time_column = calc.time_column or getattr(dataset, "time_column", None) or "its time column"
    text = (f"Each {ind.cadence} period: {_measure_words(calc.measure)} of the {calc.dataset} dataset"
            f"{_where(calc.filters)}, placed in a period by {time_column}")
    if calc.window == "all_time":
        text += ", counting everything up to the end of each period (all time)"
    if calc.group_by:
        text += f"; one value per {calc.group_by}"
    if calc.min_sample == 1 and calc.measure.type in ("count", "sum"):
        return f"{text}. A period without rows is 0 when the dataset has data on both sides of it, else no data."
    return f"{text}. No data when fewer than {calc.min_sample} row(s) qualify."


def band_text(band: Band, unit: str) -> str:
    """A band in words: `2 to 5 deployments` (lower bound included, upper excluded)."""
    if band.min is not None and band.max is not None:
        return f"from {format_value(band.min)} up to (not including) {format_value(band.max)} {unit}"
    if band.min is not None:
        return f"{format_value(band.min)} {unit} or more"
    if band.max is not None:
        return f"below {format_value(band.max)} {unit}"
    return "any value"


def indicator_history(store: Any, definition: Definition, as_of: date, user: Principal,
                      periods: int = 12) -> list[HistoryPoint]:
    """`history` of the indicator, without the per-team points `user` may not see
    (`engmetrics.auth.scope.per_team`). Whether `user` may read its datasets is the caller's check."""
    points = history(store, definition, as_of, periods)
    if per_team(definition.indicator):
        points = [p for p in points if p.group is None or user.sees_team(p.group)]
    return points


@dataclass(frozen=True)
class Change:
    """An indicator (and group) whose status differs from the period before."""

    metric: str
    name: str
    group: str | None
    previous_status: str
    status: str
    worse: bool


@dataclass(frozen=True)
class Move:
    """A value's change from the period before: absolute and relative, and whether it is good."""

    metric: str
    name: str
    group: str | None
    previous: float
    value: float
    unit: str
    relative: float | None
    improving: bool | None


@dataclass
class Overview:
    """Everything the overview page shows."""

    as_of: date
    groups: list[ScorecardGroup]
    sparklines: dict[tuple[str, str | None], str]
    changes: list[Change]
    moves: list[Move]
    counts: dict[str, int] = field(default_factory=dict)


_RANK = {"green": 0, "no_data": 1, "amber": 2, "red": 3}


def _changes(catalog: Catalog, results: list[MetricResult]) -> list[Change]:
    changes = [Change(r.metric, catalog.get(r.metric).indicator.name, r.group, r.previous_status, r.status,
                      _RANK.get(r.status, 0) > _RANK.get(r.previous_status, 0))
               for r in results if r.status != r.previous_status]
    return sorted(changes, key=lambda c: (not c.worse, -_RANK.get(c.status, 0), c.name, c.group or ""))


def _moves(catalog: Catalog, results: list[MetricResult], limit: int) -> list[Move]:
    moves = []
    for r in results:
        if r.value is None or r.previous is None or r.value == r.previous:
            continue
        ind = catalog.get(r.metric).indicator
        relative = relative_change(r.value, r.previous)
        moves.append(Move(r.metric, ind.name, r.group, r.previous, r.value, ind.unit, relative,
                          trend(r.value, r.previous, ind.direction)[1]))
    # A move from zero has no relative size: rank it after the measurable ones.
    return sorted(moves, key=lambda m: (m.relative is None, -abs(m.relative or 0), m.name, m.group or ""))[:limit]


def overview(store: Any, catalog: Catalog, as_of: date, access: ReadAccess, *, git_commit: str | None = None,
             moves: int = 5, cache: EvaluationCache | None = None, catalog_version: str | None = None,
             privacy: PrivacySettings | None = None) -> Overview:
    """The scorecard for the period ending `as_of`, trend sparklines, status changes and biggest moves,
    as `access` may see them (`engmetrics.auth.scope.readable_results`: its principal's teams, indicators
    over datasets it may read); the audited datasets behind what is shown are audited once
    (`ReadAccess.record_derived`). With `cache`, the evaluation and the histories are computed once per
    catalog, data and date for everyone, and scoped per request afterwards."""
    cache = cache or EvaluationCache(max_entries=1)
    everything = cache.evaluate(store, catalog, as_of, git_commit=git_commit, catalog_version=catalog_version,
                                privacy=privacy)
    results, audited = readable_results(access, catalog, everything)
    access.record_derived(audited)
    key = (cache.key(store, catalog, as_of, git_commit=git_commit, catalog_version=catalog_version), "sparks")
    histories = cache.get_or_compute(key, lambda: {
        metric: history(store, catalog.get(metric), as_of, SPARK_PERIODS)
        for metric in dict.fromkeys(r.metric for r in everything)})
    sparks: dict[tuple[str, str | None], str] = {}
    shown = {(r.metric, r.group) for r in results}
    for metric, points in histories.items():
        by_group: dict[str | None, list[float | None]] = {}
        for p in points:
            by_group.setdefault(p.group, []).append(p.value)
        for group, values in by_group.items():
            if (metric, group) in shown:
                who = f" ({group})" if group is not None else ""
                sparks[(metric, group)] = sparkline(
                    values, title=f"{catalog.get(metric).indicator.name}{who}: last {len(values)} periods")
    counts = {s: sum(r.status == s for r in results) for s in ("red", "amber", "green", "no_data")}
    return Overview(as_of, scorecard(catalog, results), sparks, _changes(catalog, results),
                    _moves(catalog, results, moves), counts)


def search_catalog(catalog: Catalog, query: str | None) -> list[Definition]:
    """Indicators matching every word of `query` (case-insensitive) in id, name, description, tags, owner,
    outcome, unit, kind or cadence; all indicators for an empty query.

    >>> search_catalog(Catalog(), "deploy")
    []
    """
    words = (query or "").lower().split()
    found = []
    for d in catalog.definitions:
        ind = d.indicator
        team = ind.owner.team if ind.owner else None
        owner = " ".join(team) if isinstance(team, list) else team or ""
        haystack = " ".join([ind.id, ind.name, ind.description, " ".join(ind.tags), owner,
                             ind.owner.role or "" if ind.owner else "", ind.outcome or "", ind.unit, ind.kind,
                             ind.cadence, ind.status]).lower()
        if all(w in haystack for w in words):
            found.append(d)
    return found
