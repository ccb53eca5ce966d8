"""Writing demo datasets as files: CSV, JSON Lines and Parquet, some gzip-compressed.

Output is byte-identical for identical tables: gzip headers carry no time or name, JSON Lines are
rendered by DuckDB in row order, Parquet carries no timestamps. A dataset's extensions column (the
`cost` dataset's `x_extensions`, a JSON object) is written as the export's own columns, by name
(`x_ExportId`), as the file a provider exports has them.

>>> FILES["support_requests"].assume_tz
'Europe/Berlin'
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..store.datasets import REGISTRY

__all__ = ["FILES", "DataFile", "write_dataset"]


@dataclass(frozen=True)
class DataFile:
    """Where and how one dataset is written. `assume_tz`: timestamps are written as naive local times
    of this zone (the file needs `--assume-tz` at ingest)."""

    dataset: str
    name: str
    assume_tz: str | None = None

    @property
    def format(self) -> str:
        suffixes = self.name.removesuffix(".gz").rsplit(".", 1)
        return suffixes[-1]

    @property
    def gzip(self) -> bool:
        return self.name.endswith(".gz")


FILES = {f.dataset: f for f in (
    DataFile("teams", "teams.csv"),
    DataFile("people", "people.csv"),
    DataFile("services", "services.jsonl"),
    DataFile("holidays", "holidays.csv"),
    DataFile("sli_events", "sli_events.parquet"),
    DataFile("telemetry_samples", "telemetry_samples.parquet"),
    DataFile("request_events", "request_events.parquet"),
    DataFile("deployments", "deployments.jsonl.gz"),
    DataFile("changes", "pull_requests.jsonl"),
    DataFile("reviews", "reviews.csv.gz"),
    DataFile("commit_files", "git_numstat.csv.gz"),
    DataFile("incidents", "incidents.jsonl"),
    DataFile("action_items", "action_items.csv"),
    DataFile("alerts", "alerts.jsonl.gz"),
    DataFile("oncall_shifts", "oncall_shifts.csv"),
    DataFile("maintenance_windows", "maintenance_windows.jsonl"),
    DataFile("cost", "focus_cost_export.csv.gz"),
    DataFile("utilization", "utilization.parquet"),
    DataFile("business_volume", "business_volume.csv"),
    DataFile("csat", "csat_responses.csv"),
    DataFile("support_requests", "support_requests.csv", assume_tz="Europe/Berlin"),
    DataFile("doc_updates", "doc_updates.jsonl"),
    DataFile("decisions", "decisions.jsonl"),
    DataFile("perception", "perception_survey.csv"),
    DataFile("feedback", "peer_feedback.parquet"),
    DataFile("release_gate_overrides", "release_gate_overrides.jsonl"),
    DataFile("postmortems", "postmortems.jsonl"),
)}


def _as_text(table: pa.Table, assume_tz: str | None) -> pa.Table:
    """Temporal columns as ISO-8601 text: UTC with `Z`, or naive local time of `assume_tz`."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            if assume_tz:
                column = pc.strftime(column.cast(pa.timestamp("s", tz=assume_tz)), format="%Y-%m-%dT%H:%M:%S")
            else:
                column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_date(field.type) or pa.types.is_time(field.type):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _jsonl(table: pa.Table) -> bytes:
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("t", table)
        lines = con.execute("SELECT to_json(t) FROM t").to_arrow_table().column(0)
    finally:
        con.close()
    text = "\n".join(lines.to_pylist())
    return (text + "\n").encode() if text else b""


def _csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    return sink.getvalue()


def _extra_lines(fmt: str, rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    """Hand-made rows (deliberately bad ones) in the file's own text format."""
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue().encode()


def _unfold_extensions(table: pa.Table, column: str | None) -> pa.Table:
    """`table` with the JSON objects of `column` as one text column per key (in order of appearance)."""
    if column is None or column not in table.column_names:
        return table
    objects = [json.loads(v) if v else {} for v in table[column].to_pylist()]
    keys = list(dict.fromkeys(k for o in objects for k in o))
    table = table.drop_columns([column])
    for key in keys:
        values = [None if (v := o.get(key)) is None else str(v) for o in objects]
        table = table.append_column(key, pa.array(values, pa.string()))
    return table


def write_dataset(directory: Path, spec: DataFile, table: pa.Table,
                  extra_rows: list[dict[str, Any]] | None = None) -> Path:
    """Write `table` (plus `extra_rows`, appended verbatim) to `directory / spec.name`."""
    path = directory / spec.name
    extra_rows = extra_rows or []
    table = _unfold_extensions(table, REGISTRY[spec.dataset].extensions_column)
    if spec.format == "parquet":
        if extra_rows:
            table = pa.concat_tables([table, pa.Table.from_pylist(extra_rows, schema=table.schema)])
        pq.write_table(table, path, compression="zstd")
        return path
    text = _as_text(table, spec.assume_tz)
    data = _csv(text) if spec.format == "csv" else _jsonl(text)
    data += _extra_lines(spec.format, extra_rows, table.column_names)
    if spec.gzip:
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path
