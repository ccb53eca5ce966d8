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

**Period over period** (`previous` of each group): the same group and scope over the period of the same length
just before, ``[start - (end - start), start)``: its deployments; `deployment_frequency.per_day`, change fail rate
and rework rate, each with `change` = current - previous (None when either is None); and the p50 and n of lead time
and recovery time with the comparison of `engmetrics.incidents.bootstrap.compare_medians` (`change` = current p50 -
previous p50, its 95 % interval `ci95_change`, the minimum detectable effect `mde`, `within_noise` when the
interval contains 0, `detectable` when |change| >= mde; with fewer than 2 values in either period only `change`;
above `LARGE_SAMPLE` values from order-statistic intervals instead of resampling, see that module). A lead-time
p50 is shown only for a period whose changes have at least `min_group_size` authors, and its comparison only when
both periods have. The groups listed are the
current period's; a group without data in the previous period has zero counts and None values there.

**One definition.** `deployment_flags` (per-deployment flags), `shipped_changes` (the lead-time links) and
`lead_time_sample` (per-change lead times keyed by any columns) are public so other views (the monthly guardrails of
`engmetrics.delivery.guardrails`) compute the same numbers. Counting happens in Ibis; the per-group lead and recovery
durations are fetched (small arrays) and summarised in numpy. Bands: `engmetrics.delivery.benchmarks.band`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from ..errors import InputError
from ..incidents.bootstrap import MedianComparison, bootstrap, compare_medians
from ..incidents.linking import link_incidents_to_deployments
from ..quantiles import percentile
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import as_utc, hours_between
from .benchmarks import BenchmarkTable, band, load_benchmark
from .change_links import DEFAULT_LOOKBACK_DAYS, RULES, link_changes_to_deployments, production_deployments

__all__ = ["GROUPINGS", "LEAD_TIME_STARTS", "NO_TEAM", "DoraGroup", "DoraScope", "Durations", "PreviousPeriod",
           "deployment_flags", "dora_metrics", "lead_time_sample", "shipped_changes"]

GROUPINGS = ("team", "service")
LEAD_TIME_STARTS: tuple[str, ...] = get_args(DeliverySettings.model_fields["lead_time_start"].annotation)
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
class PreviousPeriod:
    """A group's counts over the period of the same length just before, and the comparison of its medians
    (see the module doc). `lead_time` is None when either period's lead time is suppressed."""

    start: datetime
    end: datetime
    deployments: int
    failed: int
    rework: int
    lead_n: int
    lead_p50: float | None
    lead_suppressed: bool
    lead_time: MedianComparison | None
    recovery_time: MedianComparison

    @property
    def per_day(self) -> float:
        return self.deployments / ((self.end - self.start).total_seconds() / 86400)


def _ratio(count: int, total: int) -> float | None:
    return count / total if total else None


def _diff(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous is None else current - previous


def _median_change(c: MedianComparison | None) -> dict[str, object]:
    if c is None:
        return {"change": None, "ci95_change": None, "mde": None, "within_noise": None, "detectable": None}
    return {"change": c.change, "ci95_change": list(c.ci95_change) if c.ci95_change else None, "mde": c.mde,
            "within_noise": c.within_noise, "detectable": c.detectable}


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
    previous: PreviousPeriod

    def to_dict(self) -> dict[str, object]:
        cfr, rework = _ratio(self.failed, self.deployments), _ratio(self.rework, self.deployments)
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
            "previous": self._previous(cfr, rework),
        }

    def _previous(self, cfr: float | None, rework: float | None) -> dict[str, object]:
        p = self.previous
        p_cfr, p_rework = _ratio(p.failed, p.deployments), _ratio(p.rework, p.deployments)
        return {
            "start": p.start.isoformat(), "end": p.end.isoformat(), "deployments": p.deployments,
            "deployment_frequency": {"per_day": p.per_day, "change": self.per_day - p.per_day},
            "change_fail_rate": {"value": p_cfr, "failed": p.failed, "total": p.deployments,
                                 "change": _diff(cfr, p_cfr)},
            "rework_rate": {"value": p_rework, "rework": p.rework, "change": _diff(rework, p_rework)},
            "lead_time": {"p50_hours": p.lead_p50, "n": p.lead_n, "suppressed": p.lead_suppressed,
                          **_median_change(p.lead_time)},
            "recovery_time": {"p50_hours": p.recovery_time.previous_p50, "n": p.recovery_time.n_previous,
                              **_median_change(p.recovery_time)},
        }


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
    """Production deployments (all statuses, all times) with `team` (`NO_TEAM` when its service has none),
    `caused_incident`, `rolled_back`, `failed` (successful and caused an incident or was rolled back),
    `failed_state` (`failed` or status failure), `rework` (successful, `fixes_incident_id` or `is_hotfix`),
    `ended_at` and `successes` (successes of the same service and environment up to this one)."""
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


def shipped_changes(store: Store, settings: DeliverySettings, *, scope: DoraScope | None = None,
                    lookback_days: float = DEFAULT_LOOKBACK_DAYS) -> ir.Table:
    """``(change_id, deployment_id, rule, author, lead_from)``: each merged, non-bot change in `scope` with the first
    successful production deployment that shipped it (`engmetrics.delivery.change_links`) and the instant its lead
    time starts (its `settings.lead_time_start` column, null: `created_at`)."""
    c = _scoped_changes(store, scope or DoraScope())
    c = c.select("change_id", "author", lead_from=c[settings.lead_time_start].fill_null(c.created_at))
    links = link_changes_to_deployments(store, production_environments=settings.production_environments,
                                        lookback_days=lookback_days)
    return links.join(c, "change_id")


def lead_time_sample(deployments: ir.Table, shipped: ir.Table, keys: Sequence[str]) -> ir.Table:
    """``(*keys, rule, author, hours)``: one row per change of `shipped` (`shipped_changes`) whose deployment is a
    successful one of `deployments` (rows of `deployment_flags` carrying the `keys` columns), from its `lead_from`
    to the deployment's `ended_at`, in hours; negative durations (a data error) are left out."""
    ok = deployments.filter(deployments.status == "success").select("deployment_id", "ended_at", *keys)
    j = shipped.join(ok, "deployment_id")
    j = j.select(*keys, "rule", "author", hours=hours_between(j.ended_at, j.lead_from))
    return j.filter(j.hours >= 0)


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


def _keyed(t: ir.Table) -> dict[tuple[str, bool], dict]:
    return {(r["group"], r["current"]): r for r in _fetch(t)}


def _samples(durations: pa.Table) -> dict[tuple[str, bool], np.ndarray]:
    """The `hours` of each ``(group, current)`` of a fetched ``(group, current, hours)`` table."""
    lists = durations.group_by(["group", "current"]).aggregate([("hours", "list")])
    return {(g, c): h.values.to_numpy(zero_copy_only=False) for g, c, h in
            zip(lists["group"].to_pylist(), lists["current"].to_pylist(), lists["hours_list"], strict=True)}


def dora_metrics(store: Store, settings: DeliverySettings, *, start: datetime, end: datetime,
                 by: Literal["team", "service"] | None = None, benchmark: str = "2024",
                 scope: DoraScope | None = None, deploy_window_hours: float = 2.0,
                 lookback_days: float = DEFAULT_LOOKBACK_DAYS, min_group_size: int = 5) -> list[DoraGroup]:
    """DORA metrics per group for deployments started in ``[start, end)``, each with the period of the same
    length before (see the module doc), sorted by group.

    >>> from datetime import UTC
    >>> dora_metrics(Store.open("duckdb://"), DeliverySettings(), start=datetime(2026, 1, 1, tzinfo=UTC),
    ...              end=datetime(2026, 2, 1, tzinfo=UTC))
    []
    """
    if by is not None and by not in GROUPINGS:
        raise InputError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise InputError("the period's end must be after its start")
    before = start - (end - start)
    scope, table = scope or DoraScope(), load_benchmark(benchmark)
    with ExitStack() as cached:  # temporary tables, each computed once and read by several queries
        every = cached.enter_context(deployment_flags(store, settings, deploy_window_hours=deploy_window_hours)
                                     .cache())
        d = every.filter((every.started_at >= before) & (every.started_at < end))
        for column, value in (("service", scope.service), ("team", scope.team)):
            if value is not None:
                d = d.filter(d[column] == value)
        shipped = shipped_changes(store, settings, scope=scope, lookback_days=lookback_days)
        if scope.repo is not None or scope.path_prefix is not None:
            d = d.semi_join(shipped, "deployment_id")
        d = d.mutate(group=_group_key(d, by), current=d.started_at >= start)
        counts = _deploy_counts(d)
        lead = _lead_times(cached.enter_context(lead_time_sample(d, shipped, ("group", "current")).cache()))
        recovery = _recovery_times(d, every)
    periods = _Periods(start, end, before, table, min_group_size)
    groups = {g for g, current in (*counts, *recovery["open"]) if current}  # type: ignore[misc]
    return [periods.group(g, counts, lead, recovery) for g in sorted(groups)]


def _deploy_counts(d: ir.Table) -> dict[tuple[str, bool], dict]:
    ok = d.filter(d.status == "success")
    return _keyed(ok.group_by(["group", "current"]).aggregate(
        deployments=ok.count(), failed=ok.failed.cast("int64").sum(), rework=ok.rework.cast("int64").sum(),
        deploy_days=ok.started_at.date().nunique()))


def _lead_times(sample: ir.Table) -> dict[str, object]:
    now = sample.filter(sample.current)
    per_rule = now.group_by(["group", "rule"]).aggregate(n=now.count())
    authors = sample.group_by(["group", "current"]).aggregate(authors=sample.author.nunique())
    return {"values": _samples(sample.select("group", "current", "hours").to_pyarrow()), "rules": _fetch(per_rule),
            "authors": {k: r["authors"] for k, r in _keyed(authors).items()}}


def _recovery_times(d: ir.Table, every: ir.Table) -> dict[str, object]:
    """Hours from each failed deployment in `d` to the end of the next success in `every` (same service and
    environment, next in ``(started_at, deployment_id)`` order: the success ranked one above the successes up
    to the failure)."""
    failed = d.filter(d.failed_state).select(_svc="service", _env="environment", _k=d.successes + 1,
                                             _end="ended_at", group="group", current="current")
    nxt = every.filter(every.status == "success").select("service", "environment", "successes", "ended_at")
    j = failed.join(nxt, (nxt.service == failed._svc) & (nxt.environment == failed._env)
                    & (nxt.successes == failed._k))
    hours = hours_between(j.ended_at, j._end)
    j = j.select("group", "current", hours=(hours < 0).ifelse(0.0, hours))
    opened = failed.group_by(["group", "current"]).aggregate(n=failed.count())
    return {"values": _samples(j.to_pyarrow()), "open": {k: r["n"] for k, r in _keyed(opened).items()}}


@dataclass(frozen=True)
class _Periods:
    """Assembles each group's `DoraGroup` from the fetched counts and samples of both periods."""

    start: datetime
    end: datetime
    before: datetime
    table: BenchmarkTable
    min_group_size: int

    def group(self, g: str, counts: dict, lead: dict, recovery: dict) -> DoraGroup:
        now, then = counts.get((g, True), {}), counts.get((g, False), {})
        lead_now, lead_then = _pair(lead["values"], g)
        hidden_now, hidden_then = (len(v) > 0 and lead["authors"].get((g, c), 0) < self.min_group_size
                                   for v, c in ((lead_now, True), (lead_then, False)))
        rules = {rule: 0 for rule in RULES} | {r["rule"]: r["n"] for r in lead["rules"] if r["group"] == g}
        lead_time = (Durations(len(lead_now), extra={"links": rules, "suppressed": True}) if hidden_now else
                     _summary(lead_now, self.table, "lead_time", {"links": rules, "suppressed": False}))
        rec_now, rec_then = _pair(recovery["values"], g)
        unrecovered = recovery["open"].get((g, True), 0) - len(rec_now)
        previous = PreviousPeriod(
            self.before, self.start, *(int(then.get(k) or 0) for k in ("deployments", "failed", "rework")),
            lead_n=len(lead_then), lead_p50=None if hidden_then else percentile(lead_then, 0.5),
            lead_suppressed=hidden_then,
            lead_time=None if hidden_now or hidden_then else compare_medians(lead_then, lead_now),
            recovery_time=compare_medians(rec_then, rec_now))
        days = (self.end - self.start).total_seconds() / 86400
        deployments, deploy_days = int(now.get("deployments") or 0), int(now.get("deploy_days") or 0)
        return DoraGroup(g, deployments, deployments / days, deploy_days / (days / 7), deploy_days,
                         int(now.get("failed") or 0), int(now.get("rework") or 0), lead_time,
                         _summary(rec_now, self.table, "recovery_time", {"unrecovered": unrecovered}), self.table,
                         previous)


def _pair(samples: dict[tuple[str, bool], np.ndarray], g: str) -> tuple[np.ndarray, np.ndarray]:
    """Group `g`'s (current, previous) values; empty arrays for a period without any."""
    return samples.get((g, True), np.empty(0)), samples.get((g, False), np.empty(0))
