"""`engmetrics export grafana`: dashboards for tools people already run, written from the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..catalog.loader import load_catalog
from .common import JsonOption, emit_json, state

__all__ = ["FILENAME", "app", "grafana"]

app = typer.Typer(no_args_is_help=True, help="Export dashboards for other tools (Grafana).")

FILENAME = "engmetrics-overview.json"


@app.command("grafana")
def grafana(
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Directory to write the dashboard in.")]
    = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Write a Grafana dashboard for the `/metrics` gauges (one row per outcome) to
    DIR/engmetrics-overview.json and print its path; `--json` prints the dashboard instead.

    Example: engmetrics export grafana --out dashboards
    """
    from ..export.grafana import grafana_dashboard  # imported here: it pulls in the API package

    settings = state.settings
    board = grafana_dashboard(load_catalog(settings.workspace), title=f"{settings.name} overview")
    if as_json:
        emit_json(board)
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILENAME
    path.write_text(json.dumps(board, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    typer.echo(str(path))
