"""Cloud cost in FOCUS columns, resource utilisation and business volume.

Each service runs instances (more for critical ones), often a database, a storage bucket and pays
for data transfer in proportion to its traffic. Some instances are forgotten: idle (CPU below 5%)
and usually untagged. Tags use team/service/env keys in inconsistent casing, as real bills do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .common import HOUR, to_table, topic_rng
from .org import Org
from .traffic import Traffic

__all__ = ["CostData", "Resources", "build_cost"]

_REGION = {"America/New_York": ("us-east-1", "US East (N. Virginia)"),
           "Europe/Berlin": ("eu-central-1", "Europe (Frankfurt)"),
           "Asia/Kolkata": ("ap-south-1", "Asia Pacific (Mumbai)")}
# kind: ResourceType, ServiceName, ServiceCategory, ConsumedUnit, price range per unit
_KINDS = {
    "instance": ("Virtual Machine", "Amazon Elastic Compute Cloud", "Compute", "Hours", (0.08, 0.8)),
    "database": ("Database Instance", "Amazon Relational Database Service", "Databases", "Hours", (0.4, 2.0)),
    "bucket": ("Storage Bucket", "Amazon Simple Storage Service", "Storage", "GB-Mo", (0.021, 0.025)),
    "transfer": ("Data Transfer", "AWS Data Transfer", "Networking", "GB", (0.08, 0.09)),
}
_TAG_STYLES = (("team", "service", "env"), ("Team", "Service", "Env"), ("TEAM", "SERVICE", "ENV"),
               ("team", "Service", "env"))
_INSTANCES_BY_TIER = (6, 4, 2, 1)


@dataclass
class Resources:
    """Cloud resources as parallel arrays."""

    id: np.ndarray
    kind: np.ndarray
    service: np.ndarray  # service index, -1 for shared or orphaned
    team: np.ndarray  # team index
    idle: np.ndarray
    tags: np.ndarray  # JSON text or None
    price: np.ndarray


@dataclass
class CostData:
    cost: pa.Table
    utilization: pa.Table
    business_volume: pa.Table
    resources: Resources


def _resources(rng: np.random.Generator, org: Org) -> Resources:
    rows: list[tuple[str, int, int, bool]] = []  # kind, service, team, idle
    service_team = org.service_team_index()
    for s, service in enumerate(org.services):
        t = int(service_team[s])
        rows += [("instance", s, t, False)] * _INSTANCES_BY_TIER[service.tier]
        if rng.random() < 0.5:
            rows.append(("database", s, t, False))
        rows += [("bucket", s, t, False), ("transfer", s, t, False)]
    for _ in range(max(3, len(rows) // 12)):  # forgotten instances
        s = int(rng.integers(0, len(org.services)))
        rows.append(("instance", s if rng.random() < 0.3 else -1, int(service_team[s]), True))
    kind = np.array([r[0] for r in rows])
    service = np.array([r[1] for r in rows])
    team = np.array([r[2] for r in rows])
    idle = np.array([r[3] for r in rows])
    n = len(rows)
    low = np.array([_KINDS[k][4][0] for k in kind])
    high = np.array([_KINDS[k][4][1] for k in kind])
    price = np.round(np.exp(rng.uniform(np.log(low), np.log(high))), 4)
    untagged = np.where(idle, rng.random(n) < 0.7, rng.random(n) < 0.08)
    style = rng.integers(0, len(_TAG_STYLES), n)
    tags = np.empty(n, dtype=object)
    for i in range(n):
        if untagged[i]:
            tags[i] = None
            continue
        keys = _TAG_STYLES[style[i]]
        values = (org.teams[team[i]].id, org.services[service[i]].id if service[i] >= 0 else None, "production")
        tags[i] = json.dumps({k: v for k, v in zip(keys, values, strict=True) if v is not None})
    prefix = np.array([{"instance": "i-", "database": "db-", "bucket": "s3-", "transfer": "dt-"}[k] for k in kind])
    ids = np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 5))
    return Resources(ids, kind, service, team, idle, tags, price)


def build_cost(seed: int, org: Org, traffic: Traffic) -> CostData:
    """FOCUS cost rows (daily per resource, monthly tax and a credit), utilisation, volume."""
    rng = topic_rng(seed, "cost")
    res = _resources(rng, org)
    period = org.period
    n, days = len(res.id), period.days
    daily_requests = traffic.requests.reshape(len(org.services), days, 24).sum(axis=2).astype(float)
    svc = np.maximum(res.service, 0)
    share = np.where(res.service >= 0, 1.0, 0.0)[:, None]
    quantity = np.zeros((n, days))
    quantity[np.isin(res.kind, ["instance", "database"])] = 24.0
    bucket = res.kind == "bucket"
    gb_stored = np.exp(rng.uniform(np.log(50), np.log(5000), n))[:, None] * (1 + 0.002 * np.arange(days))
    quantity[bucket] = (gb_stored / 30)[bucket]  # GB-months consumed per day
    transfer = res.kind == "transfer"
    quantity[transfer] = (daily_requests[svc] * share * 40e-6)[transfer]  # 40 kB per request
    quantity = np.round(quantity, 6)
    list_cost = np.round(quantity * res.price[:, None], 6)
    effective = np.round(list_cost * np.where(res.kind == "instance", 0.72, 0.95)[:, None], 6)

    day_starts = period.day_starts()
    r, d = np.meshgrid(np.arange(n), np.arange(days), indexing="ij")
    r, d = r.ravel(), d.ravel()
    month_start, month_end = _billing_periods(day_starts)
    region = np.array([_REGION[org.teams[t].timezone][0] for t in res.team])
    region_name = np.array([_REGION[org.teams[t].timezone][1] for t in res.team])
    kinds = {k: np.array([_KINDS[x][i] for x in res.kind]) for i, k in
             enumerate(("ResourceType", "ServiceName", "ServiceCategory", "ConsumedUnit"))}
    account = np.char.add("acct-", np.char.zfill(res.team.astype(str), 3))
    usage = {
        "BillingPeriodStart": month_start[d], "BillingPeriodEnd": month_end[d],
        "ChargePeriodStart": day_starts[d], "ChargePeriodEnd": day_starts[d] + 24 * HOUR,
        "ChargeCategory": np.full(len(r), "Usage"), "BilledCost": effective.ravel(),
        "EffectiveCost": effective.ravel(), "ListCost": list_cost.ravel(), "ContractedCost": effective.ravel(),
        "ConsumedQuantity": quantity.ravel(), "ContractedUnitPrice": np.round(res.price * 0.95, 6)[r],
        "ListUnitPrice": res.price[r], "PricingQuantity": quantity.ravel(),
        "BillingAccountId": np.full(len(r), "123456789012"), "BillingAccountName": np.full(len(r), "acme-payer"),
        "BillingCurrency": np.full(len(r), "USD"),
        "ChargeDescription": np.char.add(kinds["ServiceName"][r], " usage"),
        "ChargeFrequency": np.full(len(r), "Usage-Based"), "ConsumedUnit": kinds["ConsumedUnit"][r],
        "InvoiceIssuerName": np.full(len(r), "Amazon Web Services, Inc."),
        "PricingCategory": np.full(len(r), "Standard"), "PricingUnit": kinds["ConsumedUnit"][r],
        "ProviderName": np.full(len(r), "AWS"), "PublisherName": np.full(len(r), "Amazon Web Services"),
        "RegionId": region[r], "RegionName": region_name[r], "ResourceId": res.id[r],
        "ResourceName": res.id[r], "ResourceType": kinds["ResourceType"][r],
        "ServiceCategory": kinds["ServiceCategory"][r], "ServiceName": kinds["ServiceName"][r],
        "SkuId": np.char.add("sku-", res.kind[r]), "SkuPriceId": np.char.add("price-", res.kind[r]),
        "SubAccountId": account[r], "SubAccountName": np.array([org.teams[t].id for t in res.team])[r],
        "AvailabilityZone": np.char.add(region[r], "a"), "Tags": res.tags[r],
    }
    cost = pa.concat_tables([to_table(usage), _monthly_rows(day_starts, month_start, month_end, effective)],
                            promote_options="default")
    return CostData(cost, _utilization(rng, org, res, traffic), _volume(rng, org, daily_requests), res)


def _billing_periods(day_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    months = day_starts.astype("M8[M]")
    return months.astype("M8[s]"), (months + 1).astype("M8[s]")


def _monthly_rows(day_starts: np.ndarray, month_start: np.ndarray, month_end: np.ndarray,
                  effective: np.ndarray) -> pa.Table:
    """A tax row per month on the month's first day in the period, and one credit."""
    first_days = np.r_[0, np.flatnonzero(month_start[1:] != month_start[:-1]) + 1]
    month_totals = np.add.reduceat(effective.sum(axis=0), first_days)
    tax = np.round(month_totals * 0.08, 2)
    k = len(first_days)
    category = np.r_[np.full(k, "Tax"), ["Credit"]]
    amount = np.r_[tax, [-round(float(month_totals[0]) * 0.02, 2)]]
    idx = np.r_[first_days, first_days[:1]]
    return to_table({
        "BillingPeriodStart": month_start[idx], "BillingPeriodEnd": month_end[idx],
        "ChargePeriodStart": day_starts[idx], "ChargePeriodEnd": day_starts[idx] + 24 * HOUR,
        "ChargeCategory": category, "BilledCost": amount, "EffectiveCost": amount,
        "BillingAccountId": np.full(k + 1, "123456789012"), "BillingAccountName": np.full(k + 1, "acme-payer"),
        "BillingCurrency": np.full(k + 1, "USD"),
        "ChargeDescription": np.r_[np.full(k, "Sales tax"), ["Promotional credit"]],
        "ChargeFrequency": np.full(k + 1, "One-Time"), "ProviderName": np.full(k + 1, "AWS"),
        "InvoiceIssuerName": np.full(k + 1, "Amazon Web Services, Inc."),
    })


def _utilization(rng: np.random.Generator, org: Org, res: Resources, traffic: Traffic) -> pa.Table:
    """CPU and memory every six hours for instances and databases; idle ones stay below 5% CPU."""
    watched = np.flatnonzero(np.isin(res.kind, ["instance", "database"]))
    hours = org.period.hours
    step = np.arange(0, hours, 6)
    load = traffic.load[np.maximum(res.service[watched], 0)][:, step]
    base = np.where(res.idle[watched], rng.uniform(0.005, 0.03, len(watched)),
                    rng.uniform(0.2, 0.55, len(watched)))[:, None]
    busy = np.where(res.idle[watched][:, None], 1.0, load)
    cpu = np.clip(base * busy * np.exp(0.1 * rng.standard_normal(load.shape)), 0, 1)
    mem = np.clip(base * 0.8 + 0.2 + 0.05 * rng.standard_normal(load.shape), 0, 1)
    region = np.array([_REGION[org.teams[t].timezone][0] for t in res.team])
    m = len(step)
    return to_table({
        "resource_id": np.repeat(res.id[watched], m), "ts": np.tile(org.period.hour_starts()[step], len(watched)),
        "cpu_util": np.round(cpu.ravel(), 4), "mem_util": np.round(mem.ravel(), 4),
        "provider": np.full(len(watched) * m, "AWS"),
        "resource_type": np.repeat(np.array([_KINDS[k][0] for k in res.kind[watched]]), m),
        "region": np.repeat(region[watched], m),
    })


def _volume(rng: np.random.Generator, org: Org, daily_requests: np.ndarray) -> pa.Table:
    """Transactions per day for customer-facing services: a few percent of their requests."""
    facing = np.flatnonzero([s.customer_facing for s in org.services])
    rate = rng.uniform(0.01, 0.05, len(facing))[:, None]
    value = np.round(daily_requests[facing] * rate * np.exp(0.03 * rng.standard_normal(
        (len(facing), org.period.days))))
    names = np.array([s.id for s in org.services])[facing]
    days = org.period.days
    return to_table({
        "service": np.repeat(names, days), "metric": np.full(len(facing) * days, "transactions"),
        "ts": np.tile(org.period.day_starts(), len(facing)), "value": value.ravel(),
    })

