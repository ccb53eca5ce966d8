"""`engmetrics governance discrepancies [--period P] [--open] [--json]` lists indicators whose status disagrees
with the team's perception; `... discrepancies review METRIC --team T --period P --note TEXT [--resolution R]`
records a review. A thin shell over `engmetrics.governance.discrepancies` (semantics there)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..catalog.loader import load_catalog
from ..errors import EngmetricsError
from ..governance.discrepancies import RESOLUTIONS, DiscrepancyReport, find_discrepancies, record_review
from ..governance.identity import actor
from .common import JsonOption, console, emit_json, fail, open_store, state, stderr
from .cost_idle import AtOption, parse_day
from .governance import AsOption, app

__all__ = ["discrepancies_app", "list_command", "review_command"]

discrepancies_app = typer.Typer()  # its help is the listing callback's docstring
app.add_typer(discrepancies_app, name="discrepancies")

PeriodOption = Annotated[str | None, typer.Option("--period", help="Survey period label, e.g. 2026-Q3.")]


def _table(report: DiscrepancyReport) -> Table:
    table = Table("metric", "team", "period", "dimension", "status", "health", "perception", "gap", "direction",
                  "review", title=f"Discrepancies (gap >= {report.threshold:g})")
    for d in report.items:
        review = "-" if d.review is None else f"{d.review.resolution or 'open'} ({d.review.reviewer})"
        table.add_row(d.metric, d.team, d.period, d.dimension, d.status, f"{d.health:.2f}",
                      f"{d.perception:.2f} ({d.score:g})", f"{d.gap:.2f}", d.direction.replace("_", " "), review)
    return table


@discrepancies_app.callback(invoke_without_command=True)
def list_command(
    ctx: typer.Context,
    period: PeriodOption = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only discrepancies without a resolution.")] = False,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Indicators whose health over a survey period differs from the team's perception by the threshold or more.

    Example: engmetrics governance discrepancies --period 2026-Q3 --open --json
    """
    if ctx.invoked_subcommand is not None:
        return
    as_of = parse_day(at)
    settings = state.settings
    try:
        catalog = load_catalog(settings.workspace)
        with open_store(read_only=True) as store:
            report = find_discrepancies(store, catalog, settings=settings.governance, period=period,
                                        open_only=open_only, as_of=as_of)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json({"at": as_of, "period": period, **report.to_dict()})
        return
    console.print(_table(report))
    console.print(f"{report.compared} compared, {report.insufficient_data} without enough indicator data")
    for skip in report.skipped:
        what = skip.get("metric") or " ".join(skip[k] for k in ("team", "period", "dimension") if k in skip)
        stderr.print(f"[yellow]skipped {what}: {skip['reason']}[/]", highlight=False)


@discrepancies_app.command("review")
def review_command(
    metric: Annotated[str, typer.Argument(help="The indicator id.")],
    team: Annotated[str, typer.Option("--team", help="The team whose perception differs.")],
    period: Annotated[str, typer.Option("--period", help="Survey period label, e.g. 2026-Q3.")],
    note: Annotated[str, typer.Option("--note", help="What the review found.")],
    resolution: Annotated[str | None, typer.Option(
        "--resolution", help=f"One of {', '.join(RESOLUTIONS)}; leave out while still open.")] = None,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a review of a discrepancy (and an audit entry); the listing shows the latest review.

    Example: engmetrics governance discrepancies review lead_time --team payments --period 2026-Q3 --note "x"
    """
    reviewer = actor(as_)
    try:
        catalog = load_catalog(state.settings.workspace)
        with open_store() as store:
            review = record_review(store, catalog, metric, team, period, note, reviewer=reviewer,
                                   resolution=resolution)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json({"metric": metric, "team": team, "period": period, **review.to_dict()})
        return
    console.print(f"reviewed {metric} for {team} in {period}: {review.resolution or 'open'} by {review.reviewer}")
