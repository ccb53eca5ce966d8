"""Team scope: a team-member sees per-team results of its own teams only.

A result is per-team when its indicator groups by the `team` column; results with no group, or grouped
by anything else (a service, a repo), are organisation data every reader sees.
"""

from __future__ import annotations

from ..catalog.evaluate import MetricResult
from ..catalog.loader import Catalog
from ..catalog.model import Calculation
from .roles import Principal

__all__ = ["TEAM_COLUMN", "visible_results"]

TEAM_COLUMN = "team"


def _per_team(catalog: Catalog, metric: str) -> bool:
    calc = catalog.get(metric).indicator.calculation
    return isinstance(calc, Calculation) and calc.group_by == TEAM_COLUMN


def visible_results(principal: Principal, catalog: Catalog, results: list[MetricResult]) -> list[MetricResult]:
    """The results `principal` may see, in their order."""
    return [r for r in results
            if r.group is None or not _per_team(catalog, r.metric) or principal.sees_team(r.group)]
