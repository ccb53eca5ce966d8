"""SQL (DuckDB) that turns raw input values into typed columns and says why a value is refused.

Each column yields a typed expression and a list of (condition, message) checks over the raw value
`r` and the typed value `t`. Everything runs inside the engine, vectorised; nothing loops over rows.

>>> spec = column_sql(Column("n", "int", min=0), '"n"', "VARCHAR", TimeRules())
>>> spec.typed
'CASE WHEN TRY_CAST("n" AS DOUBLE) = TRY_CAST("n" AS BIGINT) THEN TRY_CAST("n" AS BIGINT) END'
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError
from ..store.registry import Column

__all__ = ["FORM", "TYPED", "ColumnSql", "TimeRules", "column_sql", "quote_ident", "quote_literal"]

_OFFSET = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?|\s?UTC)$"
_NO_SECONDS = r"^(.*[T ]\d{2}:\d{2})(\s*(Z|[+-][0-9:]+| ?UTC))$"  # HH:MM then an offset: DuckDB needs :SS
_EPOCH_S = r"-?\d{9,10}(\.\d+)?"
_EPOCH_MS = r"-?\d{12,13}"
_TEXT_TYPES = ("VARCHAR", "JSON")
TYPED = "__typed__"  # placeholder in checks for the column's typed value
FORM = "__form__"  # placeholder for the column's helper value


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class TimeRules:
    """How to read timestamps without an offset: refuse, assume UTC (format's spec), or a zone."""

    assume_tz: str | None = None
    naive_is_utc: bool = False

    def __post_init__(self) -> None:
        if self.assume_tz:
            try:
                ZoneInfo(self.assume_tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise InputError(f"--assume-tz: unknown time zone {self.assume_tz!r}") from None


@dataclass(frozen=True)
class ColumnSql:
    """Typed expression and the refusal checks of one column."""

    name: str
    typed: str
    helper: str | None  # SQL over the raw value, computed once before `typed` and the checks (as FORM)
    checks: tuple[tuple[str, str], ...]  # (condition that refuses the row, message SQL); TYPED = typed value


def _shown(raw: str) -> str:
    return f"left({raw}::VARCHAR, 80)"


def _naive_to_utc(local: str, rules: TimeRules) -> tuple[str, list[tuple[str, str]]]:
    """A naive TIMESTAMP expression to TIMESTAMPTZ, with the refusals that apply to naive values."""
    if rules.naive_is_utc:
        return f"timezone('UTC', {local})", []
    if not rules.assume_tz:
        return "NULL::TIMESTAMPTZ", [("TRUE", "'has no UTC offset; give one or pass --assume-tz'")]
    tz = quote_literal(rules.assume_tz)
    utc = f"timezone({tz}, {local})"
    twin = " OR ".join(f"timezone({tz}, {utc} {sign} INTERVAL {step}) = {local}"
                       for sign in "+-" for step in ("1 HOUR", "30 MINUTE"))
    return utc, [
        (f"timezone({tz}, {utc}) <> {local}", f"'does not exist in {rules.assume_tz} (DST gap)'"),
        (twin, f"'is ambiguous in {rules.assume_tz} (DST overlap)'"),
    ]


def _timestamp(r: str, form: str, source: str, rules: TimeRules) -> tuple[str, str | None, list[tuple[str, str]]]:
    """(typed, form helper, refusals) for a timestamp column.

    Text values are classified once into a helper column `form`: o = has an offset, s / m = epoch
    seconds / milliseconds, n = naive local time; only naive values need `--assume-tz`; x = neither a
    number nor text starting with an ISO-8601 date YYYY-MM-DD (DuckDB would read `5/1/25` as 25 January
    of the year 5): refused.
    """
    if source.startswith("TIMESTAMP WITH TIME ZONE") or source == "TIMESTAMPTZ":
        return r, None, []
    if source.startswith("TIMESTAMP") or source == "DATE":
        typed, naive = _naive_to_utc(f"{r}::TIMESTAMP", rules)
        return typed, None, [(f"{r} IS NOT NULL AND ({c})", m) for c, m in naive]
    if source not in _TEXT_TYPES:  # numbers: epoch seconds or milliseconds, told apart as for text
        v = f"abs({r}::DOUBLE)"
        return (f"CASE WHEN {v} >= 1e8 AND {v} < 1e10 THEN to_timestamp({r}::DOUBLE) "
                f"WHEN {v} >= 1e11 AND {v} < 1e13 THEN to_timestamp({r}::DOUBLE / 1000) END"), None, []
    # An ISO date (YYYY-MM-DD...) has its first '-' at position 5; epoch numbers never do.
    helper = (f"CASE WHEN {r} IS NULL THEN NULL WHEN substr({r}, 5, 1) <> '-' THEN CASE "
              f"WHEN regexp_full_match({r}, '{_EPOCH_S}') THEN 's' WHEN regexp_full_match({r}, '{_EPOCH_MS}') "
              f"THEN 'm' ELSE 'x' END WHEN suffix({r}, 'Z') OR regexp_matches({r}, '{_OFFSET}') THEN 'o' ELSE 'n' END")
    local = f"TRY_CAST({r} AS TIMESTAMP)"
    naive, refusals = _naive_to_utc(local, rules)
    with_offset = (f"coalesce(TRY_CAST({r} AS TIMESTAMPTZ), TRY_CAST(regexp_replace(upper({r}), "
                   f"'{_NO_SECONDS}', '\\1:00\\2') AS TIMESTAMPTZ))")
    typed = (f"CASE {form} WHEN 'o' THEN {with_offset} WHEN 's' THEN to_timestamp({r}::DOUBLE) "
             f"WHEN 'm' THEN to_timestamp({r}::DOUBLE / 1000) WHEN 'n' THEN {naive} END")
    checks = [(f"{form} = 'n' AND {local} IS NOT NULL AND ({cond})", msg) for cond, msg in refusals]
    return typed, helper, checks


def _list(r: str, source: str) -> str:
    if source not in _TEXT_TYPES:
        return f"TRY_CAST({r} AS VARCHAR[])"
    as_json = f"CASE WHEN json_valid({r}) THEN TRY_CAST(json({r}) AS VARCHAR[]) END"
    split = f"list_filter(list_transform(string_split({r}, ';'), x -> trim(x)), x -> x <> '')"
    return f"CASE WHEN starts_with(ltrim({r}), '[') THEN {as_json} ELSE {split} END"


def _enum(r: str, values: tuple[str, ...]) -> str:
    cases = " ".join(f"WHEN {quote_literal(v.lower())} THEN {quote_literal(v)}" for v in values)
    return f"CASE lower(trim({r}::VARCHAR)) {cases} END"


_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false", "date": "a date (YYYY-MM-DD)",
             "time": "a time (HH:MM[:SS])", "json": "valid JSON", "string[]": "a JSON array or a ;-separated list",
             "timestamp": "an ISO-8601 timestamp or epoch seconds/milliseconds"}


def column_sql(column: Column, raw: str, source_type: str, rules: TimeRules) -> ColumnSql:
    """Typed expression and checks for `column` read from SQL expression `raw` of type `source_type`.

    `raw` must be a plain column reference; `source_type` is its DuckDB type (VARCHAR for text formats).
    """
    r = raw
    extra: list[tuple[str, str]] = []
    helper = None
    kind = column.type
    if column.enum:
        typed = _enum(r, column.enum)
    elif kind == "timestamp":
        typed, helper, extra = _timestamp(r, FORM, source_type, rules)
    elif kind == "string[]":
        typed = _list(r, source_type)
    elif kind == "json":
        typed = f"CASE WHEN json_valid({r}::VARCHAR) THEN {r}::VARCHAR END"
    elif kind == "float":
        typed = f"CASE WHEN isfinite(TRY_CAST({r} AS DOUBLE)) THEN TRY_CAST({r} AS DOUBLE) END"
    elif kind == "int":
        # TRY_CAST rounds 1.5 to 2: accept only values that are whole numbers
        typed = f"CASE WHEN TRY_CAST({r} AS DOUBLE) = TRY_CAST({r} AS BIGINT) THEN TRY_CAST({r} AS BIGINT) END"
    else:
        typed = f"TRY_CAST({r} AS {column.sql_type})"
    name = column.name
    checks: list[tuple[str, str]] = []
    if column.required:
        checks.append((f"{r} IS NULL", f"'{name}: required value is missing'"))
    if column.enum:
        allowed = ", ".join(column.enum)
        expected = f"'one of {allowed}'"
    else:
        expected = quote_literal(_EXPECTED.get(kind, kind))
    checks.extend((c, f"'{name}: ' || {_shown(r)} || ' ' || {m}") for c, m in extra)
    if not (kind == "string" and not column.enum):  # any value reads as a string: nothing to refuse
        refused = " OR ".join(c for c, _ in extra) or "FALSE"
        checks.append((f"{r} IS NOT NULL AND {TYPED} IS NULL AND NOT ({refused})",
                       f"'{name}: expected ' || {expected} || ', got ' || {quote_literal(chr(34))} || {_shown(r)}"
                       f" || {quote_literal(chr(34))}"))
    if column.min is not None:
        checks.append((f"{TYPED} < {column.min}", f"'{name}: ' || {TYPED}::VARCHAR || ' is below {column.min:g}'"))
    if column.max is not None:
        checks.append((f"{TYPED} > {column.max}", f"'{name}: ' || {TYPED}::VARCHAR || ' is above {column.max:g}'"))
    return ColumnSql(name, typed, helper, tuple(checks))
