"""FOCUS conformance of a cost export file, rule by rule (`engmetrics cost validate`).

The file (CSV, CSV.gz or Parquet) is read in DuckDB as the FOCUS reader reads it: every value as text,
`NULL` / `null` / empty as null. Each rule is a SQL predicate that is true for a violating row (or, for
the two column rules, a check of the header); a rule whose subject columns are absent is `skipped`, not
passed. A file conforms when no rule has a violation. The FOCUS version is the one given, or the newest
whose added columns appear in the file (1.0 when none do); it decides which columns are mandatory and
which rules apply.

Lines: for CSV, the physical line a record starts on (the header is line 1; a record spanning lines is
counted at its first); for Parquet, the row number (1-based). Malformed CSV records (wrong number of
fields) are reported by rule `csv_records` and not checked further. Costs are compared with a tolerance:
|ListCost - ListUnitPrice x PricingQuantity| <= 1e-9 + tolerance x max(|ListCost|, |product|) (default
tolerance 1e-6, relative): providers round costs to about 10 decimals.

Work: the file is read once, as a view (nothing is loaded into memory): one query counts every rule's
violations and keeps each rule's first `examples` rows by position. Only when something is to be shown with
a CSV line (an example or a malformed record) is the file's line map built, in a second pass over its lines.

Portability: DuckDB only, by design. This checks a file before it is ingested (the store is not touched); it
is file-level work on DuckDB's CSV and Parquet readers, not a calculation over the store, so it has no PySpark
twin (its tests are marked `duckdb_only`).

>>> [r.rule for r in ROW_RULES][:3]
['datetime_format', 'numeric_format', 'not_null:BilledCost']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import InputError
from ..ingest.coerce import quote_ident, quote_literal
from ..ingest.sources import csv_header, csv_text_reader, csv_units, detect_format
from ..store.datasets import REGISTRY

__all__ = ["COLUMN_RULES", "FOCUS_COLUMNS", "MANDATORY", "ROW_RULES", "ConformanceReport", "FocusRule",
           "RuleResult", "validate_focus"]

VERSIONS = ("1.0", "1.1", "1.2")
FOCUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "1.0": (
        "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
        "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
        "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
        "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
        "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
        "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
        "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
        "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    ),
    "1.1": ("CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
            "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails"),
    "1.2": ("BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
            "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice"),
}  # columns each version adds
ALL_COLUMNS = tuple(c for v in VERSIONS for c in FOCUS_COLUMNS[v])
# Feature level "Mandatory" (FOCUS 1.0; 1.1 and 1.2 made no further column mandatory).
MANDATORY = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)
DATETIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
DECIMALS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice",
            "PricingQuantity", "ConsumedQuantity", "CommitmentDiscountQuantity", "PricingCurrencyContractedUnitPrice",
            "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice")
SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
)
ALLOWED = {c.name: c.enum for c in REGISTRY["cost"].columns if c.enum} | {"ServiceCategory": SERVICE_CATEGORIES}
_ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"  # FOCUS Date/Time Format: YYYY-MM-DDTHH:mm:ssZ


def _q(name: str) -> str:
    return quote_ident(name)


def _text(name: str) -> str:
    """The raw text of a column (the typed view keeps it as `<name>__text`)."""
    return _q(name + "__text")


@dataclass(frozen=True)
class FocusRule:
    """A row rule: `violation` is SQL over the typed view, true for a row that breaks the rule; the rule
    applies when every `columns` is present and the version is at least `since`; examples show `shown`."""

    rule: str
    description: str
    reference: str
    violation: str
    columns: tuple[str, ...]
    shown: tuple[str, ...] = ()
    since: str = "1.0"
    fault: Callable[[str], str] | None = None  # if set, examples show only the columns where fault(column)

    def applies(self, present: set[str], version: str) -> bool:
        return set(self.columns) <= present and VERSIONS.index(version) >= VERSIONS.index(self.since)


def _matches(cost: str, price: str) -> str:
    product = f"{_q(price)} * {_q('PricingQuantity')}"
    return (f"{_q(price)} IS NOT NULL AND {_q(cost)} IS NOT NULL AND {_q('PricingQuantity')} IS NOT NULL "
            f"AND {_q('ChargeClass')} IS DISTINCT FROM 'Correction' AND abs({_q(cost)} - {product}) > "
            f"1e-9 + $tolerance * greatest(abs({_q(cost)}), abs({product}))")


def _format(names: tuple[str, ...], bad: Callable[[str], str]) -> str:
    return " OR ".join(f"coalesce({bad(n)}, FALSE)" for n in names)


def _not_numeric(name: str) -> str:
    return f"{_text(name)} IS NOT NULL AND TRY_CAST({_text(name)} AS DOUBLE) IS NULL"


def _not_iso(name: str) -> str:
    return f"{_text(name)} IS NOT NULL AND NOT regexp_full_match({_text(name)}, '{_ISO_UTC}')"


def _allowed(column: str, values: tuple[str, ...], since: str = "1.0") -> FocusRule:
    listed = ", ".join(quote_literal(v) for v in values)
    return FocusRule(f"allowed_values:{column}", f"{column} is one of {', '.join(values)} (exact case) or null",
                     f"{column}: allowed values", f"{_q(column)} IS NOT NULL AND {_q(column)} NOT IN ({listed})",
                     (column,), (column,), since)


def _not_null(column: str) -> FocusRule:
    return FocusRule(f"not_null:{column}", f"{column} is never null", f"{column}: Allows nulls = False",
                     f"{_text(column)} IS NULL", (column,), (column,))


_USAGE = f"{_q('ChargeCategory')} = 'Usage'"
_CD_ID, _CD_STATUS = _q("CommitmentDiscountId"), _q("CommitmentDiscountStatus")
ROW_RULES: tuple[FocusRule, ...] = (
    FocusRule("datetime_format", "date/time values are ISO 8601 in UTC: YYYY-MM-DDTHH:mm:ssZ",
              "Attributes: Date/Time Format", _format(DATETIMES, _not_iso), (), DATETIMES, fault=_not_iso),
    FocusRule("numeric_format", "cost, price and quantity values are plain decimal numbers (no currency "
              "symbol, no thousands separator)", "Attributes: Numeric Format", _format(DECIMALS, _not_numeric),
              (), DECIMALS, fault=_not_numeric),
    *(_not_null(c) for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ChargeCategory",
                             "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")),
    *(_allowed(c, v, "1.1" if c == "CapacityReservationStatus" else "1.0") for c, v in ALLOWED.items()),
    FocusRule("charge_period_order", "ChargePeriodEnd (exclusive) is after ChargePeriodStart",
              "ChargePeriodEnd", f"{_q('ChargePeriodEnd')} <= {_q('ChargePeriodStart')}",
              ("ChargePeriodStart", "ChargePeriodEnd"), ("ChargePeriodStart", "ChargePeriodEnd")),
    FocusRule("billing_period_order", "BillingPeriodEnd (exclusive) is after BillingPeriodStart",
              "BillingPeriodEnd", f"{_q('BillingPeriodEnd')} <= {_q('BillingPeriodStart')}",
              ("BillingPeriodStart", "BillingPeriodEnd"), ("BillingPeriodStart", "BillingPeriodEnd")),
    FocusRule("billing_currency_iso4217", "BillingCurrency is an ISO 4217 code (three capital letters)",
              "BillingCurrency", f"NOT regexp_full_match({_q('BillingCurrency')}, '[A-Z]{{3}}')",
              ("BillingCurrency",), ("BillingCurrency",)),
    FocusRule("list_cost", "ListCost = ListUnitPrice x PricingQuantity when ListUnitPrice is not null, except "
              "ChargeClass = Correction", "ListCost", _matches("ListCost", "ListUnitPrice"),
              ("ListCost", "ListUnitPrice", "PricingQuantity"),
              ("ChargeClass", "ListUnitPrice", "PricingQuantity", "ListCost")),
    FocusRule("contracted_cost", "ContractedCost = ContractedUnitPrice x PricingQuantity when ContractedUnitPrice "
              "is not null, except ChargeClass = Correction", "ContractedCost",
              _matches("ContractedCost", "ContractedUnitPrice"),
              ("ContractedCost", "ContractedUnitPrice", "PricingQuantity"),
              ("ChargeClass", "ContractedUnitPrice", "PricingQuantity", "ContractedCost")),
    FocusRule("consumed_quantity_null", "ConsumedQuantity is null unless ChargeCategory is Usage (and the "
              "charge is not the unused part of a commitment)", "ConsumedQuantity",
              f"{_q('ConsumedQuantity')} IS NOT NULL AND (NOT {_USAGE} OR {_CD_STATUS} IS NOT DISTINCT FROM 'Unused')",
              ("ConsumedQuantity", "ChargeCategory"),
              ("ChargeCategory", "CommitmentDiscountStatus", "ConsumedQuantity")),
    FocusRule("commitment_status_needs_id", "CommitmentDiscountStatus is null when CommitmentDiscountId is null",
              "CommitmentDiscountStatus", f"{_CD_STATUS} IS NOT NULL AND {_CD_ID} IS NULL",
              ("CommitmentDiscountStatus",), ("CommitmentDiscountId", "CommitmentDiscountStatus")),
    FocusRule("commitment_status_on_usage", "Usage rows with a CommitmentDiscountId have a CommitmentDiscountStatus",
              "CommitmentDiscountStatus", f"{_USAGE} AND {_CD_ID} IS NOT NULL AND {_CD_STATUS} IS NULL",
              ("CommitmentDiscountId", "ChargeCategory"),
              ("ChargeCategory", "CommitmentDiscountId", "CommitmentDiscountStatus")),
    FocusRule("commitment_category_with_id", "CommitmentDiscountCategory is null exactly when CommitmentDiscountId "
              "is null", "CommitmentDiscountCategory",
              f"({_q('CommitmentDiscountCategory')} IS NULL) <> ({_CD_ID} IS NULL)",
              ("CommitmentDiscountCategory", "CommitmentDiscountId"),
              ("CommitmentDiscountId", "CommitmentDiscountCategory")),
    FocusRule("commitment_purchase_effective_cost", "a commitment purchase (covering future charges) has "
              "EffectiveCost 0: its cost reaches EffectiveCost through the usage it covers", "EffectiveCost",
              f"{_q('ChargeCategory')} = 'Purchase' AND {_CD_ID} IS NOT NULL AND {_q('EffectiveCost')} <> 0",
              ("ChargeCategory", "CommitmentDiscountId", "EffectiveCost"),
              ("ChargeCategory", "CommitmentDiscountId", "BilledCost", "EffectiveCost")),
    FocusRule("tags_key_value", "Tags is a JSON object of keys and values", "Tags: Key-Value Format",
              f"{_q('Tags')} IS NOT NULL AND NOT coalesce(json_valid({_q('Tags')}) "
              f"AND json_type({_q('Tags')}::JSON) = 'OBJECT', FALSE)", ("Tags",), ("Tags",)),
)
COLUMN_RULES = (
    ("mandatory_columns", "every Mandatory column of the FOCUS version is present", "Column feature levels"),
    ("column_names", "columns are named exactly as the spec names them; other columns start with x_",
     "Attributes: Column Naming and Ordering"),
    ("csv_records", "every CSV record has as many fields as the header", "RFC 4180"),
)


@dataclass
class RuleResult:
    """One rule's outcome: `violations` rows (or columns), up to `examples` of them, `skipped` when the
    rule's columns are absent."""

    rule: str
    description: str
    reference: str
    violations: int = 0
    examples: list[dict[str, object]] = field(default_factory=list)
    skipped: bool = False

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("fail" if self.violations else "pass")


@dataclass
class ConformanceReport:
    """The `--json` document of `engmetrics cost validate`."""

    file: str
    focus_version: str
    rows: int
    rules: list[RuleResult]

    @property
    def conformant(self) -> bool:
        return not any(r.violations for r in self.rules)

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "focus_version": self.focus_version, "rows": self.rows,
                "conformant": self.conformant,
                "rules": [{"rule": r.rule, "description": r.description, "reference": r.reference,
                           "status": r.status, "violations": r.violations, "examples": r.examples}
                          for r in self.rules]}


def detect_version(present: set[str]) -> str:
    """The newest FOCUS version whose added columns appear in `present`; 1.0 when none do.

    >>> detect_version({"BilledCost", "CommitmentDiscountQuantity"})
    '1.1'
    """
    found = [v for v in VERSIONS if present & set(FOCUS_COLUMNS[v])]
    return found[-1] if found else "1.0"


def _typed(name: str, kind: str) -> str:
    """A spec column's typed value from its raw column `name` of DuckDB type `kind`."""
    raw = _q(name)
    if name in DECIMALS:
        return f"TRY_CAST({raw} AS DOUBLE)"
    if name in DATETIMES:
        return raw if kind.startswith("TIMESTAMP") else f"TRY_CAST({raw} AS TIMESTAMPTZ)"
    return f"{raw}::VARCHAR"


def _source(con: duckdb.DuckDBPyConnection, path: Path, fmt: str | None) -> tuple[dict[str, str], str]:
    """Create view `_raw` over the file: `_n`, the record's position among the well-formed records (0-based; for
    Parquet the row), and the file's columns with the FOCUS reader's null spellings read as null. Return the
    file's columns with their DuckDB types, and its format."""
    kind = detect_format(path, fmt)
    null_strings = REGISTRY["cost"].null_strings
    if kind == "csv":
        header = csv_header(path)
        reader = csv_text_reader(path, header, "_rejects", null_strings)  # nulls: the reader's own option
        # row_number() over the scan is a streaming window: it numbers the records in file order.
        con.execute(f"CREATE VIEW _raw AS SELECT row_number() OVER () - 1 AS _n, * FROM {reader}")
        return dict.fromkeys(header, "VARCHAR"), kind
    if kind != "parquet":
        raise InputError("cost validate reads CSV or Parquet files", file=path)
    reader = f"read_parquet({quote_literal(str(path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=path) from None
    types = {name: str(kind_) for name, kind_, *_ in described if name != "file_row_number"}
    spellings = ", ".join(quote_literal(v) for v in null_strings)
    cols = [f"CASE WHEN {_q(n)} IN ({spellings}) THEN NULL ELSE {_q(n)} END AS {_q(n)}"
            if k == "VARCHAR" and n in ALL_COLUMNS else _q(n) for n, k in types.items()]
    con.execute(f"CREATE VIEW _raw AS SELECT file_row_number AS _n, {', '.join(cols)} FROM {reader}")
    return types, kind


def _column_results(header: list[str], present: set[str]) -> list[RuleResult]:
    mandatory = [c for c in MANDATORY if c not in present]
    names = {c.lower(): c for c in ALL_COLUMNS}
    misnamed = [(i, c) for i, c in enumerate(header, 1) if c not in ALL_COLUMNS and not c.startswith("x_")]
    return [RuleResult(*COLUMN_RULES[0], len(mandatory), [{"line": 1, "missing": c} for c in mandatory]),
            RuleResult(*COLUMN_RULES[1], len(misnamed),
                       [{"line": 1, "field": i, "column": c} | ({"spec_name": names[c.lower()]}
                                                                if c.lower() in names else {})
                        for i, c in misnamed])]


def _example(rule: FocusRule) -> str:
    """SQL of one example row of `rule`: a struct of `_n` and the columns shown (only faulty ones with `fault`)."""
    shown = [f"CASE WHEN {rule.fault(c)} THEN {_text(c)} END" if rule.fault else _text(c) for c in rule.shown]
    return "{" + ", ".join(f"{quote_literal(k)}: {v}" for k, v in zip(("_n", *rule.shown), ("_n", *shown),
                                                                      strict=True)) + "}"


def _scan(con, rules: list[FocusRule], sql: list[str], examples: int) -> tuple[int, list[int], list[list[dict]]]:
    """One pass over `_focus`: (rows, violations per rule, each rule's first `examples` violating rows by `_n`)."""
    parts = ["count(*)", *(f"count(*) FILTER (WHERE coalesce({v}, FALSE))" for v in sql)]
    if examples:
        parts += [f"min_by({_example(r)}, _n, {int(examples)}) FILTER (WHERE coalesce({v}, FALSE))"
                  for r, v in zip(rules, sql, strict=True)]
    # fetchall, not fetchone: the scan must end for the CSV reader to keep its rejects table
    [found] = con.execute(f"SELECT {', '.join(parts)} FROM _focus").fetchall()
    counts = list(found[1:len(rules) + 1])
    shown = [sorted(e or [], key=lambda x: x["_n"]) for e in found[len(rules) + 1:]] if examples else [[]] * len(rules)
    return found[0], counts, shown


def _csv_lines(con, path: Path, wanted: list[int]) -> dict[int, int]:
    """Physical line of the well-formed records numbered `wanted` (`_n`), and table `_units` (the reader's units
    and their lines, `csv_units`): a second pass over the file's lines, made only when lines are shown."""
    con.execute(f"CREATE TABLE _units AS {csv_units(path)}")
    return dict(con.execute("""
        SELECT n, line FROM (SELECT row_number() OVER (ORDER BY unit) - 1 AS n, line FROM _units
                             WHERE NOT blank AND unit > 1 AND unit NOT IN (SELECT line FROM _rejects))
        WHERE list_contains(?, n)""", [wanted]).fetchall())


def _csv_records(con, path: Path, wanted: list[int], examples: int) -> tuple[RuleResult, dict[int, int]]:
    """Rule `csv_records` (malformed records, by the line they start on) and the lines of records `wanted`."""
    malformed = con.execute("SELECT count(DISTINCT line) FROM _rejects").fetchone()[0]
    if not malformed and not wanted:
        return RuleResult(*COLUMN_RULES[2]), {}
    lines = _csv_lines(con, path, wanted)
    rejects = con.execute(f"""
        SELECT u.line, any_value(r.error_type::VARCHAR || ': ' || r.error_message) FROM _rejects r
        JOIN _units u ON u.unit = r.line GROUP BY u.line ORDER BY u.line LIMIT {int(examples)}""").fetchall()
    return RuleResult(*COLUMN_RULES[2], malformed, [{"line": ln, "error": e} for ln, e in rejects]), lines


def _row_result(rule: FocusRule, count: int, found: list[dict], lines: dict[int, int] | None) -> RuleResult:
    """`rule`'s result; `lines` maps `_n` to the CSV line (None: Parquet, the row number)."""
    result = RuleResult(rule.rule, rule.description, rule.reference, count)
    for example in found:
        n = example.pop("_n")
        shown = {c: v for c, v in example.items() if v is not None or not rule.fault}
        result.examples.append({"line": n + 1 if lines is None else lines[n]} | shown)
    return result


def validate_focus(path: Path, *, focus_version: str | None = None, tolerance: float = 1e-6,
                   examples: int = 5, fmt: str | None = None) -> ConformanceReport:
    """Check `path` against the FOCUS rules of `focus_version` (detected when None); see the module doc."""
    if focus_version is not None and focus_version not in VERSIONS:
        raise InputError(f"--focus-version must be one of {', '.join(VERSIONS)}, not {focus_version!r}")
    if not path.is_file():
        raise InputError("no such file", file=path)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")  # a naive timestamp compares as UTC (FOCUS fixes UTC)
        types, kind = _source(con, path, fmt)
        present = set(types)
        version = focus_version or detect_version(present)
        cols = [f"{_typed(c, types[c])} AS {_q(c)}, {_q(c)}::VARCHAR AS {_text(c)}" if c in present
                else f"NULL AS {_q(c)}, NULL::VARCHAR AS {_text(c)}" for c in ALL_COLUMNS]
        con.execute(f"CREATE VIEW _focus AS SELECT _n, {', '.join(cols)} FROM _raw")
        rules = [r for r in ROW_RULES if r.applies(present, version)]
        sql = [r.violation.replace("$tolerance", repr(float(tolerance))) for r in rules]
        rows, counts, found = _scan(con, rules, sql, examples)
        results = _column_results(list(types), present)
        lines = None
        if kind == "csv":
            wanted = sorted({e["_n"] for examples_ in found for e in examples_})
            records, lines = _csv_records(con, path, wanted, examples)
            results.append(records)
        else:
            results.append(RuleResult(*COLUMN_RULES[2], skipped=True))
        done = {r.rule: _row_result(r, n, f, lines) for r, n, f in zip(rules, counts, found, strict=True)}
        for rule in ROW_RULES:
            results.append(done.get(rule.rule) or RuleResult(rule.rule, rule.description, rule.reference,
                                                             skipped=True))
        return ConformanceReport(str(path), version, rows, results)
    finally:
        con.close()
