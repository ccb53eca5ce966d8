"""`engmetrics cost allocate`: the period's cost per team, service, environment or tag value, shared cost
split by the workspace's allocation rules (`budgets/*.yaml`, `kind: AllocationRules`), with tag coverage per
provider and account. A thin shell over `engmetrics.cost.allocation.allocation_report` (semantics there).

`--from` / `--to` are read like `engmetrics incidents stats` (ISO dates or instants, UTC unless they carry an
offset, `--to` exclusive, a date alone as `--to` includes that day); the default period is the 28 days before
`--to` (default now)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ..cost.allocation import BASES, allocation_report, parse_by
from ..cost.allocation_rules import load_allocation_rules
from ..errors import EngmetricsError
from .common import JsonOption, console, emit_json, fail, open_store, state
from .cost_format import money, pct
from .incidents_stats import FromOption, ToOption, default_window, parse_window

__all__ = ["allocate_command"]


def _items_table(report: dict[str, Any]) -> Table:
    table = Table(report["by"], "cost", "share", "direct", "shared", "currency",
                  title=f"Cost by {report['by']} ({report['basis']}), {report['from']:%Y-%m-%d %H:%M} to "
                        f"{report['to']:%Y-%m-%d %H:%M} UTC")
    for i in report["items"]:
        table.add_row(i["group"], money(i["cost"]), pct(i["share"]), money(i["direct"]), money(i["shared"]),
                      i["currency"])
    for t in report["totals"]:
        table.add_row("[bold]total[/]", money(t["cost"]), pct(t["share"]), money(t["direct"]),
                      money(t["shared"]), t["currency"], end_section=True)
    return table


def _coverage_table(report: dict[str, Any]) -> Table:
    rows = [c for c in report["coverage"] if c["cost"] or c["tagged"] or c["untagged"]]
    hidden = len(report["coverage"]) - len(rows)
    table = Table("provider", "account", "cost", "tags", "rules", "fallback", "shared", "untagged", "coverage",
                  "currency", title=f"How the cost was allocated by {report['by']} (coverage = by tags / cost)",
                  caption=f"{hidden} accounts without cost not shown" if hidden else None)
    for c in rows:
        table.add_row(c["provider"] or "-", c["account"] or "-", money(c["cost"]), money(c["tagged"]),
                      money(c["rule"]), money(c["fallback"]), money(c["shared"]), money(c["untagged"]),
                      pct(c["coverage"]), c["currency"])
    return table


def allocate_command(
    by: Annotated[str, typer.Option("--by", help="team, service, environment or tag:KEY.")] = "team",
    start: FromOption = None,
    end: ToOption = None,
    basis: Annotated[str, typer.Option("--basis", help="effective (EffectiveCost, amortised) or billed "
                                       "(BilledCost, as invoiced).")] = "effective",
    as_json: JsonOption = False,
) -> None:
    """Cost per group with shared cost split by the allocation rules, untagged and unallocated rows, and tag
    coverage per provider and account.

    Example: engmetrics cost allocate --by team --from 2026-03-01 --to 2026-03-31 --basis billed --json
    """
    if basis not in BASES:
        raise fail(f"--basis must be one of {', '.join(BASES)} (got {basis!r})")
    try:
        parse_by(by)
    except EngmetricsError as exc:
        raise fail(f"--{exc}") from None
    begin, stop = default_window(*parse_window(start, end))
    try:
        rules = load_allocation_rules(state.settings.workspace)
        with open_store(read_only=True) as store:
            report = allocation_report(store, rules, by, begin, stop, basis)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json(report)
        return
    console.print(_items_table(report))
    console.print(_coverage_table(report))
