"""`engmetrics metrics evaluate` and `engmetrics scorecard`: compute indicators with RAG status."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..catalog.evaluate import MetricResult, evaluate, save_results
from ..catalog.loader import check_catalog, load_catalog
from ..catalog.periods import default_as_of
from ..catalog.views import ScorecardGroup, ScorecardRow, scorecard
from ..governance.archive import catalog_as_of, record_definitions
from ..workspace import git_commit
from .common import JsonOption, console, emit_json, open_store, state

app = typer.Typer(no_args_is_help=True, help="Compute indicators for a period, with RAG status.")

AsOfOption = Annotated[datetime | None, typer.Option(
    "--as-of", formats=["%Y-%m-%d"], help="Last day of the period, inclusive (default: yesterday, UTC).")]
COLOURS = {"green": "green", "amber": "yellow", "red": "red", "no_data": "dim"}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _status(status: str) -> str:
    return f"[{COLOURS.get(status, 'white')}]{status}[/]"


def _results(as_of: datetime | None, *, save: bool, defined_then: bool = False) -> list[MetricResult]:
    """Evaluate; `save` also records the definitions in the archive first and stores the results;
    `defined_then` evaluates the definitions in force on the as-of date (from the archive) and stores nothing."""
    settings = state.settings
    catalog = check_catalog(settings.workspace).catalog if defined_then else load_catalog(settings.workspace)
    day = as_of.date() if as_of else default_as_of()
    with open_store(read_only=not save) as store:
        if save:
            record_definitions(store, settings.workspace)
        if defined_then:
            catalog = catalog_as_of(store, catalog, day)
        results = evaluate(store, catalog, day, git_commit=None if defined_then else git_commit(settings.workspace),
                           privacy=settings.privacy)
        if save and not defined_then:
            save_results(store, results)
    return results


@app.command("evaluate")
def evaluate_command(as_of: AsOfOption = None, as_json: JsonOption = False,
                     defined_then: Annotated[bool, typer.Option(
                         "--as-defined-then", help="Use the definitions in force at the end of the as-of day "
                         "(from the definition archive) to reproduce what was shown then; stores no results.")] = False,
                     ) -> None:
    """Record the workspace's definitions in the archive, compute every active indicator for its period
    ending on the as-of date and the period before, store the results with their definition version, and
    show them.

    Example: engmetrics metrics evaluate --as-of 2026-03-31 --as-defined-then --json
    """
    results = _results(as_of, save=True, defined_then=defined_then)
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    table = Table("metric", "group", "period", "value", "previous", "status", "n")
    for r in results:
        table.add_row(r.metric, escape(r.group or ""), f"{r.period_start}..{r.period_end}", _fmt(r.value),
                      _fmt(r.previous), _status(r.status), str(r.sample_size))
    console.print(table)


def _arrow(row: ScorecardRow) -> str:
    if row.trend is None:
        return ""
    arrow = {"up": "↑", "down": "↓", "flat": "→"}[row.trend]
    colour = "dim" if row.improving is None else ("green" if row.improving else "red")
    return f"[{colour}]{arrow}[/]"


def scorecard_command(as_of: AsOfOption = None, as_json: JsonOption = False) -> None:
    """Show the RAG scorecard grouped by outcome, with trend arrows (green = moving the right way).

    Example: engmetrics scorecard --as-of 2026-03-31
    """
    settings = state.settings
    results = _results(as_of, save=False)
    groups = scorecard(load_catalog(settings.workspace), results)
    if as_json:
        emit_json([g.to_dict() for g in groups])
        return
    print_scorecard(groups)


def print_scorecard(groups: list[ScorecardGroup], as_of: date | None = None) -> None:
    """Print scorecard groups as one Rich table per outcome (shared by `scorecard` and `demo`)."""
    for g in groups:
        title = escape(f"{g.name} (as of {as_of})" if as_of else g.name)
        grouped = any(row.group for row in g.rows)
        table = Table("indicator", *(["group"] if grouped else []), "value", "", "previous", "status", "unit",
                      "guardrail", title=title, title_justify="left")
        for row in g.rows:
            table.add_row(escape(row.name), *([escape(row.group or "")] if grouped else []), _fmt(row.value),
                          _arrow(row), _fmt(row.previous), _status(row.status), escape(row.unit),
                          escape(row.guardrail or ""))
        console.print(table)
