"""Cloud cost in FOCUS columns, resource utilisation and business volume.

Each service runs instances (more for critical ones), often a database, a storage bucket and pays
for data transfer in proportion to its traffic. Some instances are forgotten: idle (CPU below 5%),
usually untagged, in a sandbox account. A few are new (first seen in the last two weeks), a few
are over-provisioned (rightsizing candidates) and one has no monitoring agent (cost, no utilisation).
Tags use team/service/env keys in inconsistent casing (and AWS's `user:` prefix), as real bills do.

Shared platform cost: CloudWatch logs, a CloudFront distribution and the support plan. A compute
savings plan covers the critical services' instances (`cost_billing`), and a second, small provider
bills in EUR (`cost_azure`). `cost_billing` adds the monthly rows, invoice and export ids, a duplicated
line item and the invoices the reconciliation checks against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .common import HOUR, to_table, topic_rng
from .cost_azure import build_azure
from .cost_billing import SHARED, SavingsPlan, billing_days, finish_cost, monthly_rows, savings_plan
from .org import Org
from .traffic import Traffic

__all__ = ["SANDBOX", "CostData", "Resources", "build_cost"]

_REGION = {"America/New_York": ("us-east-1", "US East (N. Virginia)"),
           "Europe/Berlin": ("eu-central-1", "Europe (Frankfurt)"),
           "Asia/Kolkata": ("ap-south-1", "Asia Pacific (Mumbai)")}
# kind: ResourceType, ServiceName, ServiceCategory, unit, price range per unit
_KINDS = {
    "instance": ("Virtual Machine", "Amazon Elastic Compute Cloud", "Compute", "Hours", (0.08, 0.8)),
    "database": ("Database Instance", "Amazon Relational Database Service", "Databases", "Hours", (0.4, 2.0)),
    "bucket": ("Storage Bucket", "Amazon Simple Storage Service", "Storage", "GB-Mo", (0.021, 0.025)),
    "transfer": ("Data Transfer", "AWS Data Transfer", "Networking", "GB", (0.08, 0.09)),
    "logs": ("Log Group", "Amazon CloudWatch", "Management and Governance", "GB", (0.5, 0.5)),
    "cdn": ("Distribution", "Amazon CloudFront", "Networking", "GB", (0.085, 0.085)),
    "support": (None, "AWS Support (Business)", "Other", "Days", (1.0, 1.0)),
}
_PREFIX = {"instance": "i-", "database": "db-", "bucket": "s3-", "transfer": "dt-", "logs": "lg-", "cdn": "cf-",
           "support": ""}
_TAG_STYLES = (("team", "service", "env"), ("Team", "Service", "Env"), ("TEAM", "SERVICE", "ENV"),
               ("team", "Service", "env"), ("user:team", "user:service", "user:env"))
_INSTANCES_BY_TIER = (6, 4, 2, 1)
_DISCOUNT = 0.95  # negotiated (contracted) price: 5 % off list
SANDBOX = ("acct-sandbox", "sandbox")  # where the forgotten instances run


@dataclass
class Resources:
    """Cloud resources as parallel arrays. `role`: "" (ordinary), idle (forgotten), young (first seen
    within the last two weeks), oversized (rightsizing candidate), unmonitored (no utilisation) or shared."""

    id: np.ndarray  # object: None for the support plan
    kind: np.ndarray
    service: np.ndarray  # service index, -1 for shared or orphaned
    team: np.ndarray  # team index
    role: np.ndarray
    tags: np.ndarray  # JSON text or None
    price: np.ndarray
    start_day: np.ndarray  # first day with cost and utilisation
    account: np.ndarray
    account_name: np.ndarray

    @property
    def idle(self) -> np.ndarray:
        return self.role == "idle"


@dataclass
class CostData:
    cost: pa.Table
    utilization: pa.Table
    business_volume: pa.Table
    resources: Resources
    invoices: list[dict[str, Any]] = field(default_factory=list)  # provider, billing_period_start, ... total
    rates: list[dict[str, Any]] = field(default_factory=list)  # from, to, rate, date
    notes: dict[str, Any] = field(default_factory=dict)  # what the reconciliation should find


def _tags(rng: np.random.Generator, org: Org, team: np.ndarray, service: np.ndarray,
          role: np.ndarray, kind: np.ndarray) -> np.ndarray:
    n = len(role)
    untagged = np.where(role == "idle", rng.random(n) < 0.7, rng.random(n) < 0.08)
    untagged[np.isin(role, ["young", "oversized", "unmonitored"])] = False
    style = rng.integers(0, len(_TAG_STYLES), n)
    tags = np.empty(n, dtype=object)
    for i in range(n):
        if role[i] == "shared":
            tags[i] = None if kind[i] == "support" else json.dumps({"env": "production", "cost-pool": "shared"})
        elif untagged[i]:
            tags[i] = None
        else:
            keys = _TAG_STYLES[style[i]]
            values = (org.teams[team[i]].id, org.services[service[i]].id if service[i] >= 0 else None, "production")
            tags[i] = json.dumps({k: v for k, v in zip(keys, values, strict=True) if v is not None})
    return tags


def _resources(rng: np.random.Generator, org: Org, days: int) -> Resources:
    rows: list[tuple[str, int, int, str]] = []  # kind, service, team, role
    service_team = org.service_team_index()
    for s, service in enumerate(org.services):
        t = int(service_team[s])
        rows += [("instance", s, t, "")] * _INSTANCES_BY_TIER[service.tier]
        if rng.random() < 0.5:
            rows.append(("database", s, t, ""))
        rows += [("bucket", s, t, ""), ("transfer", s, t, "")]
    plain = [i for i, (k, s, _, _) in enumerate(rows) if k == "instance" and org.services[s].tier >= 1]
    for i in rng.choice(plain, 3, replace=False):
        rows[i] = (*rows[i][:3], "oversized")
    for _ in range(max(3, len(rows) // 12)):  # forgotten instances
        s = int(rng.integers(0, len(org.services)))
        rows.append(("instance", s if rng.random() < 0.3 else -1, int(service_team[s]), "idle"))
    for role in ("young", "young", "young", "unmonitored"):
        s = int(rng.integers(0, len(org.services)))
        rows.append(("instance", s, int(service_team[s]), role))
    platform = org.team_index("platform")
    rows += [(k, -1, platform, "shared") for k in ("logs", "cdn", "support")]
    kind = np.array([r[0] for r in rows])
    service = np.array([r[1] for r in rows])
    team = np.array([r[2] for r in rows])
    role = np.array([r[3] for r in rows])
    n = len(rows)
    low = np.array([_KINDS[k][4][0] for k in kind])
    high = np.array([_KINDS[k][4][1] for k in kind])
    price = np.round(np.exp(rng.uniform(np.log(low), np.log(high))), 4)
    tags = _tags(rng, org, team, service, role, kind)
    start_day = np.where(role == "young", np.maximum(days - rng.integers(3, 12, n), 0), 0)
    ids = np.char.add(np.array([_PREFIX[k] for k in kind]), np.char.zfill(np.arange(1, n + 1).astype(str), 5))
    ids = np.where(kind == "support", None, ids.astype(object))
    account = np.char.add("acct-", np.char.zfill(team.astype(str), 3)).astype(object)
    account_name = np.array([org.teams[t].id for t in team], dtype=object)
    for who, (acct, name) in (("idle", SANDBOX), ("shared", SHARED)):
        account[role == who], account_name[role == who] = acct, name
    return Resources(ids, kind, service, team, role, tags, price, start_day, account, account_name)


def _quantities(rng: np.random.Generator, org: Org, res: Resources, daily_requests: np.ndarray) -> np.ndarray:
    """Units consumed per resource and day (hours, GB-months, GB, days)."""
    n, days = len(res.id), org.period.days
    svc = np.maximum(res.service, 0)
    share = np.where(res.service >= 0, 1.0, 0.0)[:, None]
    quantity = np.zeros((n, days))
    quantity[np.isin(res.kind, ["instance", "database"])] = 24.0
    bucket = res.kind == "bucket"
    gb_stored = np.exp(rng.uniform(np.log(50), np.log(5000), n))[:, None] * (1 + 0.002 * np.arange(days))
    quantity[bucket] = (gb_stored / 30)[bucket]  # GB-months consumed per day
    transfer = res.kind == "transfer"
    quantity[transfer] = (daily_requests[svc] * share * 40e-6)[transfer]  # 40 kB per request
    total = daily_requests.sum(axis=0)
    quantity[res.kind == "logs"] = 80 * total / max(total.mean(), 1)  # about 80 GB of logs a day
    facing = daily_requests[[s.customer_facing for s in org.services]].sum(axis=0)
    quantity[res.kind == "cdn"] = 500 * facing / max(facing.mean(), 1)  # about 500 GB served a day
    quantity[res.kind == "support"] = 1.0
    quantity[res.start_day[:, None] > np.arange(days)[None, :]] = 0.0
    return np.round(quantity, 6)


def _usage(org: Org, res: Resources, quantity: np.ndarray, plan: SavingsPlan) -> dict[str, np.ndarray]:
    """One FOCUS Usage row per resource and day it exists; instances under the savings plan are 'Used'."""
    period = org.period
    day_starts = period.day_starts()
    r, d = np.meshgrid(np.arange(len(res.id)), np.arange(period.days), indexing="ij")
    alive = (d >= res.start_day[:, None]).ravel()
    r, d = r.ravel()[alive], d.ravel()[alive]
    q = quantity[r, d]
    price = res.price[r]
    list_cost = price * q
    contracted_price = np.round(price * _DISCOUNT, 6)
    contracted = contracted_price * q
    covered = plan.covered[r]
    effective = np.round(np.where(covered, list_cost * plan.rate, contracted), 6)
    month_start, month_end = billing_days(day_starts)
    region = np.array([_REGION[org.teams[t].timezone][0] for t in res.team])
    region_name = np.array([_REGION[org.teams[t].timezone][1] for t in res.team])
    meta = {k: np.array([_KINDS[x][i] for x in res.kind], dtype=object) for i, k in
            enumerate(("ResourceType", "ServiceName", "ServiceCategory", "ConsumedUnit"))}
    support = res.kind[r] == "support"
    n = len(r)

    def commitment(value: object) -> np.ndarray:
        return np.where(covered, value, None)

    return {
        "BillingPeriodStart": month_start[d], "BillingPeriodEnd": month_end[d],
        "ChargePeriodStart": day_starts[d], "ChargePeriodEnd": day_starts[d] + 24 * HOUR,
        "ChargeCategory": np.full(n, "Usage"), "ChargeClass": np.full(n, None, dtype=object),
        "BilledCost": np.where(covered, 0.0, effective), "EffectiveCost": effective, "ListCost": list_cost,
        "ContractedCost": contracted, "ConsumedQuantity": np.where(support, np.nan, q),
        "ContractedUnitPrice": contracted_price, "ListUnitPrice": price, "PricingQuantity": q,
        "BillingAccountId": np.full(n, "123456789012"), "BillingAccountName": np.full(n, "acme-payer"),
        "BillingCurrency": np.full(n, "USD"),
        "ChargeDescription": np.char.add(meta["ServiceName"][r].astype(str), np.where(support, " plan", " usage")),
        "ChargeFrequency": np.where(support, "Recurring", "Usage-Based"),
        "ConsumedUnit": np.where(support, None, meta["ConsumedUnit"][r]),
        "InvoiceIssuerName": np.full(n, "Amazon Web Services, Inc."),
        "PricingCategory": np.where(covered, "Committed", "Standard"), "PricingUnit": meta["ConsumedUnit"][r],
        "ProviderName": np.full(n, "AWS"), "PublisherName": np.full(n, "Amazon Web Services"),
        "RegionId": region[r], "RegionName": region_name[r], "ResourceId": res.id[r],
        "ResourceName": res.id[r], "ResourceType": meta["ResourceType"][r],
        "ServiceCategory": meta["ServiceCategory"][r], "ServiceName": meta["ServiceName"][r],
        "SkuId": np.char.add("sku-", res.kind[r]), "SkuPriceId": np.char.add("price-", res.kind[r]),
        "SubAccountId": res.account[r], "SubAccountName": res.account_name[r],
        "AvailabilityZone": np.char.add(region[r], "a"), "Tags": res.tags[r],
        "CommitmentDiscountId": commitment(plan.id), "CommitmentDiscountName": commitment(plan.name),
        "CommitmentDiscountType": commitment(plan.type), "CommitmentDiscountCategory": commitment("Spend"),
        "CommitmentDiscountStatus": commitment("Used"),
        "CommitmentDiscountQuantity": np.where(covered, effective, np.nan), "CommitmentDiscountUnit": commitment("USD"),
    }


def build_cost(seed: int, org: Org, traffic: Traffic) -> CostData:
    """FOCUS cost rows of two providers (daily usage, a savings plan, monthly tax, a credit), utilisation,
    volume, and the invoices and exchange rates the demo's reconciliation uses."""
    rng = topic_rng(seed, "cost")
    period = org.period
    days = period.days
    res = _resources(rng, org, days)
    daily_requests = traffic.requests.reshape(len(org.services), days, 24).sum(axis=2).astype(float)
    quantity = _quantities(rng, org, res, daily_requests)
    support = res.kind == "support"
    other = quantity * res.price[:, None] * _DISCOUNT
    res.price[support] = np.round(0.03 * other[~support].sum() / max(days, 1), 2)  # 3 % of the bill
    plan = savings_plan(rng, res, quantity, period, np.array([s.tier for s in org.services]))
    usage = to_table(_usage(org, res, quantity, plan))
    aws = pa.concat_tables([usage, plan.rows, monthly_rows(period, usage)], promote_options="default")
    azure = build_azure(topic_rng(seed, "cost-azure"), org, traffic)
    cost, invoices, rates, notes = finish_cost(topic_rng(seed, "cost-billing"), period, aws, azure.cost)
    utilization = pa.concat_tables([_utilization(rng, org, res, traffic), azure.utilization])
    return CostData(cost, utilization, _volume(rng, org, daily_requests), res, invoices, rates, notes)


def _utilization(rng: np.random.Generator, org: Org, res: Resources, traffic: Traffic) -> pa.Table:
    """CPU and memory every six hours for instances and databases from their first day; idle ones stay
    below 5% CPU, over-provisioned ones about 15-30% CPU and 40% memory; the unmonitored one has none."""
    watched = np.flatnonzero(np.isin(res.kind, ["instance", "database"]) & (res.role != "unmonitored"))
    role = res.role[watched]
    hours = org.period.hours
    step = np.arange(0, hours, 6)
    load = traffic.load[np.maximum(res.service[watched], 0)][:, step]
    base = np.where(role == "idle", rng.uniform(0.005, 0.03, len(watched)), rng.uniform(0.3, 0.6, len(watched)))
    base = np.where(role == "oversized", rng.uniform(0.15, 0.25, len(watched)), base)[:, None]
    busy = np.where((role == "idle")[:, None], 1.0, load)
    busy = np.where((role == "oversized")[:, None], 0.8 + 0.2 * load, busy)
    cpu = np.clip(base * busy * np.exp(0.1 * rng.standard_normal(load.shape)), 0, 1)
    mem = np.clip(base * 0.8 + 0.2 + 0.05 * rng.standard_normal(load.shape), 0, 1)
    mem = np.where((role == "oversized")[:, None], np.clip(0.3 + 0.03 * rng.standard_normal(load.shape), 0, 1), mem)
    region = np.array([_REGION[org.teams[t].timezone][0] for t in res.team])
    live = (step[None, :] >= 24 * res.start_day[watched][:, None]).ravel()
    m = len(step)
    return to_table({
        "resource_id": np.repeat(res.id[watched].astype(str), m)[live],
        "ts": np.tile(org.period.hour_starts()[step], len(watched))[live],
        "cpu_util": np.round(cpu.ravel(), 4)[live], "mem_util": np.round(mem.ravel(), 4)[live],
        "provider": np.full(len(watched) * m, "AWS")[live],
        "resource_type": np.repeat(np.array([_KINDS[k][0] for k in res.kind[watched]]), m)[live],
        "region": np.repeat(region[watched], m)[live],
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
