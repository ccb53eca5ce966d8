"""Cost budgets: `kind: Budget` documents in the workspace's `budgets/*.yaml`, their actuals, forecasts and alerts.

A budget covers one **scope**: a `team` or a `service` (cost allocated by `engmetrics.cost.allocation`, shared
cost included, with the workspace's allocation rules; the group is compared without regard to case) or an
`account` (`SubAccountId`, else `BillingAccountId`, summed directly: no allocation). The **period** is the
calendar month or quarter (UTC) that contains the evaluation day; `period_start` and `period_end` are its first
and last days. The **basis** is `effective` (EffectiveCost, amortised) or `billed` (BilledCost). Only cost in the
budget's `currency` counts (`engmetrics.cost.columns.currency`: trimmed, upper case); cost of the scope in other
currencies, over the same days, is reported in `other_currencies`, never added.

```yaml
kind: Budget
name: platform-monthly
scope: {team: platform}          # or {service: checkout} or {account: "123456789012"}
period: monthly                  # or quarterly
amount: 12000
currency: USD
basis: effective                 # or billed
thresholds: {actual: [50, 80, 100], forecast: [80, 100]}   # percent of amount; default 50/80/100 both
```

**Actual**: the scope's cost on the period's days up to `actual_through` (inclusive), by UTC day of
`ChargePeriodStart`. Billing exports lag, each provider by its own delay: a provider's *last data day* is the
last UTC day, up to the evaluation day `as_of`, with any `cost` row of that provider (`ProviderName`; any
account, any scope). The scope's *providers* are those it has cost from in the budget's currency between
`FIT_DAYS` before the period and `as_of`: the providers of the allocated rows (direct or shared) for a team or
service, of the account's own rows for an account. `actual_through` is the earliest last data day of the
scope's providers (the last day all of them have data for); for a scope with no cost there, the latest last
data day of any provider; None when the store has no cost up to `as_of`. Days after `actual_through` are
forecast, not counted, even when a faster provider has data for them: counting them would read the lagging
provider's cost as zero. (A provider whose data has stopped for good holds its scopes back until their cost
from it is older than that window; `engmetrics cost reconcile` reports such a provider as `stops_early`.)
`days_observed` = days from `period_start` to `actual_through`.

**Forecast** of the period's total = actual + `engmetrics.cost.forecast.forecast_remaining` over the days after
`actual_through` to `period_end`: trend and weekday effects fitted to the scope's daily cost over the last four
weeks (days before the period included, from the scope's first day with cost), with its 80 % interval
(`forecast_low` / `forecast_high`). Fewer than 3 `days_observed`: no forecast, status `insufficient_data`.

**Thresholds** (percent of `amount`): `actual_crossed` when actual >= amount x percent / 100, `forecast_crossed`
when the point forecast is; None for a percent that is not in that list (or without a forecast). **Alerts**: an
`actual` alert for every actual threshold crossed; a `forecast` alert for every forecast threshold the
forecast crosses while the actual has not crossed that percent yet (the early warning).

**Status**, first that applies: `over_budget` (actual >= amount), `insufficient_data`, `forecast_over_budget`
(forecast >= amount), `warning` (some alert), `ok`.

**Notifications** (`budget_notifications`): one per alert, keyed by budget, period start, alert type and percent
(`budget:NAME:PERIOD_START:forecast:100`). `engmetrics.notify` sends each key once per webhook, so each alert is
sent once per period: evaluating again, or a forecast that falls (100 -> 80: the 80 % alert went out with the
100 % one) and rises again, sends nothing; a threshold crossed for the first time in the period (of either
type, above or below the ones already sent) is a new message; the next period starts afresh.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import Issue
from ..notify import Notification
from ..store import Store
from ..validation import IssueReport
from .allocation import BASES, allocated_daily
from .allocation_rules import AllocationRules
from .columns import UNKNOWN_CURRENCY, charges, currency
from .forecast import FIT_DAYS, MIN_DAYS, forecast_remaining
from .specs import Loaded, load_kind

__all__ = ["KIND", "Budget", "BudgetScope", "BudgetStatus", "BudgetsReport", "Thresholds", "budget_notifications",
           "budget_status", "load_budgets", "period_bounds"]

KIND = "Budget"
DEFAULT_THRESHOLDS = [50.0, 80.0, 100.0]


def _percents(value: list[float]) -> list[float]:
    if any(p <= 0 for p in value):
        raise ValueError("threshold percentages must be positive")
    return sorted(set(value))


class Thresholds(BaseModel):
    """Percentages of the amount at which the actual, and the forecast, raise an alert."""

    model_config = ConfigDict(extra="forbid")
    actual: list[float] = Field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    forecast: list[float] = Field(default_factory=lambda: list(DEFAULT_THRESHOLDS))

    _positive = field_validator("actual", "forecast")(_percents)


class BudgetScope(BaseModel):
    """Exactly one of team, service, account."""

    model_config = ConfigDict(extra="forbid")
    team: str | None = None
    service: str | None = None
    account: str | None = None

    @field_validator("account", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> BudgetScope:
        if sum(v is not None for v in (self.team, self.service, self.account)) != 1:
            raise ValueError("scope names exactly one of team, service, account")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("team", "service", "account") if getattr(self, k) is not None)

    @property
    def value(self) -> str:
        return getattr(self, self.kind)


class Budget(BaseModel):
    """One `kind: Budget` document (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["Budget"] = KIND
    name: str = Field(min_length=1)
    description: str | None = None
    scope: BudgetScope
    period: Literal["monthly", "quarterly"]
    amount: float = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code of BillingCurrency")
    basis: Literal["effective", "billed"] = "effective"
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


@dataclass
class BudgetsReport(IssueReport):
    """The workspace's budgets that validated, and every issue found."""

    budgets: list[Loaded[Budget]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def load_budgets(root: Path) -> BudgetsReport:
    """Every `kind: Budget` document of `ROOT/budgets/`; a repeated name is an error at its second definition."""
    found = load_kind(root, KIND, Budget)
    report = BudgetsReport(issues=list(found.issues))
    seen: dict[str, str] = {}
    for doc in found.documents:
        name = doc.model.name
        if name in seen:
            report.issues.append(doc.issue("unique", f"budget {name!r} is already defined at {seen[name]}", "name"))
            continue
        seen[name] = f"{doc.file}:{doc.line}"
        report.budgets.append(doc)
    return report


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """First and last day of the calendar month or quarter containing `day`.

    >>> period_bounds("quarterly", date(2026, 5, 17))
    (datetime.date(2026, 4, 1), datetime.date(2026, 6, 30))
    """
    first_month = day.month if period == "monthly" else 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    months = 1 if period == "monthly" else 3
    year, month = divmod(first_month - 1 + months, 12)
    return start, date(day.year + year, month + 1, 1) - timedelta(days=1)


@dataclass
class BudgetStatus:
    """One budget evaluated on one day (field meanings in the module docstring)."""

    budget: Budget
    period_start: date
    period_end: date
    actual_through: date | None
    actual: float
    forecast: dict[str, Any] | None
    other_currencies: dict[str, float]
    thresholds: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    status: str

    @property
    def days_observed(self) -> int:
        if self.actual_through is None or self.actual_through < self.period_start:
            return 0
        return (self.actual_through - self.period_start).days + 1

    def to_dict(self) -> dict[str, Any]:
        b, f = self.budget, self.forecast or {}
        return {
            "name": b.name, "scope": {b.scope.kind: b.scope.value}, "period": b.period,
            "period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
            "actual_through": self.actual_through.isoformat() if self.actual_through else None,
            "days_observed": self.days_observed, "amount": b.amount, "currency": b.currency, "basis": b.basis,
            "actual": self.actual, "actual_share": round(self.actual / b.amount, 6),
            "forecast": f.get("total"), "forecast_low": f.get("low"), "forecast_high": f.get("high"),
            "forecast_share": round(f["total"] / b.amount, 6) if f else None, "forecast_method": f.get("method"),
            "thresholds": self.thresholds, "alerts": self.alerts, "status": self.status,
            "other_currencies": self.other_currencies,
        }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _last_days(store: Store, as_of: date) -> dict[str | None, date]:
    """Each provider's last data day up to `as_of` (module docstring)."""
    c = store.table("cost")
    c = c.filter(c.ChargePeriodStart < _day_start(as_of + timedelta(days=1)))
    rows = c.group_by(provider=c.ProviderName).agg(last=c.ChargePeriodStart.date().max())
    return {r["provider"]: r["last"] for r in rows.to_pyarrow().to_pylist()}


def _account_daily(store: Store, basis: str, start: date, end: date) -> ir.Table:
    """Direct cost per (day, account, currency, provider) for `start <= day < end`: `allocated_daily`'s columns."""
    c = charges(store, _day_start(start), _day_start(end))
    return c.group_by(day=c.ChargePeriodStart.date(), group=c.SubAccountId.fill_null(c.BillingAccountId),
                      currency=currency(c, UNKNOWN_CURRENCY), provider=c.ProviderName).agg(cost=c[BASES[basis]].sum())


ByProvider = dict[str | None, dict[date, float]]  # provider -> day -> cost
Daily = dict[str, dict[str, ByProvider]]  # lower-case group -> currency -> provider -> day -> cost


def _daily(store: Store, rules: AllocationRules, kind: str, basis: str, start: date, end: date) -> Daily:
    """Daily cost of every group of `kind` (team, service, account) per provider in `[start, end)`; a few rows per
    group and day come out of the engine, sorted into dictionaries here."""
    if kind == "account":
        t = _account_daily(store, basis, start, end)
    else:
        t = allocated_daily(store, rules, kind, _day_start(start), _day_start(end), basis, by_provider=True)
    t = t.group_by(group=t.group.lower(), day=t.day, currency=t.currency, provider=t.provider).agg(
        cost=t.cost.sum())
    out: Daily = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for row in t.filter(t.group.notnull()).to_pyarrow().to_pylist():
        out[row["group"]][row["currency"]][row["provider"]][row["day"]] = row["cost"]
    return out


def _through(providers: Collection[str | None], last_days: dict[str | None, date]) -> date | None:
    """The earliest last data day of `providers`; without providers the latest of all (module docstring)."""
    if providers:
        return min(last_days[p] for p in providers)
    return max(last_days.values(), default=None)


def _summed(by_provider: Iterable[dict[date, float]]) -> dict[date, float]:
    out: dict[date, float] = defaultdict(float)
    for costs in by_provider:
        for day, cost in costs.items():
            out[day] += cost
    return out


def _counted(costs: dict[date, float], start: date, through: date | None) -> float:
    """The cost of the days from `start` to `through` (none when `through` is None)."""
    return round(sum(v for d, v in costs.items() if through is not None and start <= d <= through), 6)


def _series(costs: dict[date, float], period_start: date, through: date) -> tuple[date, list[float]]:
    """The scope's daily costs up to `through`, zeros for days without cost, from `FIT_DAYS` before the
    period (or the scope's first day with cost, if later; never later than the period's start)."""
    first = min([*costs, period_start])  # `costs` starts FIT_DAYS before the period (see budget_status)
    days = (through - first).days + 1
    return first, [costs.get(first + timedelta(days=i), 0.0) for i in range(days)]


def _forecast(costs: dict[date, float], period_start: date, period_end: date, through: date | None,
              actual: float) -> dict[str, Any] | None:
    if through is None or (through - period_start).days + 1 < MIN_DAYS:
        return None
    first, series = _series(costs, period_start, through)
    f = forecast_remaining(series, first, (period_end - through).days)
    return {"total": round(actual + f.remaining, 6), "low": round(actual + f.low, 6),
            "high": round(actual + f.high, 6), "method": f.method}


def _thresholds(b: Budget, actual: float, forecast: dict[str, Any] | None) -> list[dict[str, Any]]:
    percents = sorted(set(b.thresholds.actual) | set(b.thresholds.forecast))
    return [{"percent": p, "amount": round(b.amount * p / 100, 6),
             "actual_crossed": actual >= b.amount * p / 100 if p in b.thresholds.actual else None,
             "forecast_crossed": (forecast["total"] >= b.amount * p / 100
                                  if forecast is not None and p in b.thresholds.forecast else None)}
            for p in percents]


def _alerts(b: Budget, actual: float, forecast: dict[str, Any] | None,
            thresholds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    alerts = []
    for t in thresholds:
        if t["actual_crossed"]:
            alerts.append({"type": "actual", "percent": t["percent"],
                           "message": f"actual {actual:,.2f} {b.currency} reached {t['percent']:g} % of the budget"})
        elif forecast is not None and t["forecast_crossed"] and actual < b.amount * t["percent"] / 100:
            alerts.append({"type": "forecast", "percent": t["percent"],
                           "message": f"forecast {forecast['total']:,.2f} {b.currency} "
                                      f"crosses {t['percent']:g} % of the budget before the actual does"})
    return alerts


def _status(b: Budget, actual: float, forecast: dict[str, Any] | None, alerts: list[dict[str, Any]]) -> str:
    if actual >= b.amount:
        return "over_budget"
    if forecast is None:
        return "insufficient_data"
    if forecast["total"] >= b.amount:
        return "forecast_over_budget"
    return "warning" if alerts else "ok"


def _evaluate(b: Budget, daily: Daily, as_of: date, last_days: dict[str | None, date]) -> BudgetStatus:
    start, end = period_bounds(b.period, as_of)
    scope = daily.get(b.scope.value.lower(), {})
    by_provider = scope.get(b.currency, {})
    through = _through(list(by_provider), last_days)
    costs = _summed(by_provider.values())
    actual = _counted(costs, start, through)
    others = {c: _counted(_summed(per.values()), start, through) for c, per in sorted(scope.items())
              if c != b.currency}
    forecast = _forecast(costs, start, end, through, actual)
    thresholds = _thresholds(b, actual, forecast)
    alerts = _alerts(b, actual, forecast, thresholds)
    return BudgetStatus(b, start, end, through, actual, forecast, {c: v for c, v in others.items() if v},
                        thresholds, alerts, _status(b, actual, forecast, alerts))


def budget_status(store: Store, budgets: list[Budget], as_of: date, *,
                  rules: AllocationRules | None = None) -> list[BudgetStatus]:
    """Each budget evaluated on the day `as_of`, in the order given (module docstring).

    One engine query per (scope kind, basis, period length), however many budgets share it.
    """
    rules = rules or AllocationRules()
    last_days = _last_days(store, as_of)
    cache: dict[tuple[str, str, str], Daily] = {}
    out = []
    for b in budgets:
        key = (b.scope.kind, b.basis, b.period)
        if key not in cache:
            start, _ = period_bounds(b.period, as_of)
            cache[key] = _daily(store, rules, b.scope.kind, b.basis, start - timedelta(days=FIT_DAYS),
                                as_of + timedelta(days=1))
        out.append(_evaluate(b, cache[key], as_of, last_days))
    return out


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _fields(s: BudgetStatus) -> dict[str, str]:
    b = s.budget
    fields = {"Scope": f"{b.scope.kind} {b.scope.value}",
              "Period": f"{s.period_start.isoformat()} to {s.period_end.isoformat()}",
              "Budget": _money(b.amount, b.currency),
              "Actual": f"{_money(s.actual, b.currency)} ({s.actual / b.amount:.0%}) through "
                        f"{s.actual_through.isoformat() if s.actual_through else '-'}"}
    if s.forecast:
        fields["Forecast"] = (f"{_money(s.forecast['total'], b.currency)} ({s.forecast['total'] / b.amount:.0%}), "
                              f"80 % interval {s.forecast['low']:,.2f} to {s.forecast['high']:,.2f}")
    return fields


def budget_notifications(statuses: list[BudgetStatus]) -> list[Notification]:
    """One notification per alert, keyed `budget:NAME:PERIOD_START:TYPE:PERCENT` (module docstring)."""
    out = []
    for s in statuses:
        b, fields = s.budget, _fields(s)
        for a in s.alerts:
            what = "actual reached" if a["type"] == "actual" else "forecast crosses"
            out.append(Notification("budget", f"budget:{b.name}:{s.period_start.isoformat()}:{a['type']}:"
                                              f"{a['percent']:g}",
                                    f"Budget {b.name}: {what} {a['percent']:g} %", a["message"], fields))
    return out
