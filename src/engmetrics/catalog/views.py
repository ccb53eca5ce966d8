"""Shapes the CLI, API and web show: catalog summaries, the outcome tree and the RAG scorecard.

>>> from engmetrics.catalog.loader import Catalog
>>> catalog_tree(Catalog())
[]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .evaluate import MetricResult
from .loader import Catalog, Definition
from .version import definition_version

__all__ = [
    "NO_OUTCOME",
    "ScorecardGroup",
    "ScorecardRow",
    "TreeNode",
    "catalog_tree",
    "indicator_detail",
    "indicator_summary",
    "relative_change",
    "root_outcome",
    "scorecard",
    "trend",
]

NO_OUTCOME = "(no outcome)"


def indicator_summary(d: Definition) -> dict[str, Any]:
    ind = d.indicator
    team = ind.owner.team if ind.owner else None
    return {"id": ind.id, "name": ind.name, "kind": ind.kind, "cadence": ind.cadence, "status": ind.status,
            "owner": ", ".join(team) if isinstance(team, list) else team, "outcome": ind.outcome,
            "guardrail": ind.guardrail, "file": d.file, "line": d.line}


def indicator_detail(d: Definition) -> dict[str, Any]:
    return {**d.indicator.model_dump(mode="json"), "file": d.file, "line": d.line,
            "definition_version": definition_version(d.indicator)}


@dataclass
class TreeNode:
    """An outcome or indicator; an indicator's `guardrail` is read beside it."""

    id: str
    name: str
    type: str  # "outcome" or "indicator"
    guardrail: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def catalog_tree(catalog: Catalog) -> list[TreeNode]:
    """Outcomes -> indicators (-> indicators that name them as outcome) with their guardrails.

    Indicators whose outcome is missing or resolves to nothing sit under a `(no outcome)` node.
    """
    by_parent: dict[str | None, list[Definition]] = {}
    known = {o.outcome.id for o in catalog.outcomes} | set(catalog.ids)
    for d in catalog.definitions:
        parent = d.indicator.outcome if d.indicator.outcome in known else None
        by_parent.setdefault(parent, []).append(d)

    def indicator_node(d: Definition, seen: frozenset[str]) -> TreeNode:
        children = [indicator_node(c, seen | {c.id}) for c in by_parent.get(d.id, []) if c.id not in seen]
        return TreeNode(d.id, d.indicator.name, "indicator", d.indicator.guardrail, children)

    def under(parent: str | None) -> list[TreeNode]:
        return [indicator_node(d, frozenset({d.id})) for d in by_parent.get(parent, [])]

    roots = [TreeNode(o.outcome.id, o.outcome.name, "outcome", children=under(o.outcome.id))
             for o in catalog.outcomes]
    orphans = under(None)
    if orphans:
        roots.append(TreeNode(NO_OUTCOME, NO_OUTCOME, "outcome", children=orphans))
    return roots


def root_outcome(catalog: Catalog, metric: str) -> str:
    """The declared outcome at the top of the indicator's outcome chain, or `(no outcome)`."""
    outcomes = {o.outcome.id for o in catalog.outcomes}
    indicators = {d.id: d.indicator for d in catalog.definitions}
    current, seen = indicators[metric].outcome, {metric}
    while current in indicators and current not in seen:
        seen.add(current)
        current = indicators[current].outcome
    return current if current in outcomes else NO_OUTCOME


def trend(value: float | None, previous: float | None, direction: str) -> tuple[str | None, bool | None]:
    """("up" | "down" | "flat", whether that is good) or (None, None) when either value is missing."""
    if value is None or previous is None:
        return None, None
    if value == previous:
        return "flat", None
    up = value > previous
    return ("up" if up else "down"), up == (direction == "higher_is_better")


def relative_change(value: float | None, previous: float | None) -> float | None:
    """(value - previous) / |previous|, or None when either is missing or previous is 0.

    >>> relative_change(6.0, 4.0)
    0.5
    """
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous)


@dataclass
class ScorecardRow:
    metric: str
    name: str
    group: str | None
    value: float | None
    previous: float | None
    status: str
    unit: str
    direction: str
    trend: str | None
    improving: bool | None
    guardrail: str | None
    period_start: str
    period_end: str
    low: float | None = None  # the 95 % interval of a value estimated from sampled data (else None)
    high: float | None = None


@dataclass
class ScorecardGroup:
    outcome: str
    name: str
    rows: list[ScorecardRow]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def scorecard(catalog: Catalog, results: list[MetricResult]) -> list[ScorecardGroup]:
    """Results grouped by root outcome (declared order, then `(no outcome)`)."""
    groups: dict[str, ScorecardGroup] = {
        o.outcome.id: ScorecardGroup(o.outcome.id, o.outcome.name, []) for o in catalog.outcomes}
    for r in results:
        ind = catalog.get(r.metric).indicator
        key = root_outcome(catalog, r.metric)
        group = groups.setdefault(key, ScorecardGroup(key, key, []))
        arrow, good = trend(r.value, r.previous, ind.direction)
        group.rows.append(ScorecardRow(r.metric, ind.name, r.group, r.value, r.previous, r.status, ind.unit,
                                       ind.direction, arrow, good, ind.guardrail, r.period_start.isoformat(),
                                       r.period_end.isoformat(), r.low, r.high))
    return [g for g in groups.values() if g.rows]
