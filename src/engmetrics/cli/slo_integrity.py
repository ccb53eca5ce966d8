"""`engmetrics slo integrity`: anti-gaming checks on SLO versions, exclusions and alerting."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..slo import check_slos
from ..slo.integrity import Finding, integrity
from .common import JsonOption, console, emit_json, open_store, state, stderr

__all__ = ["integrity_command"]


def _table(findings: list[Finding]) -> Table:
    table = Table("rule", "SLO", "service", "severity", "message")
    table.columns[0].no_wrap = True
    colours = {"warning": "yellow", "error": "red"}
    for f in findings:
        table.add_row(f.rule, escape(f.slo), escape(f.service), f"[{colours[f.severity]}]{f.severity}[/]",
                      escape(f.message))
    return table


def integrity_command(
    at: Annotated[datetime | None, typer.Option(
        "--at", help="Check as of this instant (UTC unless it has an offset; default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Integrity (anti-gaming) checks: versions that rewrite the past or follow a breach, exclusions over
    incidents or over 10 % of a budget, targets lowered again and again, alerts dropped while burning.

    Exits 1 when any finding is an `error` (or the specs have errors), 0 otherwise: warnings are
    information. `--json` prints a list of {rule, slo, service, severity, message, evidence}.

    Example: engmetrics slo integrity --at 2026-03-01T00:00:00 --json
    """
    settings = state.settings
    report = check_slos(settings.workspace)
    for issue in report.errors:
        stderr.print(f"[red]{escape(str(issue))}[/]", highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)
    with open_store(read_only=True) as store:
        findings = integrity(store, report.specs, at, zone=settings.timezone, min_events=settings.slo.min_events,
                             warning_remaining=settings.slo.warning_remaining)
    if as_json:
        emit_json([f.to_dict() for f in findings])
    elif findings:
        console.print(_table(findings))
    else:
        console.print("No integrity findings.")
    if any(f.severity == "error" for f in findings):
        raise typer.Exit(1)
