"""`engmetrics ingest DATASET FILE...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..ingest import FORMATS, ingest_files
from ..ingest.keys import ingest_key
from .common import JsonOption, console, emit_json, open_store, state, stderr


def ingest(
    dataset: Annotated[str, typer.Argument(help="Dataset to load (see `engmetrics datasets list`).")],
    files: Annotated[list[Path], typer.Argument(help="CSV, JSON Lines or Parquet files, optionally .gz.")],
    fmt: Annotated[str | None, typer.Option("--format", help=f"One of {', '.join(FORMATS)} (default: by suffix).")
                   ] = None,
    assume_tz: Annotated[str | None, typer.Option(
        "--assume-tz", help="IANA zone for timestamps without an offset (DST gaps/overlaps are refused).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail the whole batch if any row is invalid.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Validate and load files into a dataset; invalid rows go to the quarantine.

    Example: engmetrics ingest deployments deploys.csv.gz --assume-tz Europe/Berlin
    """
    with open_store() as store:
        key = ingest_key(store, state.settings.pseudonym_key_file)  # type: ignore[arg-type]
        if json_out or not console.is_terminal:
            result = ingest_files(store, dataset, files, fmt=fmt, assume_tz=assume_tz, strict=strict,
                                  pseudonym_key=key)
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=stderr, transient=True) as bar:
                task = bar.add_task("ingest", total=len(files) + 1)

                def report(what: str, step: int, steps: int) -> None:
                    bar.update(task, description=what, completed=step, total=steps)

                result = ingest_files(store, dataset, files, fmt=fmt, assume_tz=assume_tz, strict=strict,
                                      pseudonym_key=key, progress=report)
    if json_out:
        emit_json(result.as_dict())
        return
    for path, columns in result.ignored_columns.items():
        stderr.print(f"note: {path}: ignored columns not in {dataset}: {', '.join(columns)}", markup=False)
    console.print(
        f"{result.dataset}: read {result.read:,} = inserted {result.inserted:,} + updated {result.updated:,} "
        f"+ unchanged {result.unchanged:,} + quarantined {result.quarantined:,}")
    if result.quarantined:
        console.print(f"See them with: engmetrics quarantine list {dataset}")
