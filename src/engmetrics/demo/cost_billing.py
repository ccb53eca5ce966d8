"""The billing side of the demo's cost: a savings plan, monthly rows, invoice and export ids, and what the
reconciliation finds.

- A compute savings plan (FOCUS: CommitmentDiscountType "Savings Plan", category "Spend") covers the
  critical (tier 0) services' instances: their Usage rows are 'Used' (BilledCost 0, EffectiveCost at the
  plan's rate), a daily 'Unused' row carries the idle part of the commitment, and a monthly 'Purchase' row
  bills it. Commitment quantities are in USD, as FOCUS has them for spend commitments.
- Tax per month and one promotional credit.
- `InvoiceId` per provider and closed billing period (the open, last one has none yet), and an export id
  (`x_ExportId`, an extension column) per provider and month.
- For `engmetrics cost reconcile`: one AWS line item is delivered twice, by two runs of the month's export
  (so only `x_ExportId` differs); the second provider misses one day and its data stops two days early;
  the invoices of the closed months are the true totals (without the duplicate, with the missing day).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .common import HOUR, Period, hex_ids, to_table

__all__ = ["SHARED", "SavingsPlan", "billing_days", "finish_cost", "monthly_rows", "savings_plan"]

DAY = np.timedelta64(1, "D").astype("m8[s]")
_PAYER = {"BillingAccountId": "123456789012", "BillingAccountName": "acme-payer", "BillingCurrency": "USD",
          "InvoiceIssuerName": "Amazon Web Services, Inc.", "ProviderName": "AWS",
          "PublisherName": "Amazon Web Services"}
_EXPORT = {"AWS": "aws-focus-{month}-run1", "Microsoft": "ms-cost-export-{month}"}
_INVOICE = {"AWS": "INV-AWS-{month}", "Microsoft": "INV-MS-{month}"}
SHARED = ("acct-shared", "shared-services")  # account of the shared platform resources and the savings plan
STOP_EARLY_DAYS = 2  # the second provider's data stops this many days before the demo's end


@dataclass
class SavingsPlan:
    """Which resources the plan covers, its rate (share of list price) and its own FOCUS rows."""

    id: str
    name: str
    type: str
    rate: float
    hourly: float  # the commitment, USD per hour
    covered: np.ndarray  # per resource
    rows: pa.Table  # 'Unused' rows per day and 'Purchase' rows per month


def billing_days(day_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Billing period (calendar month) start and end of each day."""
    months = day_starts.astype("M8[M]")
    return months.astype("M8[s]"), (months + 1).astype("M8[s]")


def _month_firsts(period: Period) -> np.ndarray:
    """Index of the first day in the period of each billing month."""
    month_start, _ = billing_days(period.day_starts())
    return np.r_[0, np.flatnonzero(month_start[1:] != month_start[:-1]) + 1]


def _constant(columns: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, v, dtype=object if v is None else None) for k, v in columns.items()}


def savings_plan(rng: np.random.Generator, res: Any, quantity: np.ndarray, period: Period,
                 tiers: np.ndarray) -> SavingsPlan:
    """A compute savings plan over the tier-0 services' steady instances, 84-92 % utilised."""
    covered = ((res.kind == "instance") & np.isin(res.role, ["", "oversized"]) & (res.service >= 0)
               & (tiers[np.maximum(res.service, 0)] == 0))
    rate = 0.72
    used = np.round(res.price[:, None] * quantity * rate, 6)[covered].sum(axis=0)  # per day
    hourly = max(round(float(used.mean()) / 24 / rng.uniform(0.84, 0.92), 2), np.ceil(used.max() / 24 * 100) / 100)
    plan_id = f"arn:aws:savingsplans::123456789012:savingsplan/{hex_ids(rng, 1, 16)[0][:8]}-sp"
    name, kind = "Compute Savings Plan, 1 year, no upfront", "Savings Plan"
    day_starts = period.day_starts()
    month_start, month_end = billing_days(day_starts)
    n = period.days
    unused = np.round(hourly * 24 - used, 6)
    common = {"ChargeClass": None, "CommitmentDiscountId": plan_id, "CommitmentDiscountName": name,
              "CommitmentDiscountType": kind, "CommitmentDiscountCategory": "Spend", "CommitmentDiscountUnit": "USD",
              "ResourceId": plan_id, "ResourceName": name, "ResourceType": "Savings Plan",
              "SubAccountId": SHARED[0], "SubAccountName": SHARED[1], **_PAYER}
    idle = {
        **_constant({**common, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
                     "PricingCategory": "Committed", "CommitmentDiscountStatus": "Unused",
                     "ServiceName": "Amazon Elastic Compute Cloud", "ServiceCategory": "Compute",
                     "ChargeDescription": "Savings plan commitment not used by any usage"}, n),
        "BillingPeriodStart": month_start, "BillingPeriodEnd": month_end,
        "ChargePeriodStart": day_starts, "ChargePeriodEnd": day_starts + 24 * HOUR,
        "BilledCost": np.zeros(n), "EffectiveCost": unused, "ListCost": np.zeros(n), "ContractedCost": np.zeros(n),
        "CommitmentDiscountQuantity": unused,
    }
    firsts = _month_firsts(period)
    k = len(firsts)
    starts = day_starts[firsts]
    hours = (month_end[firsts] - starts) / HOUR
    fee = np.round(hourly * hours, 2)
    purchase = {
        **_constant({**common, "ChargeCategory": "Purchase", "ChargeFrequency": "Recurring",
                     "PricingCategory": "Standard", "PricingUnit": "Hours",
                     "ServiceName": "Savings Plans for AWS Compute usage", "ServiceCategory": "Compute",
                     "ChargeDescription": "Savings plan monthly fee"}, k),
        "BillingPeriodStart": month_start[firsts], "BillingPeriodEnd": month_end[firsts],
        "ChargePeriodStart": starts, "ChargePeriodEnd": month_end[firsts],
        "BilledCost": fee, "EffectiveCost": np.zeros(k), "ListCost": fee, "ContractedCost": fee,
        "ListUnitPrice": np.full(k, hourly), "ContractedUnitPrice": np.full(k, hourly),
        "PricingQuantity": hours.astype(float), "CommitmentDiscountQuantity": fee,
    }
    rows = pa.concat_tables([to_table(idle), to_table(purchase)], promote_options="default")
    return SavingsPlan(plan_id, name, kind, rate, hourly, covered, rows)


def monthly_rows(period: Period, usage: pa.Table) -> pa.Table:
    """A tax row per month on the month's first day in the period (8 % of its usage), and one credit."""
    day = ((usage["ChargePeriodStart"].to_numpy() - period.start) // DAY).astype(np.int64)
    daily = np.bincount(day, weights=usage["EffectiveCost"].to_numpy(), minlength=period.days)
    day_starts = period.day_starts()
    month_start, month_end = billing_days(day_starts)
    first_days = _month_firsts(period)
    month_totals = np.add.reduceat(daily, first_days)
    tax = np.round(month_totals * 0.08, 2)
    k = len(first_days)
    amount = np.r_[tax, [-round(float(month_totals[0]) * 0.02, 2)]]
    idx = np.r_[first_days, first_days[:1]]
    return to_table({
        "BillingPeriodStart": month_start[idx], "BillingPeriodEnd": month_end[idx],
        "ChargePeriodStart": day_starts[idx], "ChargePeriodEnd": day_starts[idx] + 24 * HOUR,
        "ChargeCategory": np.r_[np.full(k, "Tax"), ["Credit"]], "ChargeClass": np.full(k + 1, None, dtype=object),
        "BilledCost": amount, "EffectiveCost": amount, "ListCost": amount, "ContractedCost": amount,
        **_constant(_PAYER, k + 1),
        "ChargeDescription": np.r_[np.full(k, "Sales tax"), ["Promotional credit"]],
        "ChargeFrequency": np.full(k + 1, "One-Time"),
    })


def _days(period: Period, table: pa.Table) -> np.ndarray:
    return ((table["ChargePeriodStart"].to_numpy() - period.start) // DAY).astype(np.int64)


def _months(table: pa.Table) -> np.ndarray:
    """Billing month of each row as YYYY-MM."""
    return np.datetime_as_string(table["BillingPeriodStart"].to_numpy().astype("M8[M]"))


def _ids(table: pa.Table, open_month: str) -> pa.Table:
    """InvoiceId (closed months; the second provider writes the open month's as the text NULL) and the
    export id, kept as an extension column."""
    provider = table["ProviderName"].to_numpy(zero_copy_only=False).astype(str)
    month = _months(table)
    invoice = np.empty(len(month), dtype=object)
    export = np.empty(len(month), dtype=object)
    for p in np.unique(provider):
        for m in np.unique(month[provider == p]):
            at = (provider == p) & (month == m)
            invoice[at] = (None if p == "AWS" else "NULL") if m == open_month else _INVOICE[p].format(month=m)
            export[at] = json.dumps({"x_ExportId": _EXPORT[p].format(month=m)})
    return table.append_column("InvoiceId", pa.array(invoice, pa.string())).append_column(
        "x_extensions", pa.array(export, pa.string()))


def _duplicate(period: Period, aws: pa.Table, day: int) -> pa.Table:
    """One line item of `day` (a database's, else any billed usage) as a second export run delivered it."""
    days = _days(period, aws)
    ids = aws["ResourceId"].to_numpy(zero_copy_only=False)
    billed = aws["BilledCost"].to_numpy() > 0
    usage = (aws["ChargeCategory"].to_numpy(zero_copy_only=False) == "Usage") & billed & (days == day)
    database = usage & np.array([isinstance(i, str) and i.startswith("db-") for i in ids])
    row = aws.slice(int(np.flatnonzero(database if database.any() else usage)[0]), 1)
    month = _months(row)[0]
    rerun = json.dumps({"x_ExportId": _EXPORT["AWS"].format(month=month).replace("run1", "run2")})
    return row.set_column(row.schema.get_field_index("x_extensions"), "x_extensions", pa.array([rerun]))


def _totals(table: pa.Table) -> dict[tuple[str, str], float]:
    """BilledCost per (provider, billing month)."""
    provider = table["ProviderName"].to_numpy(zero_copy_only=False).astype(str)
    month = _months(table)
    billed = table["BilledCost"].to_numpy()
    out: dict[tuple[str, str], float] = {}
    for p, m, b in zip(provider, month, billed, strict=True):
        out[(p, m)] = out.get((p, m), 0.0) + float(b)
    return out


def _rates(rng: np.random.Generator, months: list[str]) -> list[dict[str, Any]]:
    """EUR -> USD on the first day of each month: a small random walk around 1.09."""
    walk = 1.09 + np.cumsum(rng.normal(0, 0.008, len(months)))
    return [{"from": "EUR", "to": "USD", "rate": round(float(r), 4), "date": f"{m}-01"}
            for m, r in zip(months, walk, strict=True)]


def finish_cost(rng: np.random.Generator, period: Period, aws: pa.Table,
                azure: pa.Table) -> tuple[pa.Table, list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The cost table of both providers with ids, a duplicate, a missing day and late data; the invoices of
    the closed months, exchange rates and notes on what the reconciliation should find."""
    days = period.days
    firsts = _month_firsts(period)
    last_month = int(firsts[-1])
    dup_day = last_month - 6 if last_month >= 6 else days // 2
    gap_day = last_month - 9 if last_month >= 10 else days // 2
    stop = days - STOP_EARLY_DAYS
    true_totals = _totals(aws) | _totals(azure)
    azure_days = _days(period, azure)
    keep = azure_days < stop
    if 1 <= gap_day < stop - 1:
        keep &= azure_days != gap_day
    else:
        gap_day = -1
    months = np.datetime_as_string(period.day_starts()[firsts].astype("M8[M]"))
    open_month = str(months[-1])
    cost = _ids(pa.concat_tables([aws, azure.filter(pa.array(keep))], promote_options="default"), open_month)
    is_aws = pc.equal(cost["ProviderName"], "AWS")
    duplicate = _duplicate(period, cost.filter(is_aws), dup_day)
    cost = pa.concat_tables([cost, duplicate])
    closed = [str(m) for i, m in enumerate(months[:-1]) if i > 0 or period.start == period.start.astype("M8[M]")]
    invoices = [{"provider": p, "billing_period_start": f"{m}-01", "invoice_id": _INVOICE[p].format(month=m),
                 "total": round(true_totals[(p, m)], 2), "currency": "USD" if p == "AWS" else "EUR"}
                for p in ("AWS", "Microsoft") for m in closed if (p, m) in true_totals]
    day_starts = period.day_starts()
    notes = {
        "duplicate": {"resource_id": duplicate["ResourceId"][0].as_py(), "day": str(day_starts[dup_day])[:10],
                      "billed_cost": duplicate["BilledCost"][0].as_py()},
        "missing_day": {"provider": "Microsoft", "day": str(day_starts[gap_day])[:10]} if gap_day >= 0 else None,
        "stops_early": {"provider": "Microsoft", "days": STOP_EARLY_DAYS},
        "invoiced_months": closed,
    }
    return cost, invoices, _rates(rng, [str(m) for m in months]), notes
