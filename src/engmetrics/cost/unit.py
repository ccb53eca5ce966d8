"""Unit economics: allocated cost per unit of business volume (cost per transaction) per service and period.

Semantics:

- Cost is the allocation's `cost` (direct + shared `EffectiveCost`, `allocated_daily(store, rules, "service",
  start, end)`: the service view, where shared rules about teams such as `untagged: true` do not apply) per
  service (`group`), currency and UTC day; volume is the sum of `business_volume.value`
  per service and metric over the rows whose `ts` falls in `[start, end)`, by UTC day of `ts`.
- Days are grouped into periods: `day`, `week` (ISO weeks, Monday first) or `month` (calendar months). The
  first and last period may be partial; cost and volume then cover the same days, so the ratio is fair.
- A service's volume and cost meet when the `business_volume.service` equals the allocation group without
  regard to case (the allocation canonicalises service names). Only services with business volume in the
  window appear (a cost per unit needs units); one row per service, metric, period and currency:
  `cost_per_unit = cost / volume`. A period with volume 0 or no volume row gives null, never infinity; a
  period with volume but no allocated cost has cost 0 (in the service's currency; null when the service has
  no cost in the window at all).
- `change` is the relative change of `cost_per_unit` against the service's previous period (same metric and
  currency): `(now - before) / before`; null in the first period, after a gap, or when either side is null
  or `before` is 0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from ..store import Store
from ..timeutil import as_utc
from .allocation import allocated_daily
from .allocation_rules import AllocationRules

__all__ = ["PERIODS", "Period", "cost_per_unit", "default_unit_window", "unit_costs"]

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
_UNIT = {"day": "D", "week": "W", "month": "M"}
_DEFAULT_SPAN = {"day": timedelta(days=28), "week": timedelta(weeks=12), "month": timedelta(days=182)}


def default_unit_window(end: datetime, period: Period) -> tuple[datetime, datetime]:
    """The default window: whole periods reaching back about 28 days, 12 weeks or 6 months from `end`.

    >>> [d.date().isoformat() for d in default_unit_window(datetime(2026, 4, 1, tzinfo=UTC), "month")]
    ['2025-10-01', '2026-04-01']
    >>> [d.date().isoformat() for d in default_unit_window(datetime(2026, 4, 1, tzinfo=UTC), "week")]
    ['2026-01-05', '2026-04-01']
    """
    first = (as_utc(end) - _DEFAULT_SPAN[period]).date()
    if period == "week":
        first -= timedelta(days=first.weekday())
    elif period == "month":
        first = first.replace(day=1) if first.day == 1 else (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC), as_utc(end)


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """[first, stop) UTC days meeting the instants [start, end)."""
    stop = as_utc(end)
    last = stop.date() if stop.time() == datetime.min.time() else stop.date() + timedelta(days=1)
    return as_utc(start).date(), last


def _period(day: ir.DateValue, period: Period) -> ir.DateValue:
    return day if period == "day" else day.truncate(_UNIT[period])


def _previous(period_start: ir.DateValue, period: Period) -> ir.DateValue:
    """The start of the period before the one starting at `period_start`."""
    return _period(period_start - ibis.interval(days=1), period)


def cost_per_unit(allocated: ir.Table, volume: ir.Table, start: datetime, end: datetime, period: Period = "month",
                  metric: str | None = None) -> ir.Table:
    """Cost per unit from an allocation (`day`, `group`, `cost`, `currency`) and `business_volume` rows.

    Columns: service, metric, period_start, currency, cost, volume, cost_per_unit, change.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)} (got {period!r})")
    first, stop = _days(start, end)
    v = volume.filter((volume.ts >= as_utc(start)) & (volume.ts < as_utc(end)))
    if metric is not None:
        v = v.filter(v.metric == metric)
    v = v.group_by(_k=v.service.lower(), metric=v.metric, period_start=_period(v.ts.date(), period)).aggregate(
        volume=v.value.sum(), _name=v.service.max())
    a = allocated.filter((allocated.day >= first) & (allocated.day < stop))
    a = a.group_by(_k=a.group.lower(), period_start=_period(a.day, period), currency=a.currency).aggregate(
        cost=a.cost.sum(), service=a.group.max())
    a = a.inner_join(v.select("_k", "metric").distinct(), "_k")
    j = a.outer_join(v, [a._k == v._k, a.metric == v.metric, a.period_start == v.period_start])
    rows = j.select(service=ibis.coalesce(j.service, j._name), metric=ibis.coalesce(j.metric, j.metric_right),
                    period_start=ibis.coalesce(j.period_start, j.period_start_right), currency=j.currency,
                    cost=j.cost.fill_null(0.0), volume=j.volume)
    service = ibis.window(group_by=[rows.service, rows.metric])
    rows = rows.mutate(currency=ibis.coalesce(rows.currency, rows.currency.max().over(service)),
                       cost_per_unit=ibis.ifelse(rows.volume > 0, rows.cost / rows.volume, ibis.null("float64")))
    w = ibis.window(group_by=[rows.service, rows.metric, rows.currency], order_by=rows.period_start)
    rows = rows.mutate(_before=rows.cost_per_unit.lag().over(w), _before_start=rows.period_start.lag().over(w))
    adjacent = rows._before_start == _previous(rows.period_start, period)
    change = ibis.ifelse(adjacent & (rows._before > 0), (rows.cost_per_unit - rows._before) / rows._before,
                         ibis.null("float64"))
    return rows.mutate(change=change).drop("_before", "_before_start")


def unit_costs(store: Store, rules: AllocationRules, start: datetime, end: datetime, period: Period = "month",
               metric: str | None = None) -> list[dict[str, Any]]:
    """`cost_per_unit` over the store's allocation by service, as rows ordered by service, metric, period."""
    allocated = allocated_daily(store, rules, "service", start, end)
    rows = cost_per_unit(allocated, store.table("business_volume"), start, end, period, metric)
    out = rows.to_pyarrow().to_pylist()
    return sorted(out, key=lambda r: (r["service"], r["metric"], r["period_start"], r["currency"] or ""))
