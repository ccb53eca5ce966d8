"""`engmetrics cost budgets`: each budget's actual, forecast with its 80 % interval, thresholds and alerts; with
`--notify` the alerts go to the configured webhooks, each once. A thin shell over `engmetrics.cost.budgets` and
`engmetrics.notify` (semantics there and in docs/cost.md).

`--at` is the last UTC day counted (default yesterday, the last complete day); each budget's period is the
month or quarter containing it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ..cost.allocation_rules import load_allocation_rules
from ..cost.budgets import BudgetStatus, budget_notifications, budget_status, load_budgets
from ..errors import ValidationFailed
from ..notify import deliver
from ..settings import NotifySettings
from .common import JsonOption, console, emit_json, fail, open_store, state, stderr
from .cost_format import money, pct
from .cost_idle import AtOption, parse_day

__all__ = ["budgets_command"]


def _notify_settings() -> NotifySettings:
    """The `notify` settings; exit 1 when no webhook is configured."""
    configured = state.settings.notify
    if not configured.webhooks:
        raise fail("--notify: no webhook is configured (settings: notify.webhooks)")
    return configured


def _table(statuses: list[BudgetStatus]) -> Table:
    table = Table("budget", "scope", "period", "amount", "actual", "%", "forecast", "80 % interval", "%",
                  "alerts", "status", title="Budgets")
    for s in statuses:
        r = s.to_dict()
        alerts = ", ".join(f"{a['type']} {a['percent']:g} %" for a in r["alerts"]) or "-"
        interval = "-" if r["forecast"] is None else f"{money(r['forecast_low'])} - {money(r['forecast_high'])}"
        table.add_row(r["name"], f"{s.budget.scope.kind} {s.budget.scope.value}",
                      f"{r['period_start']} to {r['period_end']}", f"{money(r['amount'])} {r['currency']}",
                      money(r["actual"]), pct(r["actual_share"], 0), money(r["forecast"]), interval,
                      pct(r["forecast_share"], 0), alerts, r["status"])
    return table


def budgets_command(
    at: AtOption = None,
    notify: Annotated[bool, typer.Option("--notify", help="Send new alerts to the configured webhooks.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Budgets per team, service or account: actual, forecast (80 % interval), thresholds and alerts.

    Example: engmetrics cost budgets --at 2026-03-15 --notify --json
    """
    as_of = parse_day(at)
    root = state.settings.workspace
    report = load_budgets(root)
    if report.errors:
        raise fail(ValidationFailed(report.errors))
    try:
        rules = load_allocation_rules(root)
    except ValidationFailed as exc:
        raise fail(exc) from None
    webhooks = _notify_settings() if notify else None
    with open_store(read_only=webhooks is None) as store:
        statuses = budget_status(store, [d.model for d in report.budgets], as_of, rules=rules)
        sent = deliver(store, webhooks, budget_notifications(statuses)) if webhooks else []
    for issue in report.issues:
        stderr.print(f"[yellow]{issue}[/]", highlight=False)
    if as_json:
        out: dict[str, Any] = {"at": as_of, "items": [s.to_dict() for s in statuses],
                               "notifications": [d.to_dict() for d in sent]}
        emit_json(out)
        return
    console.print(_table(statuses))
    for d in sent:
        console.print(f"notification {d.key} to {d.channel}: {d.status}" + (f" ({d.error})" if d.error else ""))
