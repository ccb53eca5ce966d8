"""`engmetrics decisions add|list|report`: the decision log and its retrospective (a thin shell over
`engmetrics.insights.decisions`, where the before/after windows and verdicts are documented)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..catalog.loader import load_catalog
from ..catalog.periods import default_as_of
from ..insights.decisions import DEFAULT_AFTER_DAYS, Decision, add_decision, decision_report, list_decisions
from .common import JsonOption, console, emit_json, open_store, state

__all__ = ["add_command", "app", "list_command", "report_command"]

app = typer.Typer(no_args_is_help=True, help="The decision log: what was decided and on which indicators.")

DateFormats = ["%Y-%m-%d"]
FromOption = Annotated[datetime | None, typer.Option("--from", formats=DateFormats,
                                                     help="First decision date, inclusive (default: open).")]
ToOption = Annotated[datetime | None, typer.Option("--to", formats=DateFormats,
                                                   help="Last decision date, inclusive (default: open).")]


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@app.command("add")
def add_command(
    decision_id: Annotated[str, typer.Option("--id", help="Decision id, e.g. DEC-042 (re-adding updates it).")],
    day: Annotated[datetime, typer.Option("--date", formats=DateFormats, help="When it was decided.")],
    title: Annotated[str, typer.Option("--title", help="What was decided.")],
    metrics: Annotated[list[str], typer.Option("--metric", help="An indicator it relied on (repeatable).")],
    owner_team: Annotated[str | None, typer.Option("--owner-team", help="The team that decided.")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="What came of it, in words.")] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown",
                                                help="Accept indicator ids that are not in the catalog.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Log a decision and the indicators it relied on, through the normal ingestion (the summary's counts
    add up: read = inserted + updated + unchanged + quarantined). Unknown indicator ids exit 1.

    Example: engmetrics decisions add --id DEC-042 --date 2026-03-02 --title "Adopt trunk-based development"
    --owner-team platform --metric deployment_frequency --metric change_lead_time_p50
    """
    catalog = load_catalog(state.settings.workspace)
    decision = Decision(decision_id, day.date(), title, owner_team, list(dict.fromkeys(metrics)), outcome)
    with open_store() as store:
        result = add_decision(store, catalog, decision, allow_unknown=allow_unknown)
    if as_json:
        emit_json({"decision": decision.to_dict(), "ingest": result.as_dict()})
        return
    console.print(f"decision {escape(decision_id)}: read {result.read}, inserted {result.inserted}, updated "
                  f"{result.updated}, unchanged {result.unchanged}, quarantined {result.quarantined}",
                  highlight=False)


@app.command("list")
def list_command(start: FromOption = None, end: ToOption = None,
                 metric: Annotated[str | None, typer.Option("--metric", help="Only decisions citing it.")] = None,
                 as_json: JsonOption = False) -> None:
    """The decision log, oldest first. JSON: a list of {decision_id, date, title, owner_team, metrics, outcome}.

    Example: engmetrics decisions list --from 2026-01-01 --metric change_fail_rate
    """
    with open_store(read_only=True) as store:
        found = list_decisions(store, start=_day(start), end=_day(end), metric=metric)
    if as_json:
        emit_json([d.to_dict() for d in found])
        return
    table = Table("id", "date", "title", "team", "indicators", "outcome")
    for d in found:
        table.add_row(escape(d.decision_id), d.date.isoformat(), escape(d.title), escape(d.owner_team or ""),
                      escape(", ".join(d.metrics)), escape(d.outcome or ""))
    console.print(table)


def _number(value: float | None, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign}.4g}"


@app.command("report")
def report_command(
    start: FromOption = None, end: ToOption = None,
    after_days: Annotated[int, typer.Option("--after-days", min=1,
                                            help="Days compared before and after each decision.")] = DEFAULT_AFTER_DAYS,
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=DateFormats, help=(
        "Last day with data: an after window ending later is too_early (default: yesterday, UTC)."))] = None,
    as_json: JsonOption = False,
) -> None:
    """The retrospective: the share of decisions backed by data (citing an indicator of the catalog), and how
    each cited indicator moved over --after-days before vs after the decision: better or worse by its
    direction, unchanged when the move is within the noise of the windows before the decision. JSON fields:
    from, to, after_days, as_of, decisions_total, backed, share_backed, decisions (each decision's fields,
    backed, moves: metric, before, after, value_before, value_after, change, noise, verdict).

    Example: engmetrics decisions report --from 2026-01-01 --to 2026-03-31 --after-days 28
    """
    catalog = load_catalog(state.settings.workspace)
    day = as_of.date() if as_of else default_as_of(datetime.now(UTC))
    with open_store(read_only=True) as store:
        report = decision_report(store, catalog, as_of=day, start=_day(start), end=_day(end), after_days=after_days)
    if as_json:
        emit_json(report.to_dict())
        return
    share = "-" if report.share_backed is None else f"{report.share_backed:.0%}"
    console.print(f"{report.backed} of {len(report.decisions)} decisions backed by data ({share})", highlight=False)
    table = Table("decision", "date", "indicator", "before", "after", "change", "noise", "verdict")
    for d, _, moves in report.decisions:
        for m in moves or [None]:
            table.add_row(escape(d.decision_id), d.date.isoformat(), escape(m.metric) if m else "(none)",
                          _number(m.value_before) if m else "-", _number(m.value_after) if m else "-",
                          _number(m.change, "+") if m else "-", _number(m.noise) if m else "-",
                          m.verdict if m else "not backed")
    console.print(table)
