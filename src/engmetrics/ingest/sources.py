"""Input files as SQL sources: CSV, JSON Lines and Parquet, gzip-compressed or not.

`open_source` checks what can be checked before reading (the file exists, the format, the header has
every required column) and returns a SQL subquery yielding `_row` (position in the file; NULL for CSV,
whose records keep their file order in the staging table, so the position is derived from `rowid`; for a
Parquet file a converter wrote with a `LINE_COLUMN`, that column: the line in the file it was converted from),
`_refusal` (why the record is refused before any column is checked: a JSON Lines line that is not an
object, or, for files written by a connector (`reasons=True`), a record that carries its own reason under
the key `_reason`: how connectors quarantine what only they can see, such as an unknown vendor severity)
and the dataset's columns as raw values. The engine
streams the file; nothing is loaded into Python.

What a dataset declares shapes the reading: `null_strings` (text read as NULL, e.g. FOCUS exports writing
`NULL`), `ignore_header_case` (a CSV or Parquet column `SkuPriceid` fills `SkuPriceId`; an exact name wins)
and `extensions_column` (a CSV or Parquet file's other columns are kept there as a JSON object by name,
values as the file has them, instead of being ignored).
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

__all__ = ["FORMATS", "LINE_COLUMN", "REASON_KEY", "Source", "csv_header", "csv_text_reader", "csv_units",
           "detect_format", "open_source", "physical_lines"]

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
             ".parquet": "parquet", ".pq": "parquet"}
REJECTS = "_em_rejects"
REASON_KEY = "_reason"  # in a connector's JSON Lines (reasons=True): quarantine the record with this reason
# In a converter's Parquet (the AWS CUR mapping): each row's line in the file it was converted from, used as its line
# (quarantine, --strict) instead of its position; not a data column.
LINE_COLUMN = "_em_line"


@dataclass
class Source:
    """A readable input: subquery, the DuckDB type of each raw column, and where lines are."""

    path: Path
    fmt: str
    query: str
    types: dict[str, str]
    ignored_columns: list[str] = field(default_factory=list)
    absent: frozenset[str] = frozenset()  # dataset columns the file lacks: NULL in every row


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


def csv_header(path: Path) -> list[str]:
    """The header's column names (trimmed); InputError for an unreadable or empty file or a repeated name."""
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


def _columns(dataset: Dataset, present: list[str], path: Path) -> tuple[dict[str, str], list[str]]:
    """Which of the file's columns fills each dataset column (exact names first, then, where the dataset
    ignores header case, names in another casing), and the file's other columns. Refuses a file lacking
    a required column."""
    filled = {c: c for c in present if c in dataset.column_index}
    if dataset.ignore_header_case:
        folded = {c.lower(): c for c in dataset.column_names}
        for name in present:
            target = folded.get(name.lower())
            if target is not None and target not in filled and name not in dataset.column_index:
                filled[target] = name
    missing = [c.name for c in dataset.columns
               if c.required and c.name not in filled and not (dataset.hash_key and c.name in dataset.key)]
    if missing:
        raise InputError(f"lacks required column(s) {', '.join(missing)} for dataset {dataset.name}",
                         file=path, line=1)
    used = set(filled.values())
    return filled, [c for c in present if c not in used]


def _null_strings(dataset: Dataset, value: str) -> str:
    """`value` (text) with the dataset's null spellings read as NULL."""
    if not dataset.null_strings:
        return value
    spellings = ", ".join(quote_literal(v) for v in dataset.null_strings)
    return f"CASE WHEN {value} IN ({spellings}) THEN NULL ELSE {value} END"


def _select(dataset: Dataset, filled: dict[str, str], others: list[str], value=quote_ident) -> tuple[str, list[str]]:
    """The dataset's columns from the file's (`value(name)`: SQL of a file column) and the columns ignored.

    With an extensions column the file's other columns are kept there, as a JSON object by name.
    """
    extensions = dataset.extensions_column if others and dataset.extensions_column not in filled else None
    cols = []
    for c in dataset.column_names:
        if c in filled:
            cols.append(f"{value(filled[c])} AS {quote_ident(c)}")
        elif c == extensions:
            pairs = ", ".join(f"{quote_literal(o)}, {value(o)}" for o in others)
            cols.append(f"json_object({pairs})::VARCHAR AS {quote_ident(c)}")
        else:
            cols.append(f"NULL::VARCHAR AS {quote_ident(c)}")
    return ", ".join(cols), [] if extensions else others


def csv_text_reader(path: Path, header: list[str], rejects: str, null_strings: tuple[str, ...] = ()) -> str:
    """DuckDB `read_csv` of every column as text; malformed records are skipped into table `rejects`
    (its `line` is the reader's unit, see `csv_units`); `null_strings` (and empty values) read as NULL."""
    columns = "{" + ", ".join(f"{quote_literal(h)}: 'VARCHAR'" for h in header) + "}"
    nulls = ""
    if null_strings:  # the reader's own option: faster than a CASE over every value
        nulls = ", nullstr = [" + ", ".join(quote_literal(v) for v in sorted({*null_strings, ""})) + "]"
    return (f"read_csv({quote_literal(str(path))}, header = true, auto_detect = false, columns = {columns}, "
            f"delim = {quote_literal(_delimiter(path))}, quote = '\"', escape = '\"', store_rejects = true, "
            f"{_compression(path)}, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan'{nulls})")


def physical_lines(path: Path) -> str:
    """SQL yielding every physical line of a text file in order: `ln` (1-based) and `_text`, NULL when
    blank. The engine reads it; it serves JSON Lines records and the CSV line map."""
    reader = (f"read_csv({quote_literal(str(path))}, columns = {{'_text': 'VARCHAR'}}, header = false, "
              f"auto_detect = false, delim = chr(0), quote = '', escape = '', {_compression(path)})")
    return f"SELECT row_number() OVER () AS ln, _text FROM {reader}"


def _absent(dataset: Dataset, filled: dict[str, str], ignored: list[str], others: list[str]) -> frozenset[str]:
    """The dataset columns `_select` fills with NULL (the extensions column is filled when others are kept)."""
    kept = {dataset.extensions_column} if others and not ignored else set()
    return frozenset(c for c in dataset.column_names if c not in filled and c not in kept)


def csv_units(path: Path) -> str:
    """SQL yielding the CSV reader's units of a text file: `unit` (1-based), the physical `line` it starts
    on, and `blank`. The reader counts a record spanning lines as one unit and a blank line as one; a
    line starts a unit unless it continues a quoted field (an odd number of quotes so far). Unit 1 is
    the header; the non-blank units after it are the records, in order. The window holds every line, so it
    gets only their numbers and quote counts, not their text."""
    return f"""
        SELECT row_number() OVER (ORDER BY ln) AS unit, ln AS line, blank FROM (
            SELECT ln, blank, coalesce(sum(quotes) OVER (
                ORDER BY ln ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) % 2 = 1 AS _inside
            FROM (SELECT ln, _text IS NULL AS blank, strlen(_text) - strlen(replace(_text, '"', '')) AS quotes
                  FROM ({physical_lines(path)}))) WHERE NOT _inside"""


def _csv(con, dataset: Dataset, path: Path) -> Source:
    header = csv_header(path)
    filled, others = _columns(dataset, header, path)
    reader = csv_text_reader(path, header, REJECTS, dataset.null_strings)
    columns, ignored = _select(dataset, filled, others)
    query = f"SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS _refusal, {columns} FROM {reader}"
    types = {c: "VARCHAR" for c in dataset.column_names}
    return Source(path, "csv", query, types, ignored, _absent(dataset, filled, ignored, others))


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
    given = f"nullif(trim(_j ->> '{REASON_KEY}'), '')" if reasons else "NULL"
    refusal = f"CASE WHEN coalesce(json_type(_j) <> 'OBJECT', TRUE) THEN 'not a JSON object' ELSE {given} END"
    columns, _ = _select(dataset, {c: c for c in dataset.column_names}, [],
                         lambda c: _null_strings(dataset, f"(_j ->> {quote_literal(c)})"))
    query = f"SELECT _row, {refusal} AS _refusal, {columns} FROM ({objects})"
    return Source(path, "jsonl", query, {c: "VARCHAR" for c in dataset.column_names})


def _parquet(con, dataset: Dataset, path: Path) -> Source:
    reader = f"read_parquet({quote_literal(str(path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except Exception as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=path) from None
    types = {name: str(kind) for name, kind, *_ in described if name not in ("file_row_number", LINE_COLUMN)}
    row = quote_ident(LINE_COLUMN) if any(d[0] == LINE_COLUMN for d in described) else "file_row_number + 1"
    filled, others = _columns(dataset, list(types), path)

    def value(name: str) -> str:
        return _null_strings(dataset, quote_ident(name)) if types[name] == "VARCHAR" else quote_ident(name)

    columns, ignored = _select(dataset, filled, others, value)
    query = f"SELECT {row} AS _row, NULL::VARCHAR AS _refusal, {columns} FROM {reader}"
    kinds = {c: types[filled[c]] if c in filled else "VARCHAR" for c in dataset.column_names}
    return Source(path, "parquet", query, kinds, ignored, _absent(dataset, filled, ignored, others))


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
