"""`engmetrics cost idle`: idle resources and rightsizing candidates with estimated monthly savings. A thin shell
over `engmetrics.cost.idle.idle_resources` (semantics there and in docs/cost.md).

`--at` is the last UTC day judged (default yesterday, the last complete day): the lookback is the
`--lookback-days` days ending with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..catalog.periods import default_as_of
from ..cost.allocation_rules import load_allocation_rules
from ..cost.idle import IdleReport, idle_resources
from ..errors import ValidationFailed
from .common import JsonOption, console, emit_json, fail, open_store, state
from .cost_format import money, pct

__all__ = ["AtOption", "idle_command", "parse_day"]

AtOption = Annotated[str | None, typer.Option("--at", help="Last UTC day counted (ISO date); default yesterday.")]


def parse_day(text: str | None) -> date:
    """`--at`: an ISO date, default yesterday (the last complete UTC day); exit 1 on a bad date."""
    try:
        return date.fromisoformat(text) if text else default_as_of()
    except ValueError:
        raise fail(f"--at: not an ISO date: {text!r} (e.g. 2026-03-31)") from None


def _table(report: IdleReport) -> Table:
    days = ", ".join(f"{p} {n}" for p, n in report.cost_days_by_provider.items()) or "none"
    table = Table("resource", "type", "provider", "region", "verdict", "p95 CPU", "p95 mem", "samples",
                  "monthly cost", "savings / month", "team", "service",
                  title=f"Idle and rightsizing, {report.start.date()} to {report.end.date() - timedelta(days=1)}",
                  caption=f"{report.evaluated} judged, {report.excluded_young} younger than the lookback, "
                          f"{report.insufficient_samples} with too few samples, {len(report.unknown)} with cost but "
                          f"no utilisation (unknown); monthly cost over the days each provider has billed: {days}")
    for i in report.items:
        table.add_row(i["resource_id"], i["resource_type"] or "-", i["provider"] or "-", i["region"] or "-",
                      i["verdict"], pct(i["p95_cpu"]), pct(i["p95_mem"]), str(i["samples"]),
                      money(i["monthly_cost"]), f"{money(i['estimated_monthly_savings'])} {i['currency'] or ''}",
                      i["team"] or "-", i["service"] or "-")
    return table


def idle_command(
    lookback_days: Annotated[int | None, typer.Option("--lookback-days", min=1, max=366,
                                                      help="Days of utilisation judged (default 14).")] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Idle resources (p95 CPU <= 5 %) and rightsizing candidates (p95 CPU < 40 %, memory < 50 %) over a lookback.

    Example: engmetrics cost idle --lookback-days 14 --at 2026-03-31 --json
    """
    day = parse_day(at)
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    try:
        rules = load_allocation_rules(state.settings.workspace)
    except ValidationFailed as exc:
        raise fail(exc) from None
    with open_store(read_only=True) as store:
        report = idle_resources(store, state.settings.cost.idle, end=end, lookback_days=lookback_days, rules=rules)
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(_table(report))
    totals = report.savings_by_currency()
    console.print("Estimated savings per month: " + (", ".join(f"{v:,.2f} {k}" for k, v in totals.items()) or "none"))
