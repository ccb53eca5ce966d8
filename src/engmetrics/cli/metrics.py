"""`engmetrics metrics evaluate` and `engmetrics scorecard`: compute indicators with RAG status."""

from __future__ import annotations

import inspect
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..catalog.evaluate import MetricResult, evaluate, evaluate_and_store
from ..catalog.loader import Catalog, check_catalog, load_catalog
from ..catalog.periods import default_as_of
from ..catalog.views import ScorecardGroup, ScorecardRow, scorecard
from ..governance.archive import catalogs_as_shown, record_definitions
from ..workspace import git_commit
from .common import JsonOption, console, emit_json, open_store, state

app = typer.Typer(no_args_is_help=True, help="Compute indicators for a period, with RAG status.")

AsOfOption = Annotated[datetime | None, typer.Option(
    "--as-of", formats=["%Y-%m-%d"], help="Last day of the period, inclusive (default: yesterday, UTC).")]
COLOURS = {"green": "green", "amber": "yellow", "red": "red", "no_data": "dim"}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _estimate(r: MetricResult) -> str:
    """The value, with its 95 % interval when it is estimated from sampled data (`?`: too few sampled rows).

    >>> _estimate(MetricResult("m", date(2026, 1, 1), date(2026, 1, 1), 0.5, None, "green", "v", estimated=True,
    ...                        low=0.4, high=0.6, interval_reliable=False))
    '0.5 [0.4..0.6]?'
    """
    if not r.estimated:
        return _fmt(r.value)
    return _with_interval(r.value, r.low, r.high) + ("" if r.interval_reliable else "?")


def _with_interval(value: float | None, low: float | None, high: float | None) -> str:
    """The value, and its interval when there is one: `0.5 [0.4..0.6]`."""
    return _fmt(value) + ("" if low is None else f" [{_fmt(low)}..{_fmt(high)}]")


def _status(status: str) -> str:
    return f"[{COLOURS.get(status, 'white')}]{status}[/]"


def _results(as_of: datetime | None, *, save: bool, defined_then: bool = False) -> list[MetricResult]:
    """Evaluate; `save` also records the definitions in the archive first and stores the results;
    `defined_then` reproduces what was shown for the as-of date (`_as_shown`) and stores nothing."""
    settings = state.settings
    day = as_of.date() if as_of else default_as_of()
    with open_store(read_only=not save) as store:
        if defined_then:
            if save:
                record_definitions(store, settings.workspace)
            return _as_shown(store, check_catalog(settings.workspace).catalog, day)
        if save:
            return evaluate_and_store(store, settings.workspace, day, privacy=settings.privacy)
        return evaluate(store, load_catalog(settings.workspace), day, git_commit=git_commit(settings.workspace),
                        privacy=settings.privacy)


def _as_shown(store: Any, catalog: Catalog, day: date) -> list[MetricResult]:
    """Every metric with the definition version of its newest stored results for `day` (or, with none, the one
    in force at the end of the day), the review board in force when those results were computed and only the
    board decisions made by then; ordered by metric id."""
    settings = state.settings
    timed = "approvals_at" in inspect.signature(evaluate).parameters
    results = []
    for stamp, then in catalogs_as_shown(store, catalog, day):
        extra: dict[str, Any] = {"approvals_at": stamp} if timed else {}
        results += evaluate(store, then, day, privacy=settings.privacy, today=stamp.date(), **extra)
    return sorted(results, key=lambda r: r.metric)


@app.command("evaluate")
def evaluate_command(as_of: AsOfOption = None, as_json: JsonOption = False,
                     defined_then: Annotated[bool, typer.Option(
                         "--as-defined-then", help="Reproduce what was shown for the as-of day: each metric with the "
                         "definition version of its stored results (from the definition archive; else the one in "
                         "force at the end of the day), judged by the review board and decisions of that time; "
                         "stores no results.")] = False,
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
        table.add_row(r.metric, escape(r.group or ""), f"{r.period_start}..{r.period_end}", _estimate(r),
                      _fmt(r.previous), _status(r.status), str(r.sample_size))
    console.print(table)
    if any(r.estimated for r in results):
        console.print("values with \\[low..high] are estimates from sampled data (95 % interval; ? = too few "
                      "sampled rows to trust it)")


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
            value = _with_interval(row.value, row.low, row.high)
            table.add_row(escape(row.name), *([escape(row.group or "")] if grouped else []), value,
                          _arrow(row), _fmt(row.previous), _status(row.status), escape(row.unit),
                          escape(row.guardrail or ""))
        console.print(table)
