"""`engmetrics slo ...`: SLO specs (OpenSLO and Sloth documents in slos/*.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import Issue
from ..slo import SloSet, check_files, check_slos
from ..slo.recommend import recommend_sli_events
from ..slo.replay import backtest_slo, report_dict
from ..slo.status import slo_status
from ..timeutil import as_utc
from .common import JsonOption, console, emit_json, fail, open_store, state, stderr
from .slo_gate import gate_command
from .slo_integrity import integrity_command
from .slo_report import report_command
from .slo_rules import rules_command

app = typer.Typer(no_args_is_help=True, help="SLOs: OpenSLO and Sloth specs in slos/*.yaml.")


def _issue_dict(i: Issue) -> dict[str, object]:
    """The catalog's lint fields, plus `slo` (the SLO or document the issue is about)."""
    return {"level": i.level, "rule": i.rule, "file": i.file, "line": i.line, "message": i.message,
            "slo": i.metric}


@app.command()
def validate(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Spec files or directories (default: the workspace's slos/).", exists=True)] = None,
    as_json: JsonOption = False,
) -> None:
    """Check SLO specs: schema, model, budgeting method, references, names. Exits 1 on any error.

    Example: engmetrics slo validate slos/checkout.yaml --json
    """
    root = state.settings.workspace
    report = check_files(files, root) if files else check_slos(root)
    if as_json:
        emit_json([_issue_dict(i) for i in report.issues])
    else:
        for i in report.issues:
            colour = "red" if i.level == "ERROR" else "yellow"
            stderr.print(f"[{colour}]{escape(str(i))}[/]", highlight=False, soft_wrap=True)
        if not report.errors:
            specs = report.specs
            console.print(f"OK: {len(specs.documents)} documents, {len(specs.slos)} OpenSLO SLOs, "
                          f"{sum(len(d.model.slos) for d in specs.sloth_specs)} Sloth SLOs")
    if report.errors:
        raise typer.Exit(1)


def _specs() -> SloSet:
    """The workspace's specs; prints every error and exits 1 when any is found."""
    report = check_slos(state.settings.workspace)
    for i in report.errors:
        stderr.print(f"[red]{escape(str(i))}[/]", highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)
    return report.specs


def _percent(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _status_table(items: list[dict[str, Any]]) -> Table:
    table = Table("SLO", "objective", "window", "target", "SLI", "budget left", "burn 1h", "alerts", "state")
    colours = {"ok": "green", "warning": "yellow", "exhausted": "red", "insufficient_data": "dim"}
    for i in items:
        firing = ", ".join(f"{a['severity']} {a['long_window']}/{a['short_window']}" for a in i["alerts"]
                           if a["firing"]) or "-"
        rate = i["burn_rates"].get("1h")
        table.add_row(i["slo"], i["objective"], i["window"], _percent(i["target"]), _percent(i["sli"]),
                      _percent(i["error_budget"]["remaining"], 1), "-" if rate is None else f"{rate:.2f}x",
                      firing, f"[{colours[i['state']]}]{i['state']}[/]")
    return table


@app.command()
def status(
    at: Annotated[datetime | None, typer.Option(
        "--at", help="Judge the SLOs at this instant (UTC unless it has an offset; default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Error budgets, burn rates and alerts of every SLO objective and window.

    Example: engmetrics slo status --at 2026-03-01T00:00:00 --json
    """
    specs = _specs()
    settings = state.settings
    with open_store(read_only=True) as store:
        try:
            report = slo_status(store, specs, at and as_utc(at), zone=settings.timezone,
                                min_events=settings.slo.min_events, warning_remaining=settings.slo.warning_remaining)
        except ValueError as exc:  # e.g. a maintenance window whose rrule does not parse
            raise fail(str(exc)) from None
    if as_json:
        emit_json(report.items)
    else:
        console.print(_status_table(report.items))
    for name, reason in report.skipped:  # on stderr, so `--json` stays the contract's list
        stderr.print(f"[dim]{escape(name)}: not computed here: {escape(reason)}[/]", highlight=False)


@app.command()
def recommend(
    service: Annotated[str, typer.Argument(help="Service of the sli_events rows.")],
    indicator: Annotated[str, typer.Argument(help="Indicator of the sli_events rows, e.g. availability.")],
    period_days: Annotated[int, typer.Option("--period-days", min=1, help="SLO window of the worst-period test.")]
    = 28,
    as_json: JsonOption = False,
) -> None:
    """Propose targets from the history: weekly achieved levels with Wilson intervals, what each candidate
    target would have consumed, and warnings when the baseline is too short to trust.

    Example: engmetrics slo recommend checkout availability --json
    """
    with open_store(read_only=True) as store:
        result = recommend_sli_events(store, service, indicator, period_days=period_days)
    if as_json:
        emit_json(result.to_dict())
        return
    table = Table("target", "budget used", f"worst {period_days}d", "weeks breached", "")
    for c in result.candidates:
        mark = "recommended" if c.recommended else "aspirational" if c.aspirational else ""
        table.add_row(f"{c.target * 100:g} %", _percent(c.consumed, 1), _percent(c.worst_period_consumed, 1),
                      str(c.weeks_breached), mark)
    console.print(table)
    level = result.overall
    console.print(f"achieved {_percent(level.achieved)} (95 % interval {_percent(level.low)} to "
                  f"{_percent(level.high)}) over {level.weeks_with_events} weeks")
    for warning in result.warnings:
        stderr.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value / 60:.0f} min"


@app.command()
def backtest(
    slo: Annotated[str, typer.Argument(help="Name of an OpenSLO SLO in slos/.")],
    start: Annotated[datetime | None, typer.Option("--from", help="Start of the replay (default: 30 days "
                                                   "before --to).")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="End of the replay (default: now).")] = None,
    objective: Annotated[int, typer.Option("--objective", min=0, help="Index of the objective.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Replay the alert tables over history and score them against the service's incidents: precision,
    recall, detection delay from impact start, budget consumed before the first page.

    Example: engmetrics slo backtest checkout-availability --from 2026-01-01 --to 2026-03-01 --json
    """
    end = as_utc(end) if end else datetime.now(UTC).replace(second=0, microsecond=0)
    start = as_utc(start) if start else end - timedelta(days=30)
    specs = _specs()
    with open_store(read_only=True) as store:
        try:
            report = backtest_slo(store, specs, slo, start=start, end=end, objective=objective,
                                  zone=state.settings.timezone)
        except ValueError as exc:
            raise fail(str(exc)) from None
    if as_json:
        emit_json(report_dict(report, slo))
        return
    table = Table("alert table", "severity", "firings", "precision", "recall", "delay p50", "delay p90",
                  "budget before alert")
    for result in report.tables:
        for severity, s in result.scores.items():
            table.add_row(result.name, severity, str(s.firings), _rate(s.precision), _rate(s.recall),
                          _seconds(s.detection_delay_median), _seconds(s.detection_delay_p90),
                          _percent(s.budget_consumed_median, 1))
    console.print(f"{slo}: {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC, "
                  f"{report.incidents} incident(s)")
    console.print(table)


# Commands written in their own modules, listed after the ones above in `engmetrics slo --help`.
app.command("gate")(gate_command)
app.command("integrity")(integrity_command)
app.command("rules")(rules_command)
app.command("report")(report_command)
