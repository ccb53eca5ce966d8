"""`engmetrics telemetry sample`: keep the rows a dataset's sampling policy chooses, with their weights; a thin
shell over `engmetrics.telemetry.sampling_files` (docs/sampling.md).

Exit codes: 0 ok; 1 bad input (no policy for the dataset, a bad policy file, an unreadable file, a missing
key); 2 bad usage (e.g. an output that is neither `.parquet` nor `.csv`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import EngmetricsError, InputError
from ..telemetry.sampling_files import OUTPUT_FORMATS, sample_files
from ..telemetry.sampling_policy import SAMPLING_FILE, load_sampling_policies
from ..workspace import ensure_secret
from .common import JsonOption, console, emit_json, fail, state
from .telemetry import app

__all__ = ["SAMPLING_KEY", "sample_command"]

SAMPLING_KEY = "sampling.key"  # in .engmetrics/: the secret of the keyed hash that decides which rows are kept


@app.command("sample")
def sample_command(
    dataset: Annotated[str, typer.Argument(help="The dataset whose policy applies, e.g. request_events.")],
    files: Annotated[list[Path], typer.Argument(help="CSV, JSON Lines or Parquet files of raw (or upstream "
                                                     "sampled) rows.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the kept rows go, with their weight: "
                                      f"{' or '.join(OUTPUT_FORMATS)} by extension.")],
    json_out: JsonOption = False,
) -> None:
    """Sample event files with the workspace's policy (policies/sampling.yaml) and write the kept rows, each
    with its weight (1 / the probability it was kept, times any upstream weight), for `engmetrics ingest`.
    Which rows are kept is decided by a keyed hash of the policy's key columns with the workspace's secret
    (.engmetrics/sampling.key): sampling the same file again keeps the same rows. Reports rows read and kept,
    the weight sum (the estimated rows before sampling, with a 95 % interval) and the storage saved.

    Example: engmetrics telemetry sample request_events events.csv --out kept.parquet --json
    then:    engmetrics ingest request_events kept.parquet
    """
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise fail(f"--out must end in {', '.join(OUTPUT_FORMATS)} (got {out.name!r})", code=2)
    settings = state.settings
    try:
        policy = load_sampling_policies(settings.workspace).for_dataset(dataset)
        if policy is None:
            raise InputError(f"no sampling policy for dataset {dataset!r}: add one under datasets: in "
                             f"{SAMPLING_FILE}", file=settings.workspace / SAMPLING_FILE)
        key = ensure_secret(settings.state_dir / SAMPLING_KEY, "sampling key")
        report = sample_files(files, out, policy, key, dataset=dataset)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(report.to_dict())
        return
    console.print(
        f"{dataset}: read {report.read:,} rows, kept {report.kept:,} ({1 - report.storage_saved:.1%}) into "
        f"{escape(report.out)}; weight sum {report.weight_sum:,.1f} (estimated rows, 95 % interval "
        f"{report.estimated_rows_low:,.1f} to {report.estimated_rows_high:,.1f}); storage saved "
        f"{report.storage_saved:.1%} of rows, {report.bytes_in:,} -> {report.bytes_out:,} bytes", highlight=False)
    console.print(f"next: engmetrics ingest {dataset} {escape(report.out)}", highlight=False)
