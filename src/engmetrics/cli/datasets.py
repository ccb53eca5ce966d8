"""`engmetrics datasets list` and `engmetrics quarantine list`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..store.inventory import dataset_inventory, quarantine_rows
from .common import JsonOption, console, emit_json, open_store

app = typer.Typer(help="The canonical datasets.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Rows refused at ingest, with file, line, column and reason.",
                             no_args_is_help=True)


@app.command("list")
def list_datasets(json_out: JsonOption = False) -> None:
    """Show every dataset: columns, key and row count.

    Example: engmetrics datasets list --json
    """
    with open_store(read_only=True) as store:
        infos = dataset_inventory(store)
    if json_out:
        emit_json([asdict(i) for i in infos])
        return
    table = Table("dataset", "key", "rows", "columns")
    for info in infos:
        table.add_row(info.name, ", ".join(info.key), f"{info.rows:,}",
                      ", ".join(c["name"] for c in info.columns))
    console.print(table)


@quarantine_app.command("list")
def list_quarantine(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows (0: all).")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Show quarantined rows, newest first.

    Example: engmetrics quarantine list deployments --json
    """
    with open_store(read_only=True) as store:
        rows = quarantine_rows(store, dataset, limit or None)
    if json_out:
        emit_json(rows)
        return
    table = Table("dataset", "file:line", "column", "reason")
    for row in rows:
        table.add_row(row["dataset"], escape(f"{row['source_file']}:{row['line']}"), row["column"] or "",
                      escape(row["reason"]))
    console.print(table)
    console.print(f"{len(rows):,} quarantined row(s)")
