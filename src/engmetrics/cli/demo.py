"""`engmetrics demo`: write, ingest and evaluate the synthetic demo organisation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from ..catalog.loader import load_catalog
from ..catalog.views import scorecard
from .common import JsonOption, console, emit_json
from .metrics import print_scorecard

if TYPE_CHECKING:  # the demo builder imports the statistics stack: loaded only when `demo` runs
    from ..demo import DemoResult


def _print(result: DemoResult) -> None:
    table = Table("dataset", "file", "rows", "quarantined", title="Ingested", title_justify="left")
    for r in result.ingested:
        table.add_row(r.dataset, Path(r.files[0]).name, str(r.inserted + r.updated + r.unchanged),
                      str(r.quarantined) if r.quarantined else "")
    console.print(table)
    print_scorecard(scorecard(load_catalog(result.directory), result.results), result.as_of)
    console.print(f"Demo workspace [bold]{result.directory}[/]: {result.days} days to {result.end}, "
                  f"seed {result.seed}, {result.quarantined} rows in quarantine "
                  f"(see: engmetrics -w {result.directory} quarantine list).", highlight=False)


def demo(
    directory: Annotated[Path, typer.Argument(help="Where to write the demo workspace.", file_okay=False)],
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="Days of history.")] = 180,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed and end date, same files.")] = 7,
    end: Annotated[datetime | None, typer.Option(
        "--end", formats=["%Y-%m-%d"],
        help="Last day of data (default: yesterday, UTC).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild an earlier demo in DIRECTORY.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a synthetic organisation (8 teams, 30 services, every dataset), ingest it, evaluate its
    example indicators and print the scorecard.

    Example: engmetrics demo demo-org --days 90 --seed 7 --end 2026-01-04
    """
    from ..demo import build_demo

    kwargs = {"days": days, "seed": seed, "end": end.date() if end else None, "force": force}
    if as_json or not console.is_terminal:
        result = build_demo(directory, **kwargs)
    else:
        with Progress(TextColumn("{task.description}"), BarColumn(), console=console, transient=True) as bar:
            task = bar.add_task("demo", total=1)

            def step(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total)

            result = build_demo(directory, progress=step, **kwargs)
    if as_json:
        emit_json(result.as_dict())
    else:
        _print(result)
