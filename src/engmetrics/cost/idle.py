"""Idle resources and rightsizing candidates from sustained utilisation, with estimated monthly savings.

**Window**: the `lookback_days` days before `end` (default 14), ``end - lookback_days <= ts < end`` (UTC), for
`utilization` samples and for `cost` rows (by `ChargePeriodStart`).

**Per resource** (`utilization.resource_id`): `samples` = samples in the window with a `cpu_util`;
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

**Cost**: `cost` rows in the window with that `ResourceId` (exact match with `resource_id`), `EffectiveCost`
summed (amortised: what the resource really costs, commitments included). `monthly_cost` = that sum x 30 /
`cost_days`, where `cost_days` is the number of distinct UTC days in the window for which the `cost` dataset has
any row: billing exports lag a day or two, and a missing day must not read as a cheaper resource. Savings:
`idle` saves the whole monthly cost (stop or delete it); `rightsize` saves `rightsize_savings` of it (default
0.5: one size down within an instance family halves the price at AWS, Azure and Google Cloud). A resource
without cost rows has `monthly_cost` and savings None.

**Unknown**: resources with cost in the window (a `ResourceId`, EffectiveCost != 0) but no utilisation sample
in it are listed in `unknown`, never called idle: engmetrics cannot tell (storage, networking, or an instance
without a monitoring agent).

**Team and service**: from the resource's most recent `Tags` in the window: the first present of the allocation
rules' tag keys for the dimension (`AllocationRules.dimensions.team.keys` / `.service.keys`, workspace aliases
included, each optionally with one of `key_prefixes`), key case ignored, value as written. Owner rules and
fallbacks of the allocation rules are not applied here (a raw tag lookup, see `_tag`).

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
from .allocation_rules import AllocationRules

__all__ = ["IdleReport", "idle_resources"]

_REGEX_SPECIAL = set(r".^$*+?()[]{}|\/")
_RULE_FIELDS = ("idle_cpu_p95", "rightsize_cpu_p95", "rightsize_mem_p95", "rightsize_savings",
                "min_samples_per_day")


@dataclass
class IdleReport:
    """Idle and rightsizing candidates (`items`, largest savings first), and what could not be judged."""

    start: datetime
    end: datetime
    lookback_days: int
    cost_days: int
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
                "cost_days": self.cost_days, "evaluated": self.evaluated, "excluded_young": self.excluded_young,
                "insufficient_samples": self.insufficient_samples, "items": self.items, "unknown": self.unknown,
                "estimated_monthly_savings": self.savings_by_currency()}


def _setting(resource_type: ir.StringValue, settings: IdleSettings, name: str) -> ir.Value:
    """The setting `name` for each row's resource type: the type's override, else the default."""
    kind = resource_type.lower()
    branches = [(kind == t.lower(), value) for t, rule in settings.by_resource_type.items()
                if (value := getattr(rule, name)) is not None]
    default = getattr(settings, name)
    return ibis.cases(*branches, else_=default) if branches else ibis.literal(default)


def _literal(text: str) -> str:
    """`text` as a literal inside a regular expression, RE2 and Java alike (`re.escape` over-escapes)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def _tag(tags: ir.StringValue, keys: list[str], prefixes: list[str]) -> ir.StringValue:
    """The string value of the first of `keys` present in a flat JSON object of tags, key case ignored.

    A regular expression over the JSON text (RE2 in DuckDB, Java regex in Spark): portable, unlike the
    engines' JSON functions, whose unwrapping differs (Ibis unwraps with a Python UDF on Spark).
    """
    prefix = f"(?:{'|'.join(_literal(p) for p in prefixes)})?" if prefixes else ""
    found = [tags.re_extract(rf'[{{,]\s*"(?i:{prefix}{_literal(key)})"\s*:\s*"([^"]*)"', 1).nullif("")
             for key in keys]
    return ibis.coalesce(*found) if len(found) > 1 else found[0]


def _utilisation(store: Store, start: datetime, end: datetime) -> ir.Table:
    u = store.table("utilization")
    first = u.filter(u.ts < end).group_by("resource_id").aggregate(first_seen=u.ts.min())
    w = u.filter((u.ts >= start) & (u.ts < end))
    stats = w.group_by("resource_id").aggregate(
        samples=w.cpu_util.count(), p95_cpu=w.cpu_util.quantile(0.95), p95_mem=w.mem_util.quantile(0.95),
        u_type=w.resource_type.max(), u_provider=w.provider.max(), u_region=w.region.max())
    return stats.join(first, "resource_id").select(stats, first.first_seen)


def _cost_rows(store: Store, start: datetime, end: datetime) -> ir.Table:
    c = store.table("cost")
    return c.filter((c.ChargePeriodStart >= start) & (c.ChargePeriodStart < end))


def _costs(store: Store, start: datetime, end: datetime) -> ir.Table:
    w = _cost_rows(store, start, end)
    r = w.filter(w.ResourceId.notnull() & (w.ResourceId != ""))
    return r.group_by(cost_id=r.ResourceId).aggregate(
        cost=r.EffectiveCost.sum(), currency=r.BillingCurrency.max(), c_type=r.ResourceType.max(),
        c_provider=r.ProviderName.max(), c_region=r.RegionId.max(), tags=r.Tags.argmax(r.ChargePeriodStart))


def _judged(store: Store, settings: IdleSettings, rules: AllocationRules, days: int, end: datetime,
            cost_days: int) -> ir.Table:
    start = end - timedelta(days=days)
    team, service, prefixes = rules.dimensions.team.keys, rules.dimensions.service.keys, rules.key_prefixes
    stats, costs = _utilisation(store, start, end), _costs(store, start, end)
    t = stats.outer_join(costs, stats.resource_id == costs.cost_id)
    t = t.select(resource_id=t.resource_id.coalesce(t.cost_id), resource_type=t.u_type.coalesce(t.c_type),
                 provider=t.u_provider.coalesce(t.c_provider), region=t.u_region.coalesce(t.c_region),
                 samples=t.samples.coalesce(0), p95_cpu=t.p95_cpu, p95_mem=t.p95_mem, first_seen=t.first_seen,
                 cost=t.cost, currency=t.currency, team=_tag(t.tags, team, prefixes),
                 service=_tag(t.tags, service, prefixes))
    rule = {name: _setting(t.resource_type, settings, name) for name in _RULE_FIELDS}
    verdict = ibis.cases(
        (t.samples == 0, "unknown"), (t.first_seen > start, "young"),
        (t.samples < rule["min_samples_per_day"] * days, "insufficient_samples"),
        (t.p95_cpu <= rule["idle_cpu_p95"], "idle"),
        ((t.p95_cpu < rule["rightsize_cpu_p95"]) & (t.p95_mem < rule["rightsize_mem_p95"]), "rightsize"),
        else_="ok")
    monthly = t.cost * 30.0 / cost_days if cost_days else ibis.null("float64")
    share = ibis.cases((verdict == "idle", 1.0), (verdict == "rightsize", rule["rightsize_savings"]), else_=0.0)
    t = t.mutate(verdict=verdict, monthly_cost=monthly, estimated_monthly_savings=monthly * share)
    return t.filter((t.verdict != "unknown") | (t.cost.notnull() & (t.cost != 0)))


_ITEM = ("resource_id", "resource_type", "provider", "region", "verdict", "p95_cpu", "p95_mem", "samples",
         "monthly_cost", "estimated_monthly_savings", "currency", "team", "service")
_UNKNOWN = ("resource_id", "resource_type", "provider", "region", "monthly_cost", "currency", "team", "service")


def _rounded(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items() if k in keys}


def idle_resources(store: Store, settings: IdleSettings | None = None, *, end: datetime,
                   lookback_days: int | None = None, rules: AllocationRules | None = None) -> IdleReport:
    """Idle and rightsizing candidates over the `lookback_days` (default `settings.lookback_days`) before `end`;
    team and service from the tag keys of `rules` (default `AllocationRules()`)."""
    settings = settings or IdleSettings()
    days = lookback_days or settings.lookback_days
    end = as_utc(end)
    start = end - timedelta(days=days)
    cost_days = int(_cost_rows(store, start, end).ChargePeriodStart.truncate("D").nunique().execute() or 0)
    rows = _judged(store, settings, rules or AllocationRules(), days, end, cost_days).to_pyarrow().to_pylist()
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("young", "insufficient_samples", "idle",
                                                                 "rightsize", "ok")}
    items = sorted((_rounded(r, _ITEM) for r in rows if r["verdict"] in ("idle", "rightsize")),
                   key=lambda i: (-(i["estimated_monthly_savings"] or 0.0), i["resource_id"]))
    unknown = sorted((_rounded(r, _UNKNOWN) for r in rows if r["verdict"] == "unknown"),
                     key=lambda i: (-abs(i["monthly_cost"] or 0.0), i["resource_id"]))
    return IdleReport(start, end, days, cost_days, items, unknown,
                      evaluated=counts["idle"] + counts["rightsize"] + counts["ok"],
                      excluded_young=counts["young"], insufficient_samples=counts["insufficient_samples"])
