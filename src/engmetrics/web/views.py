"""What the dashboard pages show, computed from library calls only (no SQL, no HTML here).

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
from ..catalog.views import ScorecardGroup, relative_change, scorecard, trend
from ..charts import sparkline
from ..governance.access import ReadAccess
from ..settings import PrivacySettings

__all__ = ["STATUS_ICON", "Change", "Move", "Overview", "indicator_history", "overview", "search_catalog",
           "status_label"]

#: A shape per status, shown beside the status word so colour never carries the meaning alone.
STATUS_ICON = {"green": "●", "amber": "▲", "red": "■", "no_data": "○"}
_LABELS = {"green": "Green", "amber": "Amber", "red": "Red", "no_data": "No data"}
SPARK_PERIODS = 8


def status_label(status: str | None) -> str:
    """The word shown for a status ('Green', 'No data'; 'None' for an indicator without thresholds)."""
    return _LABELS.get(status or "", "None" if status is None else status.replace("_", " ").capitalize())


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
