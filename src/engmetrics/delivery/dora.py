"""DORA software delivery metrics per group, with bands from a published DORA table.

**Production deployments**: `deployments` whose `environment` is one of `settings.production_environments`
(several count: ``production-eu`` and ``production-us`` are two deployments). The period is
``start <= started_at < end`` (UTC); a metric counts the deployments (or changes shipped by deployments)
that started in it. Flags are computed over all rows, so a rollback or a linked incident just after the
period still marks a deployment inside it.

- **Deployments** (`deployments`): successful (`status = 'success'`) production deployments in the period.
- **Deployment frequency**: `per_day` = deployments / period days; `deploy_days_per_week` = distinct UTC
  dates with at least one deployment / (period days / 7). Band of `per_day`.
- **Change lead time**: per change shipped in the period, from its `settings.lead_time_start` column
  (`first_commit_at`, `created_at` or `ready_at`; null falls back to `created_at`) to the end of the first
  successful production deployment that shipped it (`finished_at`, else `started_at`), in hours; the link is
  `engmetrics.delivery.change_links` (rules `change_ids`, `merge_commit`, `commit_range`; counts per rule in
  `links`). Bot changes (`is_bot`) and negative durations (a data error) are left out. p50 and p90
  (`engmetrics.quantiles.percentile`) with percentile-bootstrap 95 % intervals (`engmetrics.incidents.bootstrap`)
  and n. Lead time is about people's work: a group whose changes have fewer distinct authors than
  `min_group_size` shows n but no percentiles (`suppressed: true`). Band of p50.
- **Change fail rate**: `failed` / `total`, `total` = deployments; a deployment failed when it caused an
  incident (`engmetrics.incidents.linking.link_incidents_to_deployments` with `deploy_window_hours`: an explicit
  `incidents.caused_by_deployment_id` wins, otherwise the time rule of that module) or was rolled back: the
  deployment a successful `is_rollback` production deployment rolled back is the latest earlier successful,
  non-rollback production deployment of the same service and environment ("earlier" in ``(started_at,
  deployment_id)`` order, so two deployments started in the same instant still have one order). None when
  total is 0.
- **Failed deployment recovery time**: per failed deployment in the period (status `failure`, or failed as
  above), from its end (`finished_at`, else `started_at`) to the end of the next successful production
  deployment of the same service and environment after it (in the same order), in hours; p50/p90 with intervals and
  n; failed deployments not yet followed by one are counted in `unrecovered`. Band of p50.
- **Deployment rework rate** (DORA 2024): deployments made because of a production incident
  (`fixes_incident_id` not null, or `is_hotfix`) / deployments. The shipped tables publish no per-level rework
  value, so its band is None.

**Groups**: one group ``all``, or `by="service"`, or `by="team"` (`services.team`; a service missing there is
``(no team)``). **Scope**: `service`, `team`, `repo` (changes of that repository), `path_prefix` (changes whose
merge commit touched a `commit_files` path starting with the prefix: monorepos). With `repo` or `path_prefix`
lead time counts only in-scope changes and a deployment is in scope when it shipped at least one of them.

Counting happens in Ibis; the per-group lead and recovery durations are fetched (small arrays) and summarised
in numpy. Bands: `engmetrics.delivery.benchmarks.band`.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..incidents.bootstrap import bootstrap
from ..incidents.linking import link_incidents_to_deployments
from ..quantiles import percentile
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import as_utc
from .benchmarks import BenchmarkTable, band, load_benchmark
from .change_links import DEFAULT_LOOKBACK_DAYS, RULES, link_changes_to_deployments, production_deployments

__all__ = ["GROUPINGS", "LEAD_TIME_STARTS", "DoraGroup", "DoraScope", "Durations", "deployment_flags",
           "dora_metrics"]

GROUPINGS = ("team", "service")
LEAD_TIME_STARTS = ("first_commit_at", "created_at", "ready_at")
NO_TEAM = "(no team)"


@dataclass(frozen=True)
class DoraScope:
    """Which deployments and changes count (None = no restriction)."""

    service: str | None = None
    team: str | None = None
    repo: str | None = None
    path_prefix: str | None = None


@dataclass(frozen=True)
class Durations:
    """p50 / p90 hours of a sample with bootstrap 95 % intervals and the band of p50."""

    n: int
    p50_hours: float | None = None
    p90_hours: float | None = None
    ci95_p50: tuple[float, float] | None = None
    ci95_p90: tuple[float, float] | None = None
    band: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"p50_hours": self.p50_hours, "p90_hours": self.p90_hours, "n": self.n, "band": self.band,
                "ci95_p50": list(self.ci95_p50) if self.ci95_p50 else None,
                "ci95_p90": list(self.ci95_p90) if self.ci95_p90 else None, **self.extra}


@dataclass(frozen=True)
class DoraGroup:
    """The DORA metrics of one group (see the module doc); `to_dict` is the `--json` contract."""

    group: str
    deployments: int
    per_day: float
    deploy_days_per_week: float
    deploy_days: int
    failed: int
    rework: int
    lead_time: Durations
    recovery_time: Durations
    table: BenchmarkTable

    def _rate(self, count: int) -> float | None:
        return count / self.deployments if self.deployments else None

    def to_dict(self) -> dict[str, object]:
        cfr, rework = self._rate(self.failed), self._rate(self.rework)
        return {
            "group": self.group, "deployments": self.deployments, "benchmark": self.table.id,
            "deployment_frequency": {"per_day": self.per_day, "deploy_days_per_week": self.deploy_days_per_week,
                                     "deploy_days": self.deploy_days,
                                     "band": band(self.table, "deployment_frequency", self.per_day)},
            "lead_time": self.lead_time.to_dict(),
            "change_fail_rate": {"value": cfr, "failed": self.failed, "total": self.deployments,
                                 "band": band(self.table, "change_fail_rate", cfr)},
            "recovery_time": self.recovery_time.to_dict(),
            "rework_rate": {"value": rework, "rework": self.rework, "band": band(self.table, "rework_rate", rework)},
        }


def _hours(end: ir.Value, start: ir.Value) -> ir.Value:
    return (end.epoch_seconds() - start.epoch_seconds()).cast("float64") / 3600.0


def _with_counts(prod: ir.Table, **members: ir.BooleanValue) -> ir.Table:
    """Add, per keyword, a running count of its members among the deployments of the same service and
    environment in ``(started_at, deployment_id)`` order, this row included. On a member row it is the member's
    rank (1-based); on any row it counts the members up to it. "The latest member before" and "the next member
    after" a deployment are then equi-joins on that count instead of inequality joins."""
    upto = ibis.window(group_by=[prod.service, prod.environment], order_by=[prod.started_at, prod.deployment_id],
                       preceding=None, following=0)
    return prod.mutate(**{name: member.cast("int64").sum().over(upto) for name, member in members.items()})


def _rolled_back(prod: ir.Table) -> ir.Table:
    """``(deployment_id)`` of the deployments a successful rollback rolled back (see the module doc): the target
    whose rank is the number of targets before the rollback."""
    ok = prod.status == "success"
    rollback = prod.is_rollback.fill_null(False)
    t = _with_counts(prod.mutate(_rollback=ok & rollback, _target=ok & ~rollback), _targets=ok & ~rollback)
    rollbacks = t.filter(t._rollback).select(_svc="service", _env="environment", _k="_targets")
    targets = t.filter(t._target)
    j = targets.join(rollbacks, (targets.service == rollbacks._svc) & (targets.environment == rollbacks._env)
                     & (targets._targets == rollbacks._k))
    return j.select("deployment_id").distinct()


def deployment_flags(store: Store, settings: DeliverySettings, *, deploy_window_hours: float) -> ir.Table:
    """Production deployments (all statuses, all times) with `team`, `caused_incident`, `rolled_back`,
    `failed` (successful and caused an incident or was rolled back), `failed_state` (`failed` or status
    failure), `rework` (successful, `fixes_incident_id` or `is_hotfix`) and `ended_at`."""
    prod = production_deployments(store, settings.production_environments)
    caused = link_incidents_to_deployments(store, window_hours=deploy_window_hours,
                                           environments=settings.production_environments).select("deployment_id")
    rolled = _rolled_back(prod)
    s = store.table("services")
    s = s.select(_svc=s.service, team=s.team)
    d = prod.left_join(s, prod.service == s._svc).drop("_svc")
    ok = d.status == "success"
    d = d.mutate(team=d.team.fill_null(NO_TEAM), caused_incident=d.deployment_id.isin(caused.deployment_id),
                 rolled_back=d.deployment_id.isin(rolled.deployment_id),
                 rework=ok & (d.fixes_incident_id.notnull() | d.is_hotfix.fill_null(False)),
                 ended_at=d.finished_at.fill_null(d.started_at))
    d = d.mutate(failed=ok & (d.caused_incident | d.rolled_back))
    d = d.mutate(failed_state=d.failed | (d.status == "failure"))
    return _with_counts(d, successes=d.status == "success")


def _scoped_changes(store: Store, scope: DoraScope) -> ir.Table:
    c = store.table("changes")
    c = c.filter(c.merged_at.notnull() & ~c.is_bot.fill_null(False))
    if scope.repo is not None:
        c = c.filter(c.repo == scope.repo)
    if scope.path_prefix is not None:
        f = store.table("commit_files")
        touched = f.filter(f.path.startswith(scope.path_prefix)).select(_sha="sha", _repo="repo").distinct()
        c = c.semi_join(touched, (c.merge_commit_sha == touched._sha) & (c.repo == touched._repo))
    return c


def _group_key(t: ir.Table, by: str | None) -> ir.Value:
    return ibis.literal("all") if by is None else t[by].cast("string")


def _summary(values: np.ndarray, table: BenchmarkTable, metric: str, extra: dict[str, object]) -> Durations:
    """Percentiles and intervals of one group's durations (numpy on a small array)."""
    if not len(values):
        return Durations(0, extra=extra)
    ci = bootstrap(values)
    p50 = percentile(values, 0.5)
    return Durations(len(values), p50, percentile(values, 0.9), ci.median, ci.p90, band(table, metric, p50), extra)


def _fetch(t: ir.Table) -> list[dict]:
    return t.to_pyarrow().to_pylist()


def _values(durations: pa.Table, group: str) -> np.ndarray:
    """The `hours` of one group, from the fetched ``(group, hours)`` table."""
    return durations.filter(pc.equal(durations["group"], group))["hours"].to_numpy(zero_copy_only=False)


def dora_metrics(store: Store, settings: DeliverySettings, *, start: datetime, end: datetime,
                 by: Literal["team", "service"] | None = None, benchmark: str = "2024",
                 scope: DoraScope | None = None, deploy_window_hours: float = 2.0,
                 lookback_days: float = DEFAULT_LOOKBACK_DAYS, min_group_size: int = 5) -> list[DoraGroup]:
    """DORA metrics per group for deployments started in ``[start, end)`` (see the module doc), sorted by group.

    >>> from datetime import UTC
    >>> dora_metrics(Store.open("duckdb://"), DeliverySettings(), start=datetime(2026, 1, 1, tzinfo=UTC),
    ...              end=datetime(2026, 2, 1, tzinfo=UTC))
    []
    """
    if by is not None and by not in GROUPINGS:
        raise InputError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    if settings.lead_time_start not in LEAD_TIME_STARTS:
        raise InputError(f"delivery.lead_time_start must be one of {', '.join(LEAD_TIME_STARTS)}")
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise InputError("the period's end must be after its start")
    scope, table = scope or DoraScope(), load_benchmark(benchmark)
    with ExitStack() as cached:  # temporary tables, each computed once and read by several queries
        every = cached.enter_context(deployment_flags(store, settings, deploy_window_hours=deploy_window_hours)
                                     .cache())
        d = every.filter((every.started_at >= start) & (every.started_at < end))
        for column, value in (("service", scope.service), ("team", scope.team)):
            if value is not None:
                d = d.filter(d[column] == value)
        changes = _scoped_changes(store, scope)
        links = link_changes_to_deployments(store, production_environments=settings.production_environments,
                                            lookback_days=lookback_days)
        if scope.repo is not None or scope.path_prefix is not None:
            d = d.semi_join(links.semi_join(changes, "change_id"), "deployment_id")
        d = d.mutate(group=_group_key(d, by))
        counts = _deploy_counts(d)
        lead = _lead_times(cached.enter_context(_lead_sample(d, changes, links, settings.lead_time_start).cache()))
        recovery = _recovery_times(d, every)
    days = (end - start).total_seconds() / 86400
    return [_group(g, counts.get(g, {}), lead, recovery, days, table, min_group_size)
            for g in sorted(set(counts) | set(recovery["open"]))]


def _deploy_counts(d: ir.Table) -> dict[str, dict]:
    ok = d.filter(d.status == "success")
    rows = ok.group_by("group").aggregate(
        deployments=ok.count(), failed=ok.failed.cast("int64").sum(), rework=ok.rework.cast("int64").sum(),
        deploy_days=ok.started_at.date().nunique())
    return {r["group"]: r for r in _fetch(rows)}


def _lead_sample(d: ir.Table, changes: ir.Table, links: ir.Table, start_column: str) -> ir.Table:
    """``(group, rule, author, hours)``: one row per in-scope change shipped by a successful deployment of `d`."""
    ok = d.filter(d.status == "success").select("deployment_id", "group", "ended_at")
    c = changes.select("change_id", "author", _from=changes[start_column].fill_null(changes.created_at))
    j = links.join(ok, "deployment_id").join(c, "change_id")
    j = j.select("group", "rule", "author", hours=_hours(j.ended_at, j._from))
    return j.filter(j.hours >= 0)


def _lead_times(sample: ir.Table) -> dict[str, object]:
    per_rule = sample.group_by(["group", "rule"]).aggregate(n=sample.count())
    authors = sample.group_by("group").aggregate(authors=sample.author.nunique())
    return {"values": sample.select("group", "hours").to_pyarrow(), "rules": _fetch(per_rule),
            "authors": {r["group"]: r["authors"] for r in _fetch(authors)}}


def _recovery_times(d: ir.Table, every: ir.Table) -> dict[str, object]:
    """Hours from each failed deployment in `d` to the end of the next success in `every` (same service and
    environment, next in ``(started_at, deployment_id)`` order: the success ranked one above the successes up
    to the failure)."""
    failed = d.filter(d.failed_state).select(_svc="service", _env="environment", _k=d.successes + 1,
                                             _end="ended_at", group="group")
    nxt = every.filter(every.status == "success").select("service", "environment", "successes", "ended_at")
    j = failed.join(nxt, (nxt.service == failed._svc) & (nxt.environment == failed._env)
                    & (nxt.successes == failed._k))
    hours = _hours(j.ended_at, j._end)
    j = j.select("group", hours=(hours < 0).ifelse(0.0, hours))
    opened = failed.group_by("group").aggregate(n=failed.count())
    return {"values": j.to_pyarrow(), "open": {r["group"]: r["n"] for r in _fetch(opened)}}


def _group(g: str, counts: dict, lead: dict, recovery: dict, days: float, table: BenchmarkTable,
           min_group_size: int) -> DoraGroup:
    deployments = int(counts.get("deployments") or 0)
    lead_values = _values(lead["values"], g)  # type: ignore[arg-type]
    rules = {rule: 0 for rule in RULES} | {r["rule"]: r["n"] for r in lead["rules"] if r["group"] == g}  # type: ignore[union-attr]
    suppressed = len(lead_values) > 0 and lead["authors"].get(g, 0) < min_group_size  # type: ignore[union-attr]
    lead_time = (Durations(len(lead_values), extra={"links": rules, "suppressed": True}) if suppressed else
                 _summary(lead_values, table, "lead_time", {"links": rules, "suppressed": False}))
    rec_values = _values(recovery["values"], g)  # type: ignore[arg-type]
    unrecovered = recovery["open"].get(g, 0) - len(rec_values)  # type: ignore[union-attr]
    return DoraGroup(g, deployments, deployments / days, int(counts.get("deploy_days") or 0) / (days / 7),
                     int(counts.get("deploy_days") or 0), int(counts.get("failed") or 0),
                     int(counts.get("rework") or 0), lead_time,
                     _summary(rec_values, table, "recovery_time", {"unrecovered": unrecovered}), table)
