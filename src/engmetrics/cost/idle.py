"""Idle resources and rightsizing candidates from sustained utilisation, with estimated monthly savings.

**Window**: the `lookback_days` days before `end` (default 14), ``end - lookback_days <= ts < end`` (UTC), for
`utilization` samples and for `cost` rows (by `ChargePeriodStart`).

**Per resource** (`utilization.resource_id`, compared without regard to case, like `cost.ResourceId`: Azure cost
exports write ids in lower case, Azure Monitor in mixed case; a resource shows the utilisation's spelling, else the
bill's): `samples` = samples in the window with a `cpu_util`;
`p95_cpu` / `p95_mem` = exact 95th percentiles of `cpu_util` / `mem_util` over those samples, computed in the
engine (Ibis `quantile`: DuckDB `quantile_cont`, Spark `percentile`, both linear interpolation between closest
ranks, like `engmetrics.quantiles.percentile`; on ClickHouse `quantile` is approximate). Utilisation is a fraction
(0..1), like the dataset.

**Verdicts**, first that applies:

1. `young` (excluded, counted in `excluded_young`): the resource's first utilisation sample (ever, before
   `end`) is later than the window's start: it has not been watched for the whole lookback.
2. `insufficient_samples` (counted): fewer than `min_samples_per_day` x `lookback_days` samples (default one a
   day: 14).
3. `idle`: p95 CPU <= `idle_cpu_p95` (default 0.05).
4. `rightsize`: p95 CPU < `rightsize_cpu_p95` (0.40) and p95 memory < `rightsize_mem_p95` (0.50); a resource
   without memory samples is never a rightsizing candidate.
5. otherwise `ok` (counted in `evaluated` only).

Thresholds, `min_samples_per_day` and the savings share can be overridden per resource type
(`IdleSettings.by_resource_type`, keyed by `utilization.resource_type`, case-insensitive).

**Cost**: `cost` rows in the window with that `ResourceId` (any case), `EffectiveCost` summed (amortised: what
the resource really costs, commitments included), in `currency` (`engmetrics.cost.columns.currency`).
`monthly_cost` = that sum x 30 / `cost_days`, where the item's `cost_days` is the number of distinct UTC days in
the window on which the resource's provider (`ProviderName` of its cost rows) has any `cost` row: billing exports
lag, each provider by its own delay, and a day its export has not delivered yet must not read as a cheaper
resource. The report's `cost_days_by_provider` lists them; its `cost_days` is the days with any cost row. Savings:
`idle` saves the whole monthly cost (stop or delete it); `rightsize` saves `rightsize_savings` of it (default
0.5: one size down within an instance family halves the price at AWS, Azure and Google Cloud). A resource
without cost rows has `monthly_cost` and savings None.

**Unknown**: resources with cost in the window (a `ResourceId`, EffectiveCost != 0) but no utilisation sample
in it are listed in `unknown`, never called idle: engmetrics cannot tell (storage, networking, or an instance
without a monitoring agent).

**Team and service**: as cost allocation names them (`engmetrics.cost.allocation.resource_owners` over the
window): the allocation rules' owner rules, tag keys and fallbacks for the resource's cost rows, those of its
last day with cost when they changed, under the same names as `engmetrics cost allocate` shows (canonical from
`teams` / `services`, else the most common spelling). None when nothing names an owner, or the resource has no
cost rows in the window.

>>> from engmetrics.store import Store
>>> from datetime import datetime, UTC
>>> idle_resources(Store.open("duckdb://"), end=datetime(2026, 3, 1, tzinfo=UTC)).to_dict()["items"]
[]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from ..settings import IdleSettings
from ..store import Store
from ..timeutil import as_utc
from .allocation import resource_owners
from .allocation_rules import AllocationRules
from .columns import charges, currency

__all__ = ["IdleReport", "idle_resources"]

_NO_PROVIDER = "(none)"
_RULE_FIELDS = ("idle_cpu_p95", "rightsize_cpu_p95", "rightsize_mem_p95", "rightsize_savings",
                "min_samples_per_day")


@dataclass
class IdleReport:
    """Idle and rightsizing candidates (`items`, largest savings first), and what could not be judged."""

    start: datetime
    end: datetime
    lookback_days: int
    cost_days: int
    cost_days_by_provider: dict[str, int] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    evaluated: int = 0
    excluded_young: int = 0
    insufficient_samples: int = 0

    def savings_by_currency(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for i in self.items:
            if i["estimated_monthly_savings"] is not None:
                key = i["currency"] or "(none)"
                totals[key] = round(totals.get(key, 0.0) + i["estimated_monthly_savings"], 6)
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "lookback_days": self.lookback_days,
                "cost_days": self.cost_days, "cost_days_by_provider": self.cost_days_by_provider,
                "evaluated": self.evaluated, "excluded_young": self.excluded_young,
                "insufficient_samples": self.insufficient_samples, "items": self.items, "unknown": self.unknown,
                "estimated_monthly_savings": self.savings_by_currency()}


def _setting(resource_type: ir.StringValue, settings: IdleSettings, name: str) -> ir.Value:
    """The setting `name` for each row's resource type: the type's override, else the default."""
    kind = resource_type.lower()
    branches = [(kind == t.lower(), value) for t, rule in settings.by_resource_type.items()
                if (value := getattr(rule, name)) is not None]
    default = getattr(settings, name)
    return ibis.cases(*branches, else_=default) if branches else ibis.literal(default)


def _utilisation(store: Store, start: datetime, end: datetime) -> ir.Table:
    """Per resource (`_key`: lower-case id): its spelling, samples, percentiles and first sample ever."""
    u = store.table("utilization")
    u = u.filter(u.ts < end).mutate(_key=u.resource_id.lower())
    first = u.group_by("_key").aggregate(first_seen=u.ts.min())
    w = u.filter(u.ts >= start)
    stats = w.group_by("_key").aggregate(
        u_id=w.resource_id.max(), samples=w.cpu_util.count(), p95_cpu=w.cpu_util.quantile(0.95),
        p95_mem=w.mem_util.quantile(0.95), u_type=w.resource_type.max(), u_provider=w.provider.max(),
        u_region=w.region.max())
    return stats.join(first, "_key").select(stats, first.first_seen)


def _provider_days(store: Store, start: datetime, end: datetime) -> ir.Table:
    """Per provider (`_p`, "(none)" for a missing name): the distinct UTC days with cost rows in the window."""
    w = charges(store, start, end)
    return w.group_by(_p=w.ProviderName.fill_null(_NO_PROVIDER)).aggregate(
        cost_days=w.ChargePeriodStart.date().nunique())


def _costs(store: Store, rules: AllocationRules, start: datetime, end: datetime) -> ir.Table:
    """Per resource with cost rows (`_ckey`: lower-case id): its spelling, cost, currency, the bill's type,
    provider and region, its provider's `cost_days`, and its `team` and `service` (`resource_owners`)."""
    w = charges(store, start, end)
    r = w.filter(w.ResourceId.notnull() & (w.ResourceId != ""))
    costs = r.group_by(_ckey=r.ResourceId.lower()).aggregate(
        c_id=r.ResourceId.max(), cost=r.EffectiveCost.sum(), currency=currency(r).max(), c_type=r.ResourceType.max(),
        c_provider=r.ProviderName.max(), c_region=r.RegionId.max())
    days, owners = _provider_days(store, start, end), resource_owners(store, rules, start, end)
    joined = costs.left_join(days, costs.c_provider.fill_null(_NO_PROVIDER) == days._p).left_join(
        owners, costs._ckey == owners.resource_id)
    return joined.select(costs, days.cost_days, owners.team, owners.service)


def _judged(store: Store, settings: IdleSettings, rules: AllocationRules, days: int, end: datetime) -> ir.Table:
    start = end - timedelta(days=days)
    stats, costs = _utilisation(store, start, end), _costs(store, rules, start, end)
    t = stats.outer_join(costs, stats._key == costs._ckey)
    t = t.select(resource_id=t.u_id.coalesce(t.c_id), resource_type=t.u_type.coalesce(t.c_type),
                 provider=t.u_provider.coalesce(t.c_provider), region=t.u_region.coalesce(t.c_region),
                 samples=t.samples.coalesce(0), p95_cpu=t.p95_cpu, p95_mem=t.p95_mem, first_seen=t.first_seen,
                 cost=t.cost, currency=t.currency, cost_days=t.cost_days, team=t.team, service=t.service)
    rule = {name: _setting(t.resource_type, settings, name) for name in _RULE_FIELDS}
    verdict = ibis.cases(
        (t.samples == 0, "unknown"), (t.first_seen > start, "young"),
        (t.samples < rule["min_samples_per_day"] * days, "insufficient_samples"),
        (t.p95_cpu <= rule["idle_cpu_p95"], "idle"),
        ((t.p95_cpu < rule["rightsize_cpu_p95"]) & (t.p95_mem < rule["rightsize_mem_p95"]), "rightsize"),
        else_="ok")
    monthly = t.cost * 30.0 / t.cost_days
    share = ibis.cases((verdict == "idle", 1.0), (verdict == "rightsize", rule["rightsize_savings"]), else_=0.0)
    t = t.mutate(verdict=verdict, monthly_cost=monthly, estimated_monthly_savings=monthly * share)
    return t.filter((t.verdict != "unknown") | (t.cost.notnull() & (t.cost != 0)))


_ITEM = ("resource_id", "resource_type", "provider", "region", "verdict", "p95_cpu", "p95_mem", "samples",
         "monthly_cost", "cost_days", "estimated_monthly_savings", "currency", "team", "service")
_UNKNOWN = ("resource_id", "resource_type", "provider", "region", "monthly_cost", "cost_days", "currency", "team",
            "service")


def _rounded(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items() if k in keys}


def idle_resources(store: Store, settings: IdleSettings | None = None, *, end: datetime,
                   lookback_days: int | None = None, rules: AllocationRules | None = None) -> IdleReport:
    """Idle and rightsizing candidates over the `lookback_days` (default `settings.lookback_days`) before `end`;
    team and service as the allocation `rules` (default `AllocationRules()`) name them."""
    settings = settings or IdleSettings()
    days = lookback_days or settings.lookback_days
    end = as_utc(end)
    start = end - timedelta(days=days)
    cost_days = int(charges(store, start, end).ChargePeriodStart.date().nunique().execute() or 0)
    by_provider = {r["_p"]: r["cost_days"] for r in _provider_days(store, start, end).to_pyarrow().to_pylist()}
    rows = _judged(store, settings, rules or AllocationRules(), days, end).to_pyarrow().to_pylist()
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("young", "insufficient_samples", "idle",
                                                                 "rightsize", "ok")}
    items = sorted((_rounded(r, _ITEM) for r in rows if r["verdict"] in ("idle", "rightsize")),
                   key=lambda i: (-(i["estimated_monthly_savings"] or 0.0), i["resource_id"]))
    unknown = sorted((_rounded(r, _UNKNOWN) for r in rows if r["verdict"] == "unknown"),
                     key=lambda i: (-abs(i["monthly_cost"] or 0.0), i["resource_id"]))
    return IdleReport(start, end, days, cost_days, dict(sorted(by_provider.items())), items, unknown,
                      evaluated=counts["idle"] + counts["rightsize"] + counts["ok"],
                      excluded_young=counts["young"], insufficient_samples=counts["insufficient_samples"])
