"""Which deployment caused an incident: the link change failure rate counts (DORA), in portable Ibis.

Semantics of `link_incidents_to_deployments` (one row per linked incident; an incident without a link has no
row):

- Impact start = `impact_started_at`, else `declared_at` (`engmetrics.slo.incidents_window.incident_window`).
- An explicit `caused_by_deployment_id` wins: rule ``explicit``, whatever its time (the id is taken as
  recorded, even when `deployments` has no such row).
- Otherwise the candidates are the **production** deployments (any status; `environment` one of
  `environments`, compared lower-cased: ``Production`` is ``production``) that started within the window
  before impact start, edges included: ``start - window_hours <= started_at <= start``. With
  ``match="service"`` only deployments of the incident's own service count (rule ``service``); with
  ``match="dependency"`` also those of its dependencies in both directions of `services.depends_on`: a
  service the incident's service calls, or one that calls it (rule ``dependency``).
- The latest candidate wins; on equal start times the incident's own service before a dependency, then the
  smaller `deployment_id`. An incident without a service (or with no candidate) is not linked.

`related_services` is the dependency relation both ways, reused by `correlate`. Only expressions DuckDB and
PySpark both compile are used (`unnest`, an inequality join, `row_number`, interval arithmetic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

from ..slo.incidents_window import incident_window
from ..store import Store

__all__ = ["PRODUCTION", "link_incidents_to_deployments", "related_services"]

PRODUCTION = "production"


def related_services(store: Store) -> ir.Table:
    """``(service, related, relation)``: `related` is called by `service` (relation ``depends_on``) or calls it
    (``dependent``), from `services.depends_on`; a service listed as its own dependency is left out."""
    s = store.table("services")
    edges = s.select(service=s.service, related=s.depends_on.unnest())
    edges = edges.filter(edges.related.notnull() & (edges.related != edges.service))
    callees = edges.select("service", "related", relation=ibis.literal("depends_on"))
    callers = edges.select(service=edges.related, related=edges.service, relation=ibis.literal("dependent"))
    return callees.union(callers, distinct=True)


def link_incidents_to_deployments(store: Store, *, window_hours: float,
                                  match: Literal["service", "dependency"] = "service",
                                  environments: Sequence[str] = (PRODUCTION,)) -> ir.Table:
    """``(incident_id, deployment_id, rule)``: the deployment each incident is attributed to (see module doc);
    deployments to any of `environments` (the production ones) are candidates."""
    if match not in ("service", "dependency"):
        raise ValueError(f"match must be 'service' or 'dependency', not {match!r}")
    inc = store.table("incidents")
    explicit = inc.filter(inc.caused_by_deployment_id.notnull()).select(
        "incident_id", deployment_id=inc.caused_by_deployment_id, rule=ibis.literal("explicit"))
    open_ = inc.filter(inc.caused_by_deployment_id.isnull() & inc.service.notnull())
    open_ = open_.select("incident_id", "service", _start=incident_window(open_, None)[0])
    targets = open_.select("incident_id", "_start", _target=open_.service, rule=ibis.literal("service"),
                           _pref=ibis.literal(0))
    if match == "dependency":
        rel = related_services(store)
        dep = open_.join(rel, open_.service == rel.service)
        dep = dep.select("incident_id", "_start", _target=dep.related, rule=ibis.literal("dependency"),
                         _pref=ibis.literal(1))
        targets = targets.union(dep, distinct=True)
    d = store.table("deployments")
    d = d.filter(d.environment.lower().isin([e.lower() for e in environments]))
    window = ibis.interval(seconds=round(window_hours * 3600))
    j = targets.join(d, (targets._target == d.service) & (d.started_at <= targets._start)
                     & (d.started_at >= targets._start - window))
    rank = ibis.row_number().over(group_by=j.incident_id,
                                  order_by=[ibis.desc(j.started_at), j._pref, j.deployment_id])
    linked = j.mutate(_rank=rank).filter(lambda t: t._rank == 0)
    return explicit.union(linked.select("incident_id", "deployment_id", "rule"))
