"""`engmetrics slo report`: the SLO leadership report (budgets, what consumed them, policy stage) as Markdown
or self-contained HTML. Registered in `engmetrics.cli.slo`."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..durations import duration_seconds
from ..slo import check_slos
from ..slo.attribution import DEFAULT_DEPLOY_WINDOW
from ..slo.policy import check_policies
from .common import open_store, state, stderr

__all__ = ["SloReportFormat", "report_command"]


class SloReportFormat(StrEnum):
    md = "md"
    html = "html"


def _fail_on_errors(issues: list) -> None:
    for i in issues:
        stderr.print(f"[red]{escape(str(i))}[/]", highlight=False, soft_wrap=True)
    if issues:
        raise typer.Exit(1)


def report_command(
    fmt: Annotated[SloReportFormat, typer.Option(
        "--format", help="md (Markdown) or html (one self-contained page).")] = SloReportFormat.md,
    at: Annotated[datetime | None, typer.Option(
        "--at", help="Judge the budgets at this instant (UTC unless it has an offset; default: now, to the "
                     "minute). The same --at gives the same report.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="File to write (default: print to stdout).")] = None,
    deploy_window: Annotated[str, typer.Option(
        "--deploy-window", help="How long after a production deployment bad events count as following it.")
    ] = DEFAULT_DEPLOY_WINDOW,
) -> None:
    """Write the SLO leadership report: per service, the error budget left in each objective and window,
    what consumed it (incidents, deployments, exclusions, the unattributed rest), the error-budget policy
    stage and what happens next, and a one-line summary. Describes systems and events, never people.

    Example: engmetrics slo report --format html --at 2026-03-01T00:00:00 --out slo-report.html
    """
    from ..slo.report import build_slo_report, render_html, render_markdown

    try:
        duration_seconds(deploy_window)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--deploy-window") from None
    settings = state.settings
    specs_report = check_slos(settings.workspace)
    _fail_on_errors(specs_report.errors)
    policy_report = check_policies(settings.workspace)
    _fail_on_errors(policy_report.errors)
    when = at or datetime.now(UTC).replace(second=0, microsecond=0)
    with open_store(read_only=True) as store:
        model = build_slo_report(store, specs_report.specs, when, title=f"{settings.name}: SLO report",
                                 zone=settings.timezone, min_events=settings.slo.min_events,
                                 warning_remaining=settings.slo.warning_remaining, deploy_window=deploy_window,
                                 policies=policy_report.policies)
    text = render_html(model) if fmt is SloReportFormat.html else render_markdown(model)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(str(out))
