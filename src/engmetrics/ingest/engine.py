"""Ingest files into a dataset, losing nothing: every row read ends up inserted, updated, unchanged or
quarantined, and `read == inserted + updated + unchanged + quarantined`. For a dataset with
`replace_partitions` (cost), the batch also replaces the partitions its valid rows contain: stored rows of
those partitions that the batch lacks are deleted and counted as `replaced` (store rows, not rows read).

A batch (all files of one call) is staged in temporary tables, then written in one transaction: a file
that cannot be read, `--strict` with an invalid row, or a killed process leaves the store exactly as it
was.

>>> from engmetrics.store import Store
>>> import tempfile, pathlib
>>> f = pathlib.Path(tempfile.mkdtemp()) / "holidays.csv"
>>> _ = f.write_text("calendar,date,name\\nuk,2026-12-25,Christmas\\nuk,not-a-date,Oops\\n")
>>> ingest_files(Store.open("duckdb://"), "holidays", [f]).as_dict()["quarantined"]
1
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError
from ..globs import glob_regex
from ..store import REGISTRY, Column, Dataset, Store
from ..store.registry import Rule
from ..telemetry.horizon import horizon_rules
from .coerce import FORM, TYPED, ColumnSql, TimeRules, column_sql, quote_ident, quote_literal
from .progress import Progress, watching
from .pseudonym import hmac_sql
from .sources import REJECTS, Source, csv_units, open_source

__all__ = ["IngestResult", "ingest_files"]

_T = "_em_typed"
_F = "_em_final"
_REJECT_TABLES = (REJECTS, REJECTS + "_scan")  # the CSV reader's, per file


@dataclass
class IngestResult:
    """The accounting of one batch. `as_dict()` is the `--json` summary.

    `replaced` counts stored rows deleted because the batch replaces their partition (`Dataset.replace_partitions`)
    and does not have them: rows of the store, not rows read, so `read == inserted + updated + unchanged +
    quarantined` still holds. It is None, and left out of `as_dict()`, for a dataset without replace partitions.
    """

    dataset: str
    files: list[str]
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    replaced: int | None = None
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        del data["ignored_columns"]
        if self.replaced is None:
            del data["replaced"]
        return data


def _bot_sql(dataset: Dataset, bots: Sequence[str]) -> str | None:
    """The stored value of the dataset's bot flag: what the file says, or its person matching a bot glob
    (on the name as written, before it is pseudonymised); None when there is no flag or no glob."""
    if dataset.bot_flag is None or not bots:
        return None
    flag, person = (quote_ident(c) for c in dataset.bot_flag)
    pattern = quote_literal("^" + glob_regex(bots) + "$")
    return f"(coalesce({flag}, FALSE) OR coalesce(regexp_matches(lower({person}::VARCHAR), {pattern}), FALSE))"


def _typed_select(dataset: Dataset, source: Source, rules: TimeRules, key: bytes | None, file_index: int,
                  columns: Sequence[str], bots: Sequence[str] = ()) -> str:
    """SQL over the source yielding the typed `columns` (`_written_columns`), the row's value hash `_h`, and
    for refused rows `_reason`, `_column` and `_record` (NULL for valid rows).

    Layers: raw values (renamed `__r_<col>`) and helpers; typed values; the verdict `_ok`; output.
    """
    # A column the file lacks is NULL in every row: nothing to type or check, a constant in the hash.
    specs = [column_sql(c, quote_ident("__r_" + c.name), source.types[c.name], rules) if c.name not in source.absent
             else ColumnSql(c.name, f"NULL::{c.sql_type}", None, ()) for c in dataset.columns
             if not (dataset.hash_key and c.name in dataset.key)]
    form = {s.name: quote_ident("__f_" + s.name) for s in specs}
    raw = ", ".join(f"{quote_ident(c)} AS {quote_ident('__r_' + c)}" for c in dataset.column_names)
    helpers = "".join(f", {s.helper} AS {form[s.name]}" for s in specs if s.helper)
    layer1 = f"SELECT _row, _refusal, {raw} FROM ({source.query})"
    layer1 = f"SELECT *{helpers} FROM ({layer1})"

    def fill(sql: str, name: str) -> str:
        return sql.replace(TYPED, quote_ident(name)).replace(FORM, form[name])

    typed = ", ".join(f"{fill(s.typed, s.name)} AS {quote_ident(s.name)}" for s in specs)
    layer2 = f"SELECT *, {typed} FROM ({layer1})"
    checks = [(fill(c, s.name), fill(m, s.name), s.name) for s in specs for c, m in s.checks]
    checks += [(f"NOT ({rule.check})", quote_literal(f"{rule.column}: {rule.message}"), rule.column)
               for rule in dataset.rules]
    refused = " OR ".join(f"coalesce({c}, FALSE)" for c, _, _ in checks) or "FALSE"
    layer3 = f"SELECT *, _refusal IS NOT NULL OR {refused} AS _refused FROM ({layer2})"
    reasons = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m, _ in checks) or "NULL"
    first = ", ".join(f"CASE WHEN {c} THEN {quote_literal(col)} END" for c, _, col in checks) or "NULL"

    bot = _bot_sql(dataset, bots)

    def out(c: str) -> str:
        col = dataset.column(c)
        if bot is not None and c == dataset.bot_flag[0]:  # type: ignore[index]
            return bot
        if dataset.hash_key and c in dataset.key:
            return _key_hash(dataset, source.absent)
        if col.person and col.type == "string[]":
            return f"list_transform({quote_ident(c)}, _v -> {hmac_sql('_v', _need_key(key, dataset))})"
        if col.person:
            return hmac_sql(quote_ident(c), _need_key(key, dataset))
        return quote_ident(c)

    def shown(c: str) -> str:
        value = quote_ident("__r_" + c)
        return hmac_sql(f"{value}::VARCHAR", _need_key(key, dataset)) if dataset.column(c).person else value

    record = "{" + ", ".join(f"{quote_literal(c)}: {shown(c)}" for c in dataset.column_names) + "}"
    outputs = ", ".join(f"{out(c)} AS {quote_ident(c)}" for c in columns)
    inner = (f"SELECT {file_index} AS _file, _row, {outputs}, "
             f"CASE WHEN _refused THEN coalesce(_refusal, concat_ws('; ', {reasons})) END AS _reason, "
             f"CASE WHEN _refused AND _refusal IS NULL THEN coalesce({first}) END AS _column, "
             f"CASE WHEN _refused THEN to_json({record})::VARCHAR END AS _record FROM ({layer3})")
    # The row hash is over the stored values (pseudonyms, not raw person ids), as `_upsert` compares them.
    cols = ", ".join(quote_ident(c) for c in columns)
    unwritten = [c for c in dataset.column_names if c not in columns]  # NULL in the store too
    return (f"SELECT _file, _row, {cols}, {_hash(dataset, nulls=unwritten)} AS _h, _reason, _column, _record "
            f"FROM ({inner})")


def _key_hash(dataset: Dataset, absent: frozenset[str]) -> str:
    """The key of a hash-keyed dataset: md5 of every value's exact text (NUL for NULL), joined by chr(31).
    A run of columns the file lacks is one constant (NUL, separator, NUL, ...): the same text, written out
    once instead of joined value by value in every row.

    A file with only the first of cost's 58 value columns:

    >>> from engmetrics.store import REGISTRY
    >>> cost = REGISTRY.get_dataset("cost")
    >>> _key_hash(cost, frozenset(cost.value_columns[1:])).removeprefix("md5(concat_ws(chr(31), ")
    'coalesce(epoch_us("BillingPeriodStart")::VARCHAR, chr(0)), repeat(chr(0) || chr(31), 56) || chr(0)))'
    """
    parts: list[str] = []
    for lacking, run in itertools.groupby(dataset.value_columns, key=absent.__contains__):
        names = list(run)
        if lacking:
            parts.append(f"repeat(chr(0) || chr(31), {len(names) - 1}) || chr(0)")
        else:
            parts += [f"coalesce({_text(dataset.column(v))}, chr(0))" for v in names]
    return f"md5(concat_ws(chr(31), {', '.join(parts)}))"


def _text(column: Column) -> str:
    """Exact text of a typed value for the row hash (timestamps as epoch microseconds: cheap to format)."""
    if column.type == "timestamp":
        return f"epoch_us({quote_ident(column.name)})::VARCHAR"
    return f"{quote_ident(column.name)}::VARCHAR"


def _need_key(key: bytes | None, dataset: Dataset) -> bytes:
    if key is None:
        raise InputError(f"dataset {dataset.name} has person columns; a pseudonymisation key is required "
                         "(run `engmetrics init` or set pseudonym_key_file)")
    return key


def _written_columns(dataset: Dataset, sources: Sequence[Source], bots: Sequence[str]) -> list[str]:
    """The dataset's columns the batch writes: all but those every CSV or Parquet file lacks (a JSON Lines file
    lacks none). Those are NULL in every row, and the store fills a column left out of an INSERT with NULL;
    not staging and inserting them spares the engine millions of NULLs (a FOCUS export of 22 columns lacks 36
    of `cost`'s 58 value columns). The key, the replaced partitions and a bot flag set from names are always
    written."""
    always = {*dataset.key, *dataset.replace_partitions}
    if _bot_sql(dataset, bots) is not None:
        always.add(dataset.bot_flag[0])  # type: ignore[index]
    return [c for c in dataset.column_names if c in always or any(c not in s.absent for s in sources)]


def _stage_file(con, dataset: Dataset, source: Source, rules: TimeRules, key: bytes | None, index: int,
                columns: Sequence[str], bots: Sequence[str]) -> None:
    if source.fmt == "csv":
        _drop(con, _REJECT_TABLES)
    con.execute(f"INSERT INTO {_T} {_typed_select(dataset, source, rules, key, index, columns, bots)}")
    con.execute(f"INSERT INTO _em_files SELECT ?, ?, min(rowid) FROM {_T} WHERE _file = ?",
                [index, source.fmt, index])
    if source.fmt != "csv":
        return
    # Malformed lines (too many / too few columns, bad quoting) were skipped by the reader. Their raw
    # text cannot be split reliably, so it is not kept when the dataset has person columns.
    line = "NULL" if dataset.person_columns else "csv_line"
    con.execute(f"""INSERT INTO _em_structural
        SELECT {index}, line, column_name, error_type::VARCHAR || ': ' || error_message, {line}
        FROM (SELECT DISTINCT ON (line) * FROM {REJECTS} ORDER BY line, column_idx)""")
    refused = con.execute(f"SELECT (SELECT count(*) FROM {_T} WHERE _file = ? AND _reason IS NOT NULL) "
                          f"+ (SELECT count(*) FROM _em_structural WHERE _file = ?)", [index, index]).fetchone()
    if refused[0]:
        _map_csv_lines(con, source.path, index)


def _map_csv_lines(con, path: Path, index: int) -> None:
    """Physical line of every CSV record, for files with refused rows only (a second, cheap pass).

    The reader counts a record spanning lines as one "line" and a blank line as one, so its positions
    are units: blank lines and records, where a line starts a record unless it continues a quoted field
    (an odd number of quotes so far). Good records, in order, are the units that are neither blank,
    the header, nor a malformed record; the n-th of them is the n-th staged row of the file.
    """
    con.execute(f"INSERT INTO _em_units SELECT {index}, unit, line, blank FROM ({csv_units(path)})")
    con.execute(f"""
        UPDATE _em_structural s SET line = u.line FROM _em_units u
        WHERE s._file = {index} AND u._file = {index} AND u.unit = s.line""")
    con.execute(f"""
        INSERT INTO _em_records
        SELECT {index}, row_number() OVER (ORDER BY unit) - 1, line FROM _em_units u
        WHERE _file = {index} AND NOT blank AND unit > 1
          AND unit NOT IN (SELECT line FROM {REJECTS})""")


def _quarantine(con, dataset: Dataset, files: list[str], batch: str) -> None:
    names = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
    con.execute(f"""
        INSERT INTO _quarantine
        SELECT '{batch}', '{dataset.name}', {names}[q._file + 1],
               CASE WHEN s.fmt = 'csv' THEN (SELECT r.line FROM _em_records r
                    WHERE r._file = q._file AND r.good = q.rowid - s.start) ELSE q._row END,
               q._column, q._reason, q._record, now()
        FROM {_T} q JOIN _em_files s ON s._file = q._file WHERE q._reason IS NOT NULL""")
    con.execute(f"""
        INSERT INTO _quarantine SELECT '{batch}', '{dataset.name}', {names}[_file + 1], line, "column",
               reason, record, now() FROM _em_structural""")
    # Re-ingesting a file quarantines its bad rows again: keep one entry each, the newest.
    con.execute(f"""
        DELETE FROM _quarantine o USING _quarantine n
        WHERE n.batch_id = '{batch}' AND o.batch_id <> '{batch}' AND o.dataset = n.dataset
          AND o.source_file = n.source_file AND o.line IS NOT DISTINCT FROM n.line
          AND o.reason = n.reason AND o.record IS NOT DISTINCT FROM n.record""")


def _hash(dataset: Dataset, alias: str = "", nulls: Sequence[str] = ()) -> str:
    """A hash of the row's value columns, to tell an update from an unchanged row; `nulls` are typed NULLs.
    A hash-keyed dataset's key already is a hash of every value, so equal keys mean equal values and the
    constant 0 does."""
    prefix, cols = f"{alias}." if alias else "", dataset.value_columns
    if dataset.hash_key or not cols:
        return "0"
    values = (f"NULL::{dataset.column(c).sql_type}" if c in nulls else prefix + quote_ident(c) for c in cols)
    return f"hash({', '.join(values)})"


def _counts(con, dataset: Dataset, valid: str) -> tuple[int, int, int, int]:
    """(inserted, updated, unchanged, repeats) of the staged valid rows against the store; a repeat is a
    row whose key an earlier row of the batch has."""
    target, keys = quote_ident(dataset.name), ", ".join(quote_ident(k) for k in dataset.key)
    matched, stored = f"c.{quote_ident(dataset.key[0])} IS NOT NULL", _hash(dataset, "c")
    joined = " AND ".join(f"c.{quote_ident(k)} = s.{quote_ident(k)}" for k in dataset.key)
    return con.execute(f"""
        WITH s AS (SELECT {keys}, _h, lag(_h) OVER (PARTITION BY {keys} ORDER BY _seq) AS _prev
                   FROM {valid})
        SELECT count(*) FILTER (WHERE s._prev IS NULL AND NOT {matched}),
               count(*) FILTER (WHERE (s._prev IS NULL AND {matched} AND {stored} <> s._h) OR s._prev <> s._h),
               count(*) FILTER (WHERE (s._prev IS NULL AND {matched} AND {stored} = s._h) OR s._prev = s._h),
               count(*) FILTER (WHERE s._prev IS NOT NULL)
        FROM s LEFT JOIN {target} c ON {joined}""").fetchone()


def _number_repeats(con, dataset: Dataset) -> None:
    """Identical rows within one file of a hash-keyed dataset are distinct charges, not one: the n-th
    (n > 1) is keyed md5(hash || ':' || n). Re-reading the file gives the same keys (nothing doubles);
    the same row in another file is the same row."""
    key = quote_ident(dataset.key[0])
    con.execute(f"""
        UPDATE {_T} t SET {key} = md5(r.{key} || ':' || r.n) FROM (
            SELECT rowid AS _rid, {key}, row_number() OVER (PARTITION BY _file, {key} ORDER BY rowid) AS n
            FROM {_T} WHERE _reason IS NULL QUALIFY n > 1) r
        WHERE t.rowid = r._rid""")


def _replace_partitions(con, dataset: Dataset, valid: str) -> int:
    """Delete the stored rows of every partition (`dataset.replace_partitions`, null equal to null) that the
    batch's valid rows contain, except the rows whose key the batch has (those are upserted as usual); return
    how many were deleted. Quarantined rows name no partition. Runs after `_number_repeats`, so the numbered
    key of a repeated line counts as in the batch.
    """
    target, key = quote_ident(dataset.name), dataset.key
    columns = [quote_ident(c) for c in dataset.replace_partitions]
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM p.{c}" for c in columns)
    kept = " AND ".join(f"f.{quote_ident(k)} = t.{quote_ident(k)}" for k in key)
    return con.execute(f"""
        DELETE FROM {target} t USING (SELECT DISTINCT {', '.join(columns)} FROM {valid}) p
        WHERE {same} AND NOT EXISTS (SELECT 1 FROM {valid} f WHERE {kept})""").fetchone()[0]


def _upsert(con, dataset: Dataset, result: IngestResult, columns: Sequence[str]) -> None:
    target, key = quote_ident(dataset.name), dataset.key
    cols = ", ".join(quote_ident(c) for c in columns)
    on = " AND ".join(f"t.{quote_ident(k)} = f.{quote_ident(k)}" for k in key)
    keys = ", ".join(quote_ident(k) for k in key)
    valid = f"(SELECT *, rowid AS _seq FROM {_T} WHERE _reason IS NULL)"  # rowid: file order, file by file
    inserted, updated, unchanged, repeats = _counts(con, dataset, valid)
    if repeats and dataset.hash_key:
        _number_repeats(con, dataset)
        inserted, updated, unchanged, repeats = _counts(con, dataset, valid)
    result.inserted, result.updated, result.unchanged = inserted, updated, unchanged
    if dataset.replace_partitions:
        result.replaced = _replace_partitions(con, dataset, valid)
    final = valid
    if repeats:  # the later row of a repeated key wins
        final = _F
        con.execute(f"CREATE TEMP TABLE {_F} AS SELECT * FROM {valid} QUALIFY row_number() OVER "
                    f"(PARTITION BY {keys} ORDER BY _seq DESC) = 1")
    if updated:
        con.execute(f"DELETE FROM {target} t USING {final} f WHERE {on} AND {_hash(dataset, 't')} <> f._h")
    new_rows = f"SELECT {cols} FROM {final} f"
    if updated or unchanged:  # some keys are in the store already: insert only the others
        new_rows += f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
    if inserted or updated:
        con.execute("SET preserve_insertion_order = false")  # row order means nothing in a table: write in parallel
        try:
            con.execute(f"INSERT INTO {target} ({cols}) {new_rows}")
        finally:
            con.execute("RESET preserve_insertion_order")


def _prepare(con, dataset: Dataset, columns: Sequence[str]) -> None:
    types = ", ".join(f"{quote_ident(c)} {dataset.column(c).sql_type}" for c in columns)
    con.execute(f"CREATE TEMP TABLE {_T} (_file INTEGER, _row BIGINT, {types}, _h UBIGINT, _reason VARCHAR, "
                f"_column VARCHAR, _record VARCHAR)")
    con.execute("CREATE TEMP TABLE _em_structural (_file INTEGER, line BIGINT, \"column\" VARCHAR, "
                "reason VARCHAR, record VARCHAR)")
    con.execute("CREATE TEMP TABLE _em_files (_file INTEGER, fmt VARCHAR, start BIGINT)")
    con.execute("CREATE TEMP TABLE _em_units (_file INTEGER, unit BIGINT, line BIGINT, blank BOOLEAN)")
    con.execute("CREATE TEMP TABLE _em_records (_file INTEGER, good BIGINT, line BIGINT)")


def _drop(con, tables: Sequence[str]) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _cleanup(con) -> None:
    _drop(con, (_T, _F, "_em_structural", "_em_files", "_em_units", "_em_records", *_REJECT_TABLES))


def _strict_failure(con, batch: str, quarantined: int) -> InputError:
    rows = con.execute("SELECT source_file, line, reason FROM _quarantine WHERE batch_id = ? "
                       "ORDER BY source_file, line LIMIT 5", [batch]).fetchall()
    shown = "\n".join(f"  {f}:{line}: {reason}" for f, line, reason in rows)
    return InputError(f"--strict: {quarantined} invalid row(s); nothing was written. First ones:\n{shown}")


def _write(con, spec: Dataset, names: list[str], batch: str, strict: bool, result: IngestResult,
           started: datetime, columns: Sequence[str]) -> None:
    """The batch's writes (quarantine, upsert, ingest log), inside the caller's transaction."""
    _quarantine(con, spec, names, batch)
    result.quarantined = con.execute("SELECT count(*) FROM _quarantine WHERE batch_id = ?", [batch]).fetchone()[0]
    if strict and result.quarantined:
        raise _strict_failure(con, batch, result.quarantined)
    _upsert(con, spec, result, columns)
    result.read = result.inserted + result.updated + result.unchanged + result.quarantined
    con.execute("INSERT INTO _ingests VALUES (?, ?, ?, ?, now(), ?, ?, ?, ?, ?)",
                [batch, spec.name, result.files, started, result.read, result.inserted, result.updated,
                 result.unchanged, result.quarantined])


def ingest_files(store: Store, dataset: str, files: Sequence[Path], *, fmt: str | None = None,
                 assume_tz: str | None = None, strict: bool = False, pseudonym_key: bytes | None = None,
                 progress: Progress | None = None, names: Sequence[str] | None = None,
                 reasons: bool = False, bots: Sequence[str] = (), rules: Sequence[Rule] = ()) -> IngestResult:
    """Validate and upsert `files` into `dataset` in one transaction; return the accounting.

    Invalid rows go to the quarantine with file, line, column and reason; with `strict` any invalid
    row fails the whole batch (InputError) and nothing is written. For a dataset with `replace_partitions`
    the batch replaces the partitions its valid rows contain (`IngestResult.replaced`), in the same
    transaction. `names` (one per file) are what the accounting and the quarantine call the files, e.g. an
    upload's own file name instead of its temporary path; by default the paths as given. With `reasons` (for
    JSON Lines written by a connector), a record whose `_reason` key holds a non-empty text is quarantined
    with that reason; in user files the key is ordinary data and ignored. `bots` (globs,
    `settings.delivery.bots`) set a dataset's bot flag (`changes.is_bot`, `reviews.is_bot`,
    `commit_files.is_bot`) where its person matches one, before names are pseudonymised. `rules` are checked
    after the dataset's own (setting-driven ones, e.g. `telemetry.clocks.ingest_rules`), and so is the dataset's
    retention horizon (`telemetry.horizon`: rows dated before a period already rolled up are refused).
    """
    spec = REGISTRY.get_dataset(dataset)
    rules = (*rules, *horizon_rules(store, dataset))
    if rules:
        spec = dataclasses.replace(spec, rules=spec.rules + rules)
    paths = [Path(f) for f in files]
    if names is not None and len(names) != len(paths):
        raise ValueError("names must give one name per file")
    shown = [str(n) for n in names] if names is not None else [str(p) for p in paths]
    result = IngestResult(dataset, shown)
    rules = TimeRules(assume_tz=assume_tz, naive_is_utc=spec.naive_timestamps_utc)
    con = store.sql
    batch = uuid.uuid4().hex
    steps = 2 * len(paths) + 1  # check each file, read each, write
    started = datetime.now(UTC)
    try:
        # Staging lives in temporary tables outside the transaction (they die with the process); only
        # the writes to the store's own tables form the transaction, which keeps it short and fast.
        sources = []
        for index, path in enumerate(paths):  # every file checked before any is read
            with watching(con, progress, f"checking {path.name}", index, steps):
                sources.append(open_source(con, spec, path, fmt, reasons=reasons))
        columns = _written_columns(spec, sources, bots)
        _prepare(con, spec, columns)
        for index, (path, source) in enumerate(zip(paths, sources, strict=True)):
            with watching(con, progress, f"reading {path.name}", len(paths) + index, steps):
                if source.ignored_columns:
                    result.ignored_columns[shown[index]] = source.ignored_columns
                _stage_file(con, spec, source, rules, pseudonym_key, index, columns, bots)
        with watching(con, progress, f"writing {dataset}", 2 * len(paths), steps):
            con.execute("BEGIN TRANSACTION")
            try:
                _write(con, spec, shown, batch, strict, result, started, columns)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    finally:
        _cleanup(con)
    if progress:
        progress("done", steps, steps)
    return result
