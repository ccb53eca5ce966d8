"""`engmetrics insights anomalies` (scan, show and save findings) and `engmetrics insights ack` (mark a finding
acknowledged or a false positive so it stops repeating). Thin shells over `engmetrics.insights.scan` and
`engmetrics.insights.marks`; methods, scores and fields are documented in docs/anomalies.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from ..catalog.loader import load_catalog
from ..charts import format_value
from ..errors import EngmetricsError
from ..governance.identity import actor
from .common import JsonOption, console, emit_json, fail, open_store, state
from .governance import AsOption
from .insights import app

__all__ = ["ack_command", "anomalies_command"]

_DAY = ["%Y-%m-%d"]


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


@app.command("anomalies")
def anomalies_command(
    metric: Annotated[str | None, typer.Option("--metric", help=(
        "An indicator id, or a series name: dataset:<name>, sli:<service>/<indicator>, metric:<id>."))] = None,
    since: Annotated[datetime | None, typer.Option("--since", formats=_DAY, help=(
        "Only findings ending after this day began (UTC)."))] = None,
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=_DAY, help=(
        "Scan as if today were this day: data up to the day before (default: today, UTC)."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Scan catalog indicators, SLIs and dataset row counts for anomalies (robust seasonal decomposition,
    seasonal hybrid ESD, a count model for sparse series, change points) and save the findings. Findings
    marked with `insights ack` (or overlapping a marked one) are not shown again. JSON: a list of findings
    with finding_id, series, source, metric, group, datasets, method, direction, start_at, end_at, peak_at,
    value, expected, expected_low, expected_high, score, detected_at (when a scan first saved it).

    Example: engmetrics insights anomalies --metric dataset:deployments --since 2026-03-01 --json
    """
    from ..insights.scan import save_findings, scan  # here: the methods load scipy, which other commands skip

    catalog = load_catalog(state.settings.workspace)
    try:
        with open_store() as store:
            findings = save_findings(store, scan(store, catalog, state.settings, metric=metric,
                                                 since=since.date() if since else None,
                                                 today=as_of.date() if as_of else None))
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json([f.to_dict() for f in findings])
        return
    if not findings:
        console.print("No anomalies.")
        return
    title = f"{len(findings)} {'anomaly' if len(findings) == 1 else 'anomalies'} (newest first)"
    table = Table(Column("finding", no_wrap=True, min_width=16), "series", "method", "direction", "from", "to",
                  "value", "expected range", "score", title=title)
    for f in findings:
        table.add_row(f.finding_id, escape(f.series), f.method, f.direction, _when(f.start_at), _when(f.end_at),
                      format_value(f.value), f"{format_value(f.expected_low)} .. {format_value(f.expected_high)}",
                      f"{f.score:.1f}")
    console.print(table)


@app.command("ack")
def ack_command(
    finding_id: Annotated[str, typer.Argument(help="The finding's id (from `insights anomalies`).")],
    false_positive: Annotated[bool, typer.Option("--false-positive", help=(
        "Mark it a false positive (not an anomaly) instead of acknowledged."))] = False,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the record (audit log).")] = None,
    who: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge a finding (or mark it a false positive): later scans leave it out, and any finding of the
    same series and method family overlapping it. The mark is written to the audit log. JSON: finding_id,
    status, note, actor, marked_at.

    Example: engmetrics insights ack 4fe09404986d70a7 --false-positive --note "planned release train" --as ann
    """
    from ..insights.marks import mark  # here: it loads the scan's methods (scipy)

    try:
        with open_store() as store:
            result = mark(store, finding_id, "false_positive" if false_positive else "acknowledged",
                          actor=actor(who), note=note)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(f"{escape(result.finding_id)}: {result.status.replace('_', ' ')} by {escape(result.actor)}",
                  highlight=False)
