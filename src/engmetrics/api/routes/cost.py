"""Cost: allocation, idle resources, budgets, commitments, unit cost and reconciliation, each the same JSON as its
`engmetrics cost ... --json` command (thin shells over `engmetrics.cost`; semantics there and in docs/cost.md).

The `cost` dataset holds raw billing rows and is restricted: every route here is derived from its rows, so the
workspace's access policy decides who may call them (`policies/access.yaml`; by default manager, auditor and
metrics-admin: 403 for other roles, 428 when the policy requires a reason and none is given) and each call is
written to the audit log (`read.dataset`, target `cost`; see `engmetrics.governance.access`). Where the policy
lets a team-member read cost, it gets only its own teams' rows of what is grouped by team: allocation `by=team`
(the explicit "(untagged)" and "(unallocated)" rows stay: they are nobody's team; totals and tag coverage are per
currency, provider and account), budgets scoped to a team (service and account budgets stay), and idle items and
unknown resources tagged with a team (untagged resources are left out, and `estimated_monthly_savings` then sums
the items shown). Team names compare without regard to case, as cost allocation does.

`from` / `to` are read like the incidents routes (ISO dates or instants, UTC unless they carry an offset, `to`
exclusive, a date alone as `to` includes that day; 422 when `to` is not after `from`). `at` is the last UTC day
counted (default yesterday). Budgets are evaluated, never notified (`engmetrics cost budgets --notify` sends).
Reconciliation reads exchange rates from the workspace's default file only (`budgets/rates.yaml`, `.yml` or
`.csv`) and no invoices file: a request names no file. `engmetrics cost validate FILE` and `whatif` with a price
table read files and are not served.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ...auth.roles import Principal, Role
from ...catalog.periods import default_as_of
from ...cost.allocation import UNALLOCATED, UNTAGGED, allocation_report, parse_by
from ...cost.allocation_rules import load_allocation_rules
from ...cost.budgets import budget_status, load_budgets
from ...cost.commitments import commitments_report, data_end
from ...cost.idle import idle_resources
from ...cost.reconcile import DEFAULT_TOLERANCE, RATES_FILES, default_rates_path, load_rates, reconcile
from ...cost.unit import default_unit_window, unit_costs
from ...errors import InputError, ValidationFailed
from ...jsonio import plain
from ...settings import Settings
from ...timeutil import default_window
from ..auth import READERS, requires
from ..deps import CurrentUser, SettingsDep, StoreDep, reads
from ..problems import Problem, bad_parameter
from .incidents import From, To, date_window

__all__ = ["RATES_FILES", "router"]

router = APIRouter(tags=["cost"])

_NOBODYS = (UNTAGGED, UNALLOCATED)  # explicit allocation rows that are no team's
At = Annotated[date | None, Query(description="Last UTC day counted, ISO date (default yesterday).")]


def _sees(user: Principal, team: str | None) -> bool:
    """`Principal.sees_team`, case-blind for a team-member (as cost allocation compares team names)."""
    return user.sees_team(team) or (team is not None and team.lower() in {t.lower() for t in user.teams})


def _last_day(at: date | None) -> date:
    return at or default_as_of()


@router.get("/cost/allocation", dependencies=[requires(*READERS), reads("cost")])
def cost_allocation(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
    by: Annotated[str, Query(max_length=200, description="team, service, environment or tag:KEY.")] = "team",
    basis: Annotated[Literal["effective", "billed"], Query(description="effective (EffectiveCost, amortised) or "
                                                           "billed (BilledCost, as invoiced).")] = "effective",
) -> dict[str, Any]:
    """Cost per group with shared cost split by the workspace's allocation rules, explicit "(untagged)" and
    "(unallocated)" rows, totals per currency and tag coverage per provider and account, as `engmetrics cost
    allocate --json` (default window: the 28 days before `to`, `to` default now); by team, a team-member gets
    its own teams' rows (and the two explicit rows)."""
    try:
        view, _ = parse_by(by)
    except InputError as exc:
        raise bad_parameter("by", str(exc)) from None
    begin, stop = date_window(start, end, default=True)
    rules = load_allocation_rules(settings.workspace)
    report = plain(allocation_report(store, rules, by, begin, stop, basis))  # type: ignore[arg-type]
    if view == "team" and user.role == Role.team_member:
        report["items"] = [i for i in report["items"] if i["group"] in _NOBODYS or _sees(user, i["group"])]
    return report


@router.get("/cost/idle", dependencies=[requires(*READERS), reads("cost")])
def cost_idle(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, at: At = None,
    lookback_days: Annotated[int | None, Query(ge=1, le=366, description="Days of utilisation judged, ending with "
                                               "`at` (default the settings' cost.idle, 14).")] = None,
) -> dict[str, Any]:
    """Idle resources and rightsizing candidates (by default p95 CPU <= 5 %, and p95 CPU < 40 % with memory < 50 %;
    the settings' cost.idle) with estimated monthly savings, as `engmetrics cost idle --json`; a team-member gets
    the resources tagged with its own teams only."""
    day = _last_day(at)
    stop = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    rules = load_allocation_rules(settings.workspace)
    report = idle_resources(store, settings.cost.idle, end=stop, lookback_days=lookback_days, rules=rules)
    if user.role == Role.team_member:
        report.items = [i for i in report.items if _sees(user, i["team"])]
        report.unknown = [i for i in report.unknown if _sees(user, i["team"])]
    return plain(report.to_dict())


@router.get("/cost/budgets", dependencies=[requires(*READERS), reads("cost")])
def cost_budgets(store: StoreDep, settings: SettingsDep, user: CurrentUser, at: At = None) -> dict[str, Any]:
    """Each budget's actual, forecast with its 80 % interval, thresholds, alerts and status on the day `at`, as
    `engmetrics cost budgets --json` (without `--notify`: nothing is sent, `notifications` is empty); a
    team-member gets its own teams' team budgets (and every service and account budget)."""
    day = _last_day(at)
    found = load_budgets(settings.workspace)
    if found.errors:
        raise ValidationFailed(found.errors)
    rules = load_allocation_rules(settings.workspace)
    budgets = [d.model for d in found.budgets if d.model.scope.team is None or _sees(user, d.model.scope.team)]
    statuses = budget_status(store, budgets, day, rules=rules) if budgets else []
    return plain({"at": day, "items": [s.to_dict() for s in statuses], "notifications": []})


@router.get("/cost/commitments", dependencies=[requires(*READERS), reads("cost")])
def cost_commitments(
    store: StoreDep, settings: SettingsDep, end: To = None,
    lookback_days: Annotated[int | None, Query(ge=1, le=366, description="Days before `to` judged (default the "
                                               "settings' cost.commitments, 30).")] = None,
    discount: Annotated[float | None, Query(ge=0, le=0.99, description="Commitment discount against on-demand "
                                            "for the recommendation (default the settings', 0.3).")] = None,
) -> dict[str, Any]:
    """Utilisation and coverage of reservations and savings plans, and the commitment level that would have saved
    most over the lookback with its risk of unused commitment, as `engmetrics cost commitments --json` (`to`
    default: the UTC midnight after the last charge in the store)."""
    _, stop = date_window(None, end, default=False)
    configured = settings.cost.commitments
    report = commitments_report(store, lookback_days=lookback_days or configured.lookback_days, end=stop,
                                discount=configured.discount if discount is None else discount,
                                discounts=configured.discounts, services=configured.services)
    return plain(report.to_dict())


@router.get("/cost/unit", dependencies=[requires(*READERS), reads("cost")])
def cost_unit(
    store: StoreDep, settings: SettingsDep, start: From = None, end: To = None,
    metric: Annotated[str | None, Query(max_length=200, description="Only this business_volume metric (default: "
                                        "each metric of each service).")] = None,
    period: Annotated[Literal["day", "week", "month"], Query(description="day, week (ISO, Monday first) or "
                                                             "month.")] = "month",
) -> dict[str, Any]:
    """Cost per unit of business volume (allocated EffectiveCost / business_volume) per service and period, with
    the change from the period before, as `engmetrics cost unit --json` (default window: whole periods reaching
    back about 28 days, 12 weeks or 6 months from `to`, whose default is the UTC midnight after the last charge)."""
    begin, stop = date_window(start, end, default=False)
    stop = stop or data_end(store) or default_window(None, None)[1]
    begin = begin or default_unit_window(stop, period)[0]
    if stop <= begin:
        raise bad_parameter("to", f"{stop.isoformat()} must be after from ({begin.isoformat()})")
    rules = load_allocation_rules(settings.workspace)
    items = unit_costs(store, rules, begin, stop, period, metric or None)
    return plain({"period": period, "metric": metric or None, "from": begin, "to": stop, "items": items})


def _workspace_rates(settings: Settings) -> list[Any]:
    root = settings.workspace
    path = default_rates_path(root)
    if path is None:
        return []
    try:
        return load_rates(path)
    except InputError as exc:  # the workspace's file, not the request
        raise Problem(500, f"the workspace's exchange rates could not be read: {exc}") from None


@router.get("/cost/reconcile", dependencies=[requires(*READERS), reads("cost")])
def cost_reconcile(
    store: StoreDep, settings: SettingsDep, start: From = None, end: To = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$", description="Convert every amount into this "
                                          "ISO 4217 currency (default USD when the workspace has rates, else "
                                          "none).")] = None,
    tolerance: Annotated[float, Query(ge=0, description="Largest difference that still matches.")]
    = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """Line items per provider and billing period with missing days, duplicated line items and providers whose
    data stops early, in one currency through the workspace's rates file (`budgets/rates.yaml`), as `engmetrics
    cost reconcile --json` without `--rates` or `--invoices`: over the billing periods starting in [`from`, `to`)
    (default: every billing period in the store)."""
    begin, stop = date_window(start, end, default=False)
    rates = _workspace_rates(settings)
    target = currency or ("USD" if rates else None)
    return plain(reconcile(store, rates=rates, target=target, tolerance=tolerance, start=begin, end=stop).to_dict())
