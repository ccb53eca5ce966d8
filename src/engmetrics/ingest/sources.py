"""Input files as SQL sources: CSV, JSON Lines and Parquet, gzip-compressed or not.

`open_source` checks what can be checked before reading (the file exists, the format, the header has
every required column) and returns a SQL subquery yielding `_row` (position in the file; NULL for CSV,
whose records keep their file order in the staging table, so the position is derived from `rowid`),
`_refusal` (why the record is refused before any column is checked: a JSON Lines line that is not an
object, or, for files written by a connector (`reasons=True`), a record that carries its own reason under
the key `_reason`: how connectors quarantine what only they can see, such as an unknown vendor severity)
and the dataset's columns as raw values. The engine
streams the file; nothing is loaded into Python.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..store.registry import Dataset
from .coerce import quote_ident, quote_literal

__all__ = ["FORMATS", "REASON_KEY", "Source", "detect_format", "open_source", "physical_lines"]

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
             ".parquet": "parquet", ".pq": "parquet"}
REJECTS = "_em_rejects"
REASON_KEY = "_reason"  # in a connector's JSON Lines (reasons=True): quarantine the record with this reason


@dataclass
class Source:
    """A readable input: subquery, the DuckDB type of each raw column, and where lines are."""

    path: Path
    fmt: str
    query: str
    types: dict[str, str]
    ignored_columns: list[str] = field(default_factory=list)


def detect_format(path: Path, fmt: str | None) -> str:
    """The format named, or the one the file name says (`.csv`, `.jsonl.gz`, `.parquet`, ...)."""
    if fmt:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", file=path)
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise InputError("cannot tell the format from the file name; pass --format csv|jsonl|parquet", file=path)


def _compression(path: Path) -> str:
    """DuckDB's compression option, by content (gzip bytes in a file not named .gz are still gzip)."""
    return "compression = 'gzip'" if _is_gzip(path) else "compression = 'none'"


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _check_gzip(path: Path) -> None:
    """DuckDB reads a truncated or corrupt gzip stream up to the damage without an error: check it first."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"corrupt or truncated gzip file ({exc})", file=path) from None


def _delimiter(path: Path) -> str:
    """Tab for `.tsv` (and `.tsv.gz`), else comma."""
    return "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
            header = next(csv.reader(io.StringIO(handle.readline()), delimiter=_delimiter(path)), [])
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise InputError(f"not a readable UTF-8 CSV file ({exc.__class__.__name__})", file=path, line=1) from None
    header = [h.strip() for h in header]
    if not header or header == [""]:
        raise InputError("the file is empty or has no header line", file=path, line=1)
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if name in seen:
            raise InputError(f"header names column {name!r} twice", file=path, line=1, column=i)
        seen.add(name)
    return header


def _require(dataset: Dataset, present: list[str], path: Path) -> list[str]:
    missing = [c.name for c in dataset.columns
               if c.required and c.name not in present and not (dataset.hash_key and c.name in dataset.key)]
    if missing:
        raise InputError(f"lacks required column(s) {', '.join(missing)} for dataset {dataset.name}",
                         file=path, line=1)
    return [c for c in present if c not in dataset.column_index]


def _select(dataset: Dataset, present: set[str], expr: dict[str, str] | None = None) -> str:
    cols = []
    for c in dataset.column_names:
        if c in present:
            cols.append(f"{(expr or {}).get(c, quote_ident(c))} AS {quote_ident(c)}")
        else:
            cols.append(f"NULL::VARCHAR AS {quote_ident(c)}")
    return ", ".join(cols)


def _csv_reader(path: Path, header: list[str], rejects: str) -> str:
    columns = "{" + ", ".join(f"{quote_literal(h)}: 'VARCHAR'" for h in header) + "}"
    return (f"read_csv({quote_literal(str(path))}, header = true, auto_detect = false, columns = {columns}, "
            f"delim = {quote_literal(_delimiter(path))}, quote = '\"', escape = '\"', store_rejects = true, "
            f"{_compression(path)}, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan')")


def physical_lines(path: Path) -> str:
    """SQL yielding every physical line of a text file in order: `ln` (1-based) and `_text`, NULL when
    blank. The engine reads it; it serves JSON Lines records and the CSV line map."""
    reader = (f"read_csv({quote_literal(str(path))}, columns = {{'_text': 'VARCHAR'}}, header = false, "
              f"auto_detect = false, delim = chr(0), quote = '', escape = '', {_compression(path)})")
    return f"SELECT row_number() OVER () AS ln, _text FROM {reader}"


def _csv(con, dataset: Dataset, path: Path) -> Source:
    header = _csv_header(path)
    ignored = _require(dataset, header, path)
    for table in (REJECTS, REJECTS + "_scan"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    reader = _csv_reader(path, header, REJECTS)
    query = f"SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS _refusal, {_select(dataset, set(header))} FROM {reader}"
    types = {c: "VARCHAR" for c in dataset.column_names}
    return Source(path, "csv", query, types, ignored)


def _jsonl(con, dataset: Dataset, path: Path, reasons: bool) -> Source:
    objects = (f"SELECT ln AS _row, _text, CASE WHEN json_valid(_text) THEN _text::JSON END AS _j "
               f"FROM ({physical_lines(path)}) WHERE trim(coalesce(_text, '')) <> ''")
    try:
        found = con.execute(f"SELECT count(*) FILTER (WHERE json_type(_j) = 'OBJECT'), count(*) "
                            f"FROM ({objects})").fetchone()
    except Exception as exc:
        raise InputError(f"cannot read as JSON Lines: {exc}", file=path) from None
    if not found[1]:
        raise InputError("the file is empty (no JSON Lines)", file=path, line=1)
    if not found[0]:
        raise InputError("no line is a JSON object; is this JSON Lines?", file=path, line=1)
    expr = {c: f"_j ->> {quote_literal(c)}" for c in dataset.column_names}
    given = f"nullif(trim(_j ->> '{REASON_KEY}'), '')" if reasons else "NULL"
    refusal = f"CASE WHEN coalesce(json_type(_j) <> 'OBJECT', TRUE) THEN 'not a JSON object' ELSE {given} END"
    query = f"SELECT _row, {refusal} AS _refusal, {_select(dataset, set(dataset.column_names), expr)} FROM ({objects})"
    return Source(path, "jsonl", query, {c: "VARCHAR" for c in dataset.column_names})


def _parquet(con, dataset: Dataset, path: Path) -> Source:
    reader = f"read_parquet({quote_literal(str(path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except Exception as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=path) from None
    types = {name: str(kind) for name, kind, *_ in described if name != "file_row_number"}
    ignored = _require(dataset, list(types), path)
    query = (f"SELECT file_row_number + 1 AS _row, NULL::VARCHAR AS _refusal, {_select(dataset, set(types))} "
             f"FROM {reader}")
    return Source(path, "parquet", query, {c: types.get(c, "VARCHAR") for c in dataset.column_names}, ignored)


def open_source(con, dataset: Dataset, path: Path, fmt: str | None, *, reasons: bool = False) -> Source:
    """Check `path` and return its SQL source. Raises InputError when the file cannot be read at all."""
    if not path.exists():
        raise InputError("no such file", file=path)
    if not path.is_file():
        raise InputError("not a regular file", file=path)
    kind = detect_format(path, fmt)
    if _is_gzip(path):
        _check_gzip(path)
    if kind == "jsonl":
        return _jsonl(con, dataset, path, reasons)
    return {"csv": _csv, "parquet": _parquet}[kind](con, dataset, path)
