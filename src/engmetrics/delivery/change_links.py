"""Which production deployment first shipped each merged change: the link lead time for changes needs, in
portable Ibis. It survives squash and rebase merges, where the commits of the change are not on the main branch.

Candidates are the **successful production** deployments (`environment` one of the given production environments,
ignoring case: ``Production`` is ``production``; `status = 'success'`) and the **merged** changes (`merged_at` not
null). A change is linked to a deployment by:

1. ``change_ids``: the deployment's `change_ids` list names the change (the id is taken as recorded, whatever
   the times);
2. ``merge_commit``: the deployment's `commit_sha` equals the change's `merge_commit_sha` (a squash or merge
   commit that was deployed as such);
3. ``commit_range``: only for deployments without a `change_ids` list (null or empty): the change belongs to
   the deployment's service and merged after the previous successful deployment of the same service and
   environment and at or before this deployment's start: ``previous.started_at < merged_at <= started_at``.
   A change's service is `service_key`: its `service`, or when that is null or empty the last path part of
   its `repo` (``acme/shop`` -> ``shop``, which is also the name the GitHub and GitLab connectors give the
   changes and deployments of a repository, see `engmetrics.delivery.connectors.common`); services are
   compared trimmed and lower-cased, environments lower-cased. A service's first deployment in an
   environment has no previous one; it takes only the changes merged within the lookback before its start,
   ``started_at - lookback_days < merged_at <= started_at`` (default 14 days, `DEFAULT_LOOKBACK_DAYS`), so
   it does not swallow the whole history. This is what covers rebase merges, whose deployed commit is a
   rewritten one that no change records.

Each change keeps one link: explicit evidence (rules 1 and 2) before the commit range (rule 3); within that,
the earliest deployment (`started_at`), then rule order, then the smaller `deployment_id`. With several
production environments (``production-eu``, ``production-us``) this is the first environment it reached.

Only expressions DuckDB and PySpark both compile are used (`unnest`, `lag`, an inequality join,
`row_number`, interval arithmetic, `lower`, `strip`, `re_extract`).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ..store import Store

__all__ = ["DEFAULT_LOOKBACK_DAYS", "RULES", "link_changes_to_deployments", "production_deployments", "service_key"]

DEFAULT_LOOKBACK_DAYS = 14
RULES = ("change_ids", "merge_commit", "commit_range")


def production_deployments(store: Store, environments: Sequence[str]) -> ir.Table:
    """Deployments (any status) to one of the production `environments`, compared lower-cased."""
    if not environments:
        raise ValueError("at least one production environment is needed")
    d = store.table("deployments")
    return d.filter(d.environment.lower().isin([e.lower() for e in environments]))


def service_key(changes: ir.Table) -> ir.StringValue:
    """The service a change belongs to for the commit-range rule, lower-cased (module doc, rule 3)."""
    named = changes.service.strip().nullif("")
    return named.coalesce(changes.repo.re_extract(r"([^/]+)/*$", 1)).strip().lower()


def _candidate(t: ir.Table, rule: str) -> ir.Table:
    tier = 1 if rule == "commit_range" else 0
    return t.select("change_id", "deployment_id", "started_at", rule=ibis.literal(rule),
                    _tier=ibis.literal(tier), _order=ibis.literal(RULES.index(rule)))


def _by_commit_range(deploys: ir.Table, changes: ir.Table, lookback_days: float) -> ir.Table:
    d = deploys.mutate(_service=deploys.service.strip().lower(), _env=deploys.environment.lower())
    previous = d.started_at.lag().over(group_by=[d._service, d._env], order_by=[d.started_at, d.deployment_id])
    lookback = ibis.interval(seconds=round(lookback_days * 86400))
    d = d.mutate(_after=previous.coalesce(d.started_at - lookback))
    d = d.filter(d.change_ids.isnull() | (d.change_ids.length() == 0))
    c = changes.select("change_id", "merged_at", _cservice=service_key(changes))
    j = d.join(c, (c._cservice == d._service) & (c.merged_at > d._after) & (c.merged_at <= d.started_at))
    return _candidate(j, "commit_range")


def link_changes_to_deployments(store: Store, *, production_environments: Sequence[str],
                                lookback_days: float = DEFAULT_LOOKBACK_DAYS) -> ir.Table:
    """``(change_id, deployment_id, rule)``: the first production deployment that shipped each change, and
    the rule (one of `RULES`) that linked them (see the module doc). Changes never shipped have no row."""
    d = production_deployments(store, production_environments)
    d = d.filter(d.status == "success").select("deployment_id", "service", "environment", "started_at",
                                               "commit_sha", "change_ids")
    changes = store.table("changes")
    changes = changes.filter(changes.merged_at.notnull())
    listed = d.select("deployment_id", "started_at", change_id=d.change_ids.unnest())
    listed = listed.join(changes.select("change_id"), "change_id")
    merged = d.join(changes.select("change_id", "merge_commit_sha"), d.commit_sha == changes.merge_commit_sha)
    candidates = _candidate(listed, "change_ids").union(_candidate(merged, "merge_commit")).union(
        _by_commit_range(d, changes, lookback_days))
    rank = ibis.row_number().over(group_by=candidates.change_id, order_by=[
        candidates._tier, candidates.started_at, candidates._order, candidates.deployment_id])
    first = candidates.mutate(_rank=rank).filter(lambda t: t._rank == 0)
    return first.select("change_id", "deployment_id", "rule")
