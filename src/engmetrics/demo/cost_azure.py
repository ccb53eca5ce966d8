"""A second, small cloud provider: the data team's analytics on Microsoft Azure, billed in EUR.

Its FOCUS export is the dirty kind the reader must tolerate: enumerated values in lower case
(`usage-based`, `standard`), the text `NULL` for missing values (an untagged resource's Tags are
empty), tags under other key names (`owner-team`, `app`, `Environment`). `cost_billing` removes one
day and the last two days of it (a missing day, data that stops early).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .common import HOUR, hex_ids, to_table
from .org import Org
from .traffic import Traffic

__all__ = ["AzureData", "build_azure"]

# name, service, ServiceName, ServiceCategory, ResourceType, provider type, unit, price range (EUR)
_RESOURCES = (
    ("vm-analytics-01", "analytics-api", "Virtual Machines", "Compute", "Virtual machine",
     "Microsoft.Compute/virtualMachines", "Hours", (0.15, 0.45)),
    ("vm-analytics-02", "analytics-api", "Virtual Machines", "Compute", "Virtual machine",
     "Microsoft.Compute/virtualMachines", "Hours", (0.15, 0.45)),
    ("vm-etl-01", "etl-scheduler", "Virtual Machines", "Compute", "Virtual machine",
     "Microsoft.Compute/virtualMachines", "Hours", (0.1, 0.3)),
    ("vm-reporting-01", "reporting", "Virtual Machines", "Compute", "Virtual machine",
     "Microsoft.Compute/virtualMachines", "Hours", (0.1, 0.3)),
    ("sql-analytics", "analytics-api", "Azure SQL Database", "Databases", "SQL database",
     "Microsoft.Sql/servers/databases", "Hours", (0.5, 1.1)),
    ("stanalyticsraw", None, "Storage", "Storage", "Storage account",
     "Microsoft.Storage/storageAccounts", "GB/Month", (0.018, 0.022)),
)
_TEAM = "data"


@dataclass
class AzureData:
    cost: pa.Table  # every day; cost_billing cuts the gaps
    utilization: pa.Table


def build_azure(rng: np.random.Generator, org: Org, traffic: Traffic) -> AzureData:
    """Daily usage rows (EUR) of a few Azure resources, and their virtual machines' utilisation."""
    period = org.period
    days = period.days
    subscription = hex_ids(rng, 1, 16)[0]
    subscription = "-".join((subscription[:8], subscription[8:12], subscription[12:16], subscription[16:20],
                             subscription[20:]))
    n = len(_RESOURCES)
    low = np.array([r[7][0] for r in _RESOURCES])
    high = np.array([r[7][1] for r in _RESOURCES])
    price = np.round(np.exp(rng.uniform(np.log(low), np.log(high))), 4)
    storage = np.array([r[6] == "GB/Month" for r in _RESOURCES])
    gb = rng.uniform(2000, 8000) * (1 + 0.003 * np.arange(days)) / 30
    quantity = np.where(storage[:, None], gb[None, :], 24.0)
    quantity = np.round(quantity, 6)
    ids = np.array([f"/subscriptions/{subscription}/resourceGroups/rg-data-analytics/providers/{r[5]}/{r[0]}"
                    for r in _RESOURCES])
    tags = np.array([json.dumps({"owner-team": _TEAM, "app": r[1], "Environment": "production"}) if r[1] else None
                     for r in _RESOURCES], dtype=object)
    r, d = np.meshgrid(np.arange(n), np.arange(days), indexing="ij")
    r, d = r.ravel(), d.ravel()
    q = quantity[r, d]
    list_cost = price[r] * q
    unit_price = np.round(price * 0.9, 6)  # enterprise agreement: 10 % off
    contracted = unit_price[r] * q
    billed = np.round(contracted, 6)
    day_starts = period.day_starts()
    months = day_starts.astype("M8[M]")
    m = len(r)

    def pick(i: int) -> np.ndarray:
        return np.array([res[i] for res in _RESOURCES])[r]

    cost = to_table({
        "BillingPeriodStart": months.astype("M8[s]")[d], "BillingPeriodEnd": (months + 1).astype("M8[s]")[d],
        "ChargePeriodStart": day_starts[d], "ChargePeriodEnd": day_starts[d] + 24 * HOUR,
        "ChargeCategory": np.full(m, "Usage"), "ChargeClass": np.full(m, None, dtype=object),
        "BilledCost": billed, "EffectiveCost": billed, "ListCost": list_cost, "ContractedCost": contracted,
        "ConsumedQuantity": q, "ContractedUnitPrice": unit_price[r], "ListUnitPrice": price[r], "PricingQuantity": q,
        "BillingAccountId": np.full(m, "86115379"), "BillingAccountName": np.full(m, "Acme Europe GmbH"),
        "BillingCurrency": np.full(m, "EUR"), "ChargeDescription": np.char.add(pick(2), " usage"),
        "ChargeFrequency": np.full(m, "usage-based"), "ConsumedUnit": pick(6),
        "InvoiceIssuerName": np.full(m, "Microsoft"), "PricingCategory": np.full(m, "standard"),
        "PricingUnit": pick(6), "ProviderName": np.full(m, "Microsoft"), "PublisherName": np.full(m, "Microsoft"),
        "RegionId": np.full(m, "westeurope"), "RegionName": np.full(m, "West Europe"), "ResourceId": ids[r],
        "ResourceName": pick(0), "ResourceType": pick(4), "ServiceCategory": pick(3), "ServiceName": pick(2),
        "SkuId": np.char.add("ms-sku-", pick(0)), "SkuPriceId": np.full(m, "NULL"),
        "SubAccountId": np.full(m, f"/subscriptions/{subscription}"),
        "SubAccountName": np.full(m, "data-analytics-prod"),
        "AvailabilityZone": np.full(m, "NULL"), "Tags": tags[r],
        "CommitmentDiscountId": np.full(m, "NULL"), "CommitmentDiscountStatus": np.full(m, "NULL"),
    })
    return AzureData(cost, _utilization(rng, org, traffic, ids, storage))


def _utilization(rng: np.random.Generator, org: Org, traffic: Traffic, ids: np.ndarray,
                 storage: np.ndarray) -> pa.Table:
    """CPU and memory every six hours of the virtual machines and the database, from the agent (which,
    unlike the billing export, is not late)."""
    watched = np.flatnonzero(~storage)
    services = [org.services.index(next(s for s in org.services if s.id == _RESOURCES[i][1])) for i in watched]
    step = np.arange(0, org.period.hours, 6)
    load = traffic.load[services][:, step]
    base = rng.uniform(0.3, 0.6, len(watched))[:, None]
    cpu = np.clip(base * load * np.exp(0.1 * rng.standard_normal(load.shape)), 0, 1)
    mem = np.clip(base * 0.8 + 0.2 + 0.05 * rng.standard_normal(load.shape), 0, 1)
    k = len(step)
    return to_table({
        "resource_id": np.repeat(ids[watched], k), "ts": np.tile(org.period.hour_starts()[step], len(watched)),
        "cpu_util": np.round(cpu.ravel(), 4), "mem_util": np.round(mem.ravel(), 4),
        "provider": np.full(len(watched) * k, "Microsoft"),
        "resource_type": np.repeat(np.array([_RESOURCES[i][4] for i in watched]), k),
        "region": np.full(len(watched) * k, "westeurope"),
    })
