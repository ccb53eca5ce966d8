"""Commitment discounts (reservations, savings plans): utilisation, coverage and a recommendation.

All figures come from the FOCUS commitment columns of the `cost` dataset, over the rows whose
`ChargePeriodStart` lies in the window `[start, end)`. The default window (`commitment_window`) ends at the
UTC midnight after the last `ChargePeriodStart` in the store, not at today: billing data arrives days late,
and a window ending today would count the missing days as zero spend. It starts `lookback_days` earlier.
Enumerated values (`CommitmentDiscountStatus`, `ChargeCategory`, `PricingCategory`) compare case-blind; the
currency is `engmetrics.cost.columns.currency` (`BillingCurrency` trimmed, upper case: `usd` is `USD`).

**Utilisation**, per commitment (`ProviderName`, `CommitmentDiscountId`, currency; its
`CommitmentDiscountType` and `CommitmentDiscountCategory` are carried along):

- `used_cost` = sum of `EffectiveCost` over rows with `CommitmentDiscountStatus` 'Used' (usage the commitment
  covered), `unused_cost` = the same over 'Unused' rows (the commitment's idle part; FOCUS puts its amortised
  cost there), `utilization = used_cost / (used_cost + unused_cost)`; null when both are zero, e.g. a
  commitment with only its Purchase rows in the window.
- `used_quantity`, `unused_quantity`, `quantity_utilization`: the same over `CommitmentDiscountQuantity`
  (FOCUS 1.1, in `CommitmentDiscountUnit`); null when no row of the commitment carries a quantity.
- `purchase_cost`: sum of `BilledCost` of the commitment's Purchase rows (what was paid for it in the window).

`rollup` gives the same sums per provider, type, category and currency; utilisation there is recomputed
from the sums (so it is cost-weighted over the commitments).

**Coverage**, per provider, eligible service and currency: `coverage = covered_cost / eligible_cost`, where
`covered_cost` is the `EffectiveCost` of Usage rows with status 'Used' and `eligible_cost` the `EffectiveCost`
of every Usage row of an *eligible* service except 'Unused' rows (idle commitment is not usage). A service
(by default `ServiceName`; `eligible_by="sku"` uses `SkuId`) of a provider is eligible when any row in the
window carries a commitment status ('Used' or 'Unused') for it: something there was bought to be covered.
`coverage_list` is the same ratio over `ListCost` (on-demand-equivalent, so a discount does not shrink the
covered side); null when any eligible row lacks a `ListCost`. A service key that is null in the data is
grouped as one service, shown as null.

**Recommendation**, per provider and currency (`recommend`): the hourly *eligible on-demand spend*
`s_h` is the `EffectiveCost` of Usage rows with `PricingCategory` 'Standard' (FOCUS 1.0) or 'On-Demand'
(1.0-preview) of eligible services: those named, or by default services with `ServiceCategory` 'Compute' or
'Databases' plus the services eligible for coverage above. A row's cost is spread evenly over the hours its
charge period overlaps (a daily row gives 1/24 to each hour). The series runs over the provider's data span
inside the window (first Usage `ChargePeriodStart` to last Usage `ChargePeriodEnd`), with hours without
eligible spend as 0. `best_commitment` then picks the level (see there for the derivation). Usage already
covered by a commitment is not on-demand spend, so the level is what to commit *in addition* to what
exists. Fewer than `MIN_HOURS` hours give `status: insufficient_data` and no level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np

from ..settings import CommitmentSettings
from ..store import Store
from ..timeutil import as_utc
from .columns import charges, currency

__all__ = [
    "DEFAULT_DISCOUNT", "DEFAULT_LOOKBACK_DAYS", "ELIGIBLE_CATEGORIES", "HOUR", "MIN_HOURS", "CommitmentChoice",
    "CommitmentSettings", "CommitmentsReport", "best_commitment", "commitment_window", "commitments_report",
    "cost_with_commitment", "coverage",
    "coverage_by_provider", "data_end", "eligible_keys", "hour_series", "hour_span", "hourly_on_demand",
    "hourly_spend", "recommend", "rollup", "usage_spans", "utilization",
]

DEFAULT_LOOKBACK_DAYS: int = CommitmentSettings.model_fields["lookback_days"].default
DEFAULT_DISCOUNT: float = CommitmentSettings.model_fields["discount"].default
HOUR = 3600
MIN_HOURS = 7 * 24  # a week of hourly spend: less says nothing about a one- or three-year commitment
ELIGIBLE_CATEGORIES = ("compute", "databases")  # FOCUS ServiceCategory values commitments usually cover
ON_DEMAND = ("standard", "on-demand")  # PricingCategory of on-demand usage in FOCUS 1.0 and 1.0-preview
EligibleBy = Literal["service", "sku"]


def data_end(store: Store) -> datetime | None:
    """The UTC midnight after the last `ChargePeriodStart` in the store; None when the store has no cost."""
    last = store.table("cost").ChargePeriodStart.max().to_pyarrow().as_py()
    if last is None:
        return None
    day = as_utc(last)
    return day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def commitment_window(store: Store, lookback_days: int = DEFAULT_LOOKBACK_DAYS,
                      end: datetime | None = None) -> tuple[datetime, datetime]:
    """`[end - lookback_days, end)`; `end` defaults to `data_end` (now when the store holds no cost)."""
    stop = as_utc(end) if end else data_end(store) or datetime.now(UTC).replace(second=0, microsecond=0)
    return stop - timedelta(days=lookback_days), stop


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.NumericValue:
    """num / den, null when den is zero or null (never infinity)."""
    return ibis.ifelse(den > 0, num / den, ibis.null("float64"))


def _sum(value: ir.NumericColumn, where: ir.BooleanValue) -> ir.NumericScalar:
    return value.sum(where=where).fill_null(0.0)


def utilization(store: Store, start: datetime, end: datetime) -> ir.Table:
    """Used and unused cost and quantity per commitment (module docstring); one row per commitment."""
    t = charges(store, start, end).filter(lambda t: t.CommitmentDiscountId.notnull())
    status, quantity = t.CommitmentDiscountStatus.lower(), t.CommitmentDiscountQuantity
    used, unused = status == "used", status == "unused"
    has_quantity = quantity.count(where=used | unused) > 0
    rows = t.group_by(provider=t.ProviderName, commitment_id=t.CommitmentDiscountId,
                      currency=currency(t)).aggregate(
        type=t.CommitmentDiscountType.max(), category=t.CommitmentDiscountCategory.max(),
        used_cost=_sum(t.EffectiveCost, used), unused_cost=_sum(t.EffectiveCost, unused),
        used_quantity=ibis.ifelse(has_quantity, _sum(quantity, used), ibis.null("float64")),
        unused_quantity=ibis.ifelse(has_quantity, _sum(quantity, unused), ibis.null("float64")),
        purchase_cost=_sum(t.BilledCost, t.ChargeCategory.lower() == "purchase"),
        usage_rows=t.count(where=used | unused))
    return _with_ratios(rows)


def _with_ratios(t: ir.Table) -> ir.Table:
    return t.mutate(utilization=_ratio(t.used_cost, t.used_cost + t.unused_cost),
                    quantity_utilization=_ratio(t.used_quantity, t.used_quantity + t.unused_quantity))


def rollup(per_commitment: ir.Table) -> ir.Table:
    """`utilization`'s sums per provider, type, category and currency, with utilisation from the sums."""
    t = per_commitment
    rows = t.group_by(["provider", "type", "category", "currency"]).aggregate(
        commitments=t.commitment_id.nunique(), used_cost=t.used_cost.sum(), unused_cost=t.unused_cost.sum(),
        used_quantity=t.used_quantity.sum(), unused_quantity=t.unused_quantity.sum(),
        purchase_cost=t.purchase_cost.sum())
    return _with_ratios(rows)


def _keyed(t: ir.Table, eligible_by: EligibleBy) -> ir.Table:
    """`t` with `_p` (provider) and `_k` (service or SKU) as non-null join keys ('' for null)."""
    key = t.SkuId if eligible_by == "sku" else t.ServiceName
    return t.mutate(_p=t.ProviderName.fill_null(""), _k=key.fill_null(""))


def _commitment_keys(usage: ir.Table) -> ir.Table:
    """Distinct (`_p`, `_k`) of usage rows carrying a commitment status."""
    return usage.filter(usage.CommitmentDiscountStatus.notnull()).select("_p", "_k").distinct()


def _usage(store: Store, start: datetime, end: datetime, eligible_by: EligibleBy) -> ir.Table:
    t = charges(store, start, end)
    return _keyed(t.filter(t.ChargeCategory.lower() == "usage"), eligible_by)


def coverage(store: Store, start: datetime, end: datetime, eligible_by: EligibleBy = "service") -> ir.Table:
    """Covered and eligible usage cost per provider, eligible service (or SKU) and currency."""
    usage = _usage(store, start, end, eligible_by)
    status = usage.CommitmentDiscountStatus.lower()
    eligible = usage.filter(status.isnull() | (status != "unused")).semi_join(
        _commitment_keys(usage), ["_p", "_k"])
    used = eligible.CommitmentDiscountStatus.lower() == "used"
    rows = eligible.group_by(provider=eligible.ProviderName, key=eligible._k.nullif(""),
                             currency=currency(eligible)).aggregate(
        covered_cost=_sum(eligible.EffectiveCost, used), eligible_cost=eligible.EffectiveCost.sum(),
        covered_list_cost=_sum(eligible.ListCost, used), eligible_list_cost=eligible.ListCost.sum(),
        _missing=eligible.ListCost.isnull().sum())
    return _with_coverage(rows)


def _with_coverage(t: ir.Table) -> ir.Table:
    """Coverage ratios of summed rows; `eligible_list_cost` null when `_missing` list costs were summed."""
    t = t.mutate(eligible_list_cost=ibis.ifelse(t._missing > 0, ibis.null("float64"), t.eligible_list_cost))
    return t.drop("_missing").mutate(coverage=_ratio(t.covered_cost, t.eligible_cost),
                                     coverage_list=_ratio(t.covered_list_cost, t.eligible_list_cost))


def coverage_by_provider(per_key: ir.Table) -> ir.Table:
    """`coverage`'s sums per provider and currency (`coverage_list` null when any key's list cost is)."""
    t = per_key
    rows = t.group_by(["provider", "currency"]).aggregate(
        keys=t.count(), covered_cost=t.covered_cost.sum(), eligible_cost=t.eligible_cost.sum(),
        covered_list_cost=t.covered_list_cost.sum(), eligible_list_cost=t.eligible_list_cost.sum(),
        _missing=t.eligible_list_cost.isnull().sum())
    return _with_coverage(rows)


def eligible_keys(usage: ir.Table) -> ir.Table:
    """Distinct (`_p`, `_k`) of commitment-eligible services among `_keyed` usage rows: ServiceCategory
    Compute or Databases, or a commitment status on any row of the service."""
    by_category = usage.filter(usage.ServiceCategory.lower().isin(ELIGIBLE_CATEGORIES)).select("_p", "_k")
    return by_category.union(_commitment_keys(usage), distinct=True)


def hourly_spend(t: ir.Table, value: ir.NumericColumn, start: datetime, end: datetime) -> ir.Table:
    """`value` of the cost rows `t` per provider, currency and hour (`hour` as epoch seconds, `spend`).

    Each row's value is spread over the hours of `[start, end)` its charge period overlaps, in proportion
    to the overlap; a row with an empty charge period counts in the hour it starts. Hours without spend
    have no row.
    """
    t = t.mutate(_v=value)
    periods = t.group_by(provider=t.ProviderName, currency=currency(t),
                         _s=t.ChargePeriodStart.epoch_seconds(), _e=t.ChargePeriodEnd.epoch_seconds()
                         ).aggregate(_cost=t._v.sum())
    first, last = hour_span(start, end)
    hours = ibis.memtable({"hour": list(range(first, last, HOUR))}, schema={"hour": "int64"})
    s, e, h = periods._s, periods._e, hours.hour
    spans = e > s
    joined = periods.inner_join(hours, (s < h + HOUR) & ((spans & (e > h)) | (~spans & (s >= h))))
    overlap = ibis.least(joined._e, joined.hour + HOUR) - ibis.greatest(joined._s, joined.hour)
    share = ibis.ifelse(joined._e > joined._s, overlap.cast("float64") / (joined._e - joined._s), 1.0)
    spread = joined.mutate(_part=joined._cost * share)
    return spread.group_by(["provider", "currency", "hour"]).aggregate(spend=spread._part.sum())


def hour_span(start: datetime, end: datetime, first: int | None = None, last: int | None = None) -> tuple[int, int]:
    """Whole hours (epoch seconds, `[first, last)`) covering `[start, end)` narrowed to `[first, last)`.

    >>> hour_span(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), 1767229300, 1767232900)
    (1767229200, 1767236400)
    """
    lo, hi = int(as_utc(start).timestamp()), int(as_utc(end).timestamp())
    lo, hi = max(lo, first) if first is not None else lo, min(hi, last) if last is not None else hi
    return lo // HOUR * HOUR, -(-hi // HOUR) * HOUR


def hourly_on_demand(store: Store, start: datetime, end: datetime, services: Sequence[str] | None = None,
                     eligible_by: EligibleBy = "service") -> ir.Table:
    """Eligible on-demand `EffectiveCost` per provider, currency and hour (`hourly_spend`)."""
    usage = _usage(store, start, end, eligible_by)
    if services:
        eligible = usage.filter(usage.ServiceName.isin(list(services)))
    else:
        eligible = usage.semi_join(eligible_keys(usage), ["_p", "_k"])
    od = eligible.filter(eligible.PricingCategory.lower().isin(ON_DEMAND))
    return hourly_spend(od, od.EffectiveCost, start, end)


def usage_spans(store: Store, start: datetime, end: datetime) -> dict[Any, tuple[int, int]]:
    """Per provider: the whole hours (`hour_span`) its Usage rows cover inside the window."""
    t = charges(store, start, end)
    t = t.filter(t.ChargeCategory.lower() == "usage")
    rows = t.group_by(provider=t.ProviderName).aggregate(
        first=t.ChargePeriodStart.epoch_seconds().min(), last=t.ChargePeriodEnd.epoch_seconds().max())
    return {r["provider"]: hour_span(start, end, r["first"], r["last"]) for r in rows.to_pyarrow().to_pylist()}


def hour_series(rows: list[dict[str, Any]], spans: Mapping[Any, tuple[int, int]]
                ) -> dict[tuple[Any, Any], np.ndarray]:
    """`hourly_spend` rows as one array per (provider, currency) over the provider's span, 0 where none.

    A small result finished in Python: at most 24 values per day of the window per provider and currency.
    """
    out: dict[tuple[Any, Any], np.ndarray] = {}
    for r in rows:
        first, last = spans.get(r["provider"], (0, 0))
        series = out.setdefault((r["provider"], r["currency"]), np.zeros(max(0, (last - first) // HOUR)))
        index = (r["hour"] - first) // HOUR
        if 0 <= index < len(series):
            series[index] += r["spend"]
    return out


@dataclass(frozen=True)
class CommitmentChoice:
    """The best commitment level for an hourly spend series and what it would have done.

    All costs are over the whole series. `level` is in on-demand-equivalent currency per hour.
    """

    level: float
    discount: float
    hours: int
    on_demand_cost: float
    committed_cost: float
    savings: float
    savings_share: float | None
    unused_hours_share: float
    expected_unused_cost: float

    @property
    def commitment_cost_per_hour(self) -> float:
        return self.level * (1 - self.discount)


def cost_with_commitment(spend: np.ndarray, level: float, discount: float) -> float:
    """Cost of an hourly series with a commitment of `level` at `discount`: level*(1-d) every hour plus the
    spend above the level, at on-demand prices."""
    return float(np.sum(level * (1 - discount) + np.maximum(0.0, spend - level)))


def best_commitment(spend: Sequence[float] | np.ndarray, discount: float) -> CommitmentChoice:
    """The commitment level L that minimises the series' cost, with discount `discount` = d.

    With a commitment of L (on-demand-equivalent per hour, bought at L*(1-d)), hour h costs
    `c_h(L) = L*(1-d) + max(0, s_h - L)`. The total `C(L) = sum_h c_h(L)` is convex and piecewise linear in
    L, with right derivative `C'(L) = n*(1-d) - #{h: s_h > L}`: raising L costs (1-d) in every hour and saves
    1 in each hour whose spend is above L. It pays to raise L while fewer than a share d of hours have
    `s_h <= L`, so the optimum is the d-quantile of the hourly spend: the k-th smallest value with
    `k = ceil(d*n)` (L = 0 when k = 0). When d*n is a whole number every L between the k-th and (k+1)-th
    values costs the same; the smaller (less commitment at risk) is chosen. Numpy over the small series
    (at most 24 x lookback values) that the engine aggregated.

    Risk: `unused_hours_share` is the share of hours with `s_h < L` (part of the commitment idle) and
    `expected_unused_cost` = sum_h (1-d)*max(0, L - s_h), what was paid for idle commitment.

    >>> c = best_commitment([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], discount=0.3)
    >>> c.level  # k = ceil(0.3*10) = 3: the third smallest value
    2.0
    >>> round(c.savings, 6)  # on-demand 45; committed 10*2*0.7 + (1+2+...+7) = 14 + 28 = 42
    3.0
    """
    s = np.sort(np.asarray(spend, dtype=float))
    if not 0 <= discount < 1:
        raise ValueError(f"the discount must be in [0, 1) (got {discount})")
    n = len(s)
    k = math.ceil(round(discount * n, 9))  # round: 0.3*10 is 3.0000000000000004 in floating point
    level = float(s[k - 1]) if k > 0 and n else 0.0
    on_demand = float(s.sum())
    committed = cost_with_commitment(s, level, discount)
    return CommitmentChoice(
        level=level, discount=discount, hours=n, on_demand_cost=on_demand, committed_cost=committed,
        savings=on_demand - committed, savings_share=(on_demand - committed) / on_demand if on_demand > 0 else None,
        unused_hours_share=float(np.mean(s < level)) if n else 0.0,
        expected_unused_cost=float(np.sum((1 - discount) * np.maximum(0.0, level - s))))


def recommend(store: Store, start: datetime, end: datetime, *, discount: float = DEFAULT_DISCOUNT,
              discounts: Mapping[str, float] | None = None, services: Sequence[str] | None = None,
              eligible_by: EligibleBy = "service") -> list[dict[str, Any]]:
    """One recommendation per provider and currency with eligible on-demand spend in the window (module
    docstring); `discounts` by provider name, `discount` for the others."""
    rows = hourly_on_demand(store, start, end, services, eligible_by).to_pyarrow().to_pylist()
    spans = usage_spans(store, start, end)
    out = []
    for (provider, code), series in sorted(hour_series(rows, spans).items(),
                                           key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        first, last = spans.get(provider, (0, 0))
        rate = (discounts or {}).get(provider, discount) if provider is not None else discount
        item: dict[str, Any] = {
            "provider": provider, "currency": code, "discount": rate, "hours": len(series),
            "first_hour": datetime.fromtimestamp(first, UTC), "end_hour": datetime.fromtimestamp(last, UTC)}
        if len(series) < MIN_HOURS:
            out.append({**item, "status": "insufficient_data", "level_per_hour": None, "savings": None,
                        "savings_share": None, "unused_hours_share": None, "expected_unused_cost": None})
            continue
        c = best_commitment(series, rate)
        out.append({**item, "status": "ok", "level_per_hour": c.level,
                    "commitment_cost_per_hour": c.commitment_cost_per_hour, "on_demand_cost": c.on_demand_cost,
                    "committed_cost": c.committed_cost, "savings": c.savings, "savings_share": c.savings_share,
                    "unused_hours_share": c.unused_hours_share, "expected_unused_cost": c.expected_unused_cost})
    return out


@dataclass
class CommitmentsReport:
    """What `engmetrics cost commitments` shows; `to_dict()` is its `--json`."""

    start: datetime
    end: datetime
    lookback_days: int
    eligible_by: str
    items: list[dict[str, Any]] = field(default_factory=list)
    rollup: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    coverage_by_service: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for r in data["recommendations"]:
            r["lookback_days"] = self.lookback_days
        return data


def _rows(t: ir.Table, order: Sequence[str]) -> list[dict[str, Any]]:
    rows = t.to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[c]) if r[c] is not None else "" for c in order))


def commitments_report(store: Store, *, lookback_days: int = DEFAULT_LOOKBACK_DAYS, end: datetime | None = None,
                       discount: float = DEFAULT_DISCOUNT, discounts: Mapping[str, float] | None = None,
                       services: Sequence[str] | None = None, eligible_by: EligibleBy = "service"
                       ) -> CommitmentsReport:
    """Utilisation per commitment and roll-up, coverage, and the recommendation over one window."""
    if lookback_days < 1:
        raise ValueError(f"the lookback must be at least one day (got {lookback_days})")
    start, stop = commitment_window(store, lookback_days, end)
    per_commitment = utilization(store, start, stop)
    per_key = coverage(store, start, stop, eligible_by)
    return CommitmentsReport(
        start=start, end=stop, lookback_days=lookback_days, eligible_by=eligible_by,
        items=_rows(per_commitment, ("provider", "commitment_id", "currency")),
        rollup=_rows(rollup(per_commitment), ("provider", "type", "category", "currency")),
        coverage=_rows(coverage_by_provider(per_key), ("provider", "currency")),
        coverage_by_service=_rows(per_key, ("provider", "key", "currency")),
        recommendations=recommend(store, start, stop, discount=discount, discounts=discounts, services=services,
                                  eligible_by=eligible_by))
