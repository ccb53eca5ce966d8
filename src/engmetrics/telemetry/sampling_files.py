"""Sample event files with the workspace's policy: what `engmetrics telemetry sample` does.

Input files are CSV (`.csv`, `.tsv`, gzip-compressed or not; every value kept as the text it is), JSON Lines
or Parquet; they are read whole (sampling is the step that makes a stream small, so one file at a time fits
in memory), and the kept rows are written, each with its `weight`, as Parquet (`.parquet`) or CSV (`.csv`)
by the output's extension, ready for `engmetrics ingest DATASET OUT`. Rows already sampled upstream carry
their own `weight` (null = 1), multiplied by this stage's; sampling an output again is a new, independent
stage (`engmetrics.telemetry.sampling.sample`).

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "in.csv").write_text("event_id,outcome\\n" + "".join(f"e{i},ok\\n" for i in range(1000)))
>>> report = sample_files([d / "in.csv"], d / "kept.csv", HeadSampling(key="event_id", probability=0.5), b"k")
>>> report.read, report.kept, report.weight_sum == 2 * report.kept
(1000, 487, True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ..errors import InputError
from ..ingest.sources import csv_header, detect_format
from .sampling import HeadSampling, StratifiedSampling, sample
from .sampling_estimate import WEIGHT, WeightError, estimate_count, weights

__all__ = ["OUTPUT_FORMATS", "SampleReport", "output_format", "read_events", "sample_files"]

OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_FIRST_LINE = {"csv": 2, "jsonl": 1}  # the line of a file's first row (CSV: after the header)


@dataclass(frozen=True)
class SampleReport:
    """What a sampling run read and kept. `weight_sum` is the estimated number of rows before every sampling
    stage (an HT count; `estimated_rows_low` / `_high` its 95 % interval); `storage_saved` the share of rows
    not stored, 1 - kept / read; `bytes_in` / `bytes_out` the files' sizes."""

    dataset: str
    files: list[str]
    out: str
    policy: dict[str, Any]
    read: int
    kept: int
    weight_sum: float
    estimated_rows_low: float
    estimated_rows_high: float
    upstream_weighted: int
    storage_saved: float
    bytes_in: int
    bytes_out: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def output_format(out: Path) -> str:
    """`parquet` or `csv` by the output file's extension; InputError for another."""
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise InputError(f"the output must end in {', '.join(OUTPUT_FORMATS)} (got {out.name!r})", file=out)
    return fmt


def read_events(path: Path) -> tuple[pa.Table, str]:
    """The rows of one input file and its format; InputError naming the file (and line) when unreadable."""
    fmt = detect_format(path, None)
    if not path.is_file():
        raise InputError("no such file", file=path)
    try:
        if fmt == "csv":
            header = csv_header(path)
            delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
            table = pacsv.read_csv(
                path, read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                     strings_can_be_null=True))
        elif fmt == "jsonl":
            table = pajson.read_json(path)
        else:
            table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable {fmt} file: {exc}", file=path) from None
    return table, fmt


def _where(fmt: str, row: int) -> dict[str, Any]:
    """Where row `row` (0-based) of a file is: its line, or (Parquet) its row number."""
    return {"line": row + _FIRST_LINE[fmt]} if fmt in _FIRST_LINE else {"column": f"row {row + 1}"}


def _check(table: pa.Table, fmt: str, path: Path, policy: HeadSampling | StratifiedSampling) -> None:
    """The columns the policy needs are present, its keys never null and upstream weights valid (else
    InputError at the line)."""
    needed = [*policy.key, *([policy.column] if isinstance(policy, StratifiedSampling) else [])]
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InputError(f"no column {', '.join(map(repr, missing))} (the sampling policy needs "
                         f"{', '.join(needed)}); columns: {', '.join(table.column_names)}", file=path, line=1)
    for column in policy.key:
        nulls = pc.is_null(table.column(column))
        if pc.any(nulls).as_py():
            raise InputError(f"sampling key {column!r} is empty: every row needs its key", file=path,
                             **_where(fmt, pc.index(nulls, True).as_py()))
    if WEIGHT in table.column_names:
        try:
            weights(table.column(WEIGHT), empty_is_one=True)
        except WeightError as exc:
            where = _where(fmt, exc.row) if exc.row is not None else {}
            raise InputError(exc.message, file=path, **where) from None


def _concat(tables: list[pa.Table], files: Sequence[Path]) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"the files' columns do not line up ({exc}); sample files of one shape together",
                         file=files[-1]) from None


def sample_files(files: Sequence[Path], out: Path, policy: HeadSampling | StratifiedSampling, key: bytes, *,
                 dataset: str = "") -> SampleReport:
    """Sample the rows of `files` with `policy` and the hash `key`, write the kept rows with their weights to
    `out` (replaced atomically) and report the counts."""
    fmt = output_format(out)
    tables = []
    for path in files:
        table, in_fmt = read_events(path)
        _check(table, in_fmt, path, policy)
        tables.append(table)
    events = _concat(tables, files)
    try:
        kept = sample(events, policy, key)
    except InputError as exc:
        raise InputError(exc.message, file=files[0] if len(files) == 1 else None) from None
    upstream = 0
    if WEIGHT in events.column_names:
        upstream = events.num_rows - events.column(WEIGHT).null_count
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(kept, tmp)
    else:
        pacsv.write_csv(kept, tmp)
    os.replace(tmp, out)
    count = estimate_count(kept)
    return SampleReport(
        dataset=dataset, files=[str(f) for f in files], out=str(out), policy=policy.model_dump(mode="json"),
        read=events.num_rows, kept=kept.num_rows, weight_sum=count.value, estimated_rows_low=count.lower,
        estimated_rows_high=count.upper, upstream_weighted=upstream,
        storage_saved=1.0 - kept.num_rows / events.num_rows if events.num_rows else 0.0,
        bytes_in=sum(f.stat().st_size for f in files), bytes_out=out.stat().st_size)
