"""Which indicator results a request may see: its teams' rows only, of indicators over data it may read.

- **Team scope.** A team-member sees per-team results of its own teams only. A result is per-team when its
  indicator groups by the `team` column, or when it is individual-level over a person column
  (`engmetrics.governance.board.needs_approval` and a `governance.privacy.person_column`): those are
  published per team whatever their `group_by` says. Results with no group, or grouped by anything else
  (a service, a repo), are organisation data every reader sees.
- **Access policy.** Results of an indicator derived from a dataset the request may not read
  (`engmetrics.governance.access.indicator_datasets`, `ReadAccess.may`) are left out; the audited datasets
  behind the rest are returned, for the caller to audit once per request (`ReadAccess.record_derived`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..catalog.evaluate import MetricResult
from ..catalog.loader import Catalog
from ..catalog.model import Calculation, Indicator
from ..governance import access as data_access  # a module: it imports this package (Principal)
from ..governance.board import needs_approval
from ..governance.privacy import person_column
from .roles import Principal

if TYPE_CHECKING:
    from ..governance.access import ReadAccess

__all__ = ["TEAM_COLUMN", "per_team", "readable_metrics", "readable_results", "visible_results"]

TEAM_COLUMN = "team"


def per_team(indicator: Indicator) -> bool:
    """Whether `indicator`'s grouped results are per team (module doc)."""
    calc = indicator.calculation
    if not isinstance(calc, Calculation):
        return False
    return calc.group_by == TEAM_COLUMN or (needs_approval(indicator) and person_column(calc) is not None)


def visible_results(principal: Principal, catalog: Catalog, results: list[MetricResult]) -> list[MetricResult]:
    """The results `principal`'s teams let it see, in their order."""
    teamed = {m: per_team(catalog.get(m).indicator) for m in {r.metric for r in results}}
    return [r for r in results if r.group is None or not teamed[r.metric] or principal.sees_team(r.group)]


def readable_metrics(access: ReadAccess, catalog: Catalog, metrics: set[str]) -> tuple[set[str], list[str]]:
    """Those of `metrics` whose indicators read only datasets `access` may read, and the audited datasets
    behind them (sorted): audit them with `access.record_derived` before the answer leaves."""
    reads = {m: data_access.indicator_datasets(catalog.get(m).indicator) for m in metrics}
    allowed = {m for m, datasets in reads.items() if all(access.may(d) for d in datasets)}
    return allowed, access.audited_of(d for m in allowed for d in reads[m])


def readable_results(access: ReadAccess, catalog: Catalog, results: list[MetricResult]
                     ) -> tuple[list[MetricResult], list[str]]:
    """The results `access` may see (its principal's teams, indicators over datasets it may read), in their
    order, and the audited datasets they are derived from (sorted)."""
    kept = visible_results(access.principal, catalog, results)
    allowed, audited = readable_metrics(access, catalog, {r.metric for r in kept})
    return [r for r in kept if r.metric in allowed], audited
