"""AWS Cost and Usage Report 2.0 -> FOCUS, in DuckDB SQL (`engmetrics ingest cost --from aws-cur FILE`).

A CUR 2.0 file (CSV, CSV.gz or Parquet; CUR 2.0 column names such as `line_item_unblended_cost`) is mapped to
a FOCUS Parquet file, which is then ingested by the normal path (validation, quarantine, accounting). Every
CUR row gives one FOCUS row, in file order (so FOCUS row n is CUR data row n), and a recurring commitment
fee (`RIFee`, `SavingsPlanRecurringFee`) with an unused part gives one more, appended after all others.

Costs:
- BilledCost = line_item_unblended_cost (what the invoice charges: SavingsPlanCoveredUsage at on-demand,
  cancelled by its SavingsPlanNegation; DiscountedUsage 0, its reservation billed by RIFee / Fee).
- EffectiveCost (amortised, AWS's own amortisation):
  SavingsPlanCoveredUsage -> savings_plan_savings_plan_effective_cost; DiscountedUsage ->
  reservation_effective_cost; SavingsPlanNegation, SavingsPlanUpfrontFee, SavingsPlanRecurringFee, RIFee
  and a reservation's upfront `Fee` -> 0 (their cost reaches EffectiveCost through the usage they cover,
  so nothing counts twice); everything else -> unblended cost. The unused part of a commitment stays: the
  extra row (ChargeCategory Usage, CommitmentDiscountStatus Unused, BilledCost 0) has EffectiveCost
  savings_plan_total_commitment_to_date - savings_plan_used_commitment, or for a reservation
  reservation_unused_amortized_upfront_fee_for_billing_period + reservation_unused_recurring_fee, rounded
  to 10 decimals (FOCUS models unused commitment exactly so: see the spec's commitment discount scenarios).
- Commitment columns: CommitmentDiscountId is the savings plan's or reservation's ARN, CommitmentDiscountName
  its last segment (`arn:...:savingsplan/sp-1a2b` -> `sp-1a2b`); covered usage and its negation have
  CommitmentDiscountStatus Used and PricingCategory Committed.
- ListCost = pricing_public_on_demand_cost on usage rows (0 on negations and unused rows), else BilledCost;
  ContractedCost the same (CUR has no negotiated rate apart from the on-demand one).

Other columns: SkuId = product_sku; SkuPriceId = pricing_rate_code (`SKU.OfferTermCode.RateCode`, the price
list's key, as AWS's own FOCUS export has it; pricing_rate_id is CUR's internal rate id, not a price list key, and
is not used); RegionId = product_region_code, RegionName = product_location (`EU (Ireland)`); ResourceId =
line_item_resource_id; ResourceType = product_product_family (`Compute Instance`, `Storage`: the kind of resource;
product_instance_type, `m5.large`, is a size within a kind) where ResourceId is set (FOCUS: null without one);
ResourceName = the resource's `Name` tag (AWS's display name), else null: the resource id is not copied, as FOCUS
forbids a ResourceName that repeats a system-generated ResourceId (`i-0aaa1111`). ServiceSubcategory stays null:
CUR's product families do not map one to one onto FOCUS subcategories (S3 and EBS are both `Storage`).

Categories: Usage, DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanNegation -> Usage; Fee, RIFee,
SavingsPlanRecurringFee, SavingsPlanUpfrontFee -> Purchase; Tax -> Tax; Credit and discounts
(BundledDiscount, EdpDiscount, PrivateRateDiscount, SppDiscount, DistributorDiscount, Discount) -> Credit;
Refund and unknown types -> Adjustment (CUR does not say what a refund refunds; FOCUS files a refund under
the refunded charge's category). Tags: resource_tags (a map, or JSON text in CSV) with CUR's `user_` prefix
of user-defined tag keys removed; empty -> null. Columns CUR lacks (ServiceCategory beyond a table of common
services, CapacityReservation*) are null or `Other`. Absent optional CUR columns read as null.

Accounting (`ingest_cur`): the ingest counts FOCUS rows, so `read = inserted + updated + unchanged +
quarantined` holds; `cur_rows` is the CUR rows read and `derived_rows` the unused-commitment rows added
(`read = cur_rows + derived_rows`). A quarantined row names the CUR file and its line there: for CSV the physical
line its record starts on (the header is line 1), for Parquet the row number (1-based); an unused-commitment row
has its fee's line.

Portability: DuckDB only, by design. This is file-level work before ingestion (read an export file, write a
Parquet file for the ingest), a write path that DESIGN.md lets be engine-specific, not a calculation over the
store; its tests are marked `duckdb_only`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import InputError
from ..ingest import IngestResult, ingest_files
from ..ingest.coerce import quote_ident, quote_literal
from ..ingest.sources import LINE_COLUMN, csv_header, csv_units, detect_format
from ..store import Store

__all__ = ["REQUIRED", "CurResult", "convert_cur", "cur_to_focus_sql", "ingest_cur"]

REQUIRED = ("line_item_line_item_type", "line_item_usage_start_date", "line_item_usage_end_date",
            "line_item_unblended_cost", "bill_billing_period_start_date", "bill_billing_period_end_date")
_USAGE = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")
_PURCHASE = ("Fee", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")
_CREDIT = ("Credit", "BundledDiscount", "EdpDiscount", "PrivateRateDiscount", "SppDiscount", "DistributorDiscount",
           "Discount")
_RECURRING = ("RIFee", "SavingsPlanRecurringFee")
_COMMITTED = ("DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")  # usage a commitment covers
# FOCUS ServiceCategory of common AWS service codes (product_servicecode); others are "Other".
SERVICE_CATEGORIES = {
    "AmazonEC2": "Compute", "AWSLambda": "Compute", "AmazonECS": "Compute", "AmazonEKS": "Compute",
    "ComputeSavingsPlans": "Compute", "AmazonS3": "Storage", "AmazonEFS": "Storage", "AmazonGlacier": "Storage",
    "AmazonRDS": "Databases", "AmazonDynamoDB": "Databases", "AmazonElastiCache": "Databases",
    "AWSDataTransfer": "Networking", "AmazonVPC": "Networking", "AmazonCloudFront": "Networking",
    "AmazonRoute53": "Networking", "AWSELB": "Networking", "AmazonCloudWatch": "Management and Governance",
    "AWSConfig": "Management and Governance", "AWSCloudTrail": "Management and Governance",
    "AmazonSQS": "Integration", "AmazonSNS": "Integration", "awskms": "Security", "AWSSecretsManager": "Security",
    "AmazonGuardDuty": "Security", "AmazonSageMaker": "AI and Machine Learning", "AmazonAthena": "Analytics",
    "AmazonRedshift": "Analytics",
}


@dataclass
class CurResult(IngestResult):
    """The ingest accounting of CUR files, in FOCUS rows, plus `cur_rows` (CUR rows read) and `derived_rows`
    (unused-commitment rows the mapping added): `read = cur_rows + derived_rows`."""

    cur_rows: int = 0
    derived_rows: int = 0


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(quote_literal(v) for v in values) + ")"


class _Cur:
    """SQL for the CUR file's columns: present ones by name, absent ones as NULL."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types

    def col(self, name: str) -> str:
        return quote_ident(name) if name in self.types else "NULL"

    def text(self, name: str) -> str:
        return f"nullif({self.col(name)}::VARCHAR, '')"

    def num(self, name: str) -> str:
        return f"TRY_CAST({self.col(name)} AS DOUBLE)"

    def time(self, name: str) -> str:
        """A timestamp as FOCUS text, YYYY-MM-DDTHH:mm:ssZ (UTC); text that is no timestamp is kept as it is,
        for the ingest to quarantine with the value."""
        parsed = f"strftime(TRY_CAST({self.col(name)} AS TIMESTAMPTZ), '%Y-%m-%dT%H:%M:%SZ')"
        return f"coalesce({parsed}, {self.text(name)})"

    def json(self, name: str) -> str:
        """A map or JSON text column as JSON text (NULL when empty)."""
        if name not in self.types:
            return "NULL::VARCHAR"
        value = self.col(name) if self.types[name] == "VARCHAR" else f"to_json({self.col(name)})::VARCHAR"
        return f"CASE WHEN json_valid({value}) THEN {value} END"


def _tags(cur: _Cur) -> str:
    """resource_tags as a FOCUS Tags JSON object: CUR's `user_` prefix removed, empty -> NULL."""
    j = cur.json("resource_tags")
    entries = (f"list_transform(json_keys({j}), k -> {{'key': regexp_replace(k, '^user_', ''), "
               f"'value': json_extract_string({j}, '$.\"' || k || '\"')}})")
    return (f"CASE WHEN json_type({j}) = 'OBJECT' AND len(json_keys({j})) > 0 "
            f"THEN to_json(map_from_entries({entries}))::VARCHAR END")


def _service_category(cur: _Cur) -> str:
    cases = " ".join(f"WHEN {quote_literal(k)} THEN {quote_literal(v)}" for k, v in SERVICE_CATEGORIES.items())
    return f"CASE coalesce({cur.text('product_servicecode')}, {cur.text('line_item_product_code')}) {cases} " \
           f"ELSE 'Other' END"


def cur_to_focus_sql(relation: str, types: dict[str, str], *, line_column: str | None = None) -> str:
    """SQL mapping `relation` (CUR 2.0 rows with a `_n` column giving their order; `types`: DuckDB type of
    each CUR column) to FOCUS columns, ordered: see the module doc. With `line_column`, the relation's `_line`
    (the CUR row's line) is kept under that name."""
    cur = _Cur(types)
    t = "_type"
    unblended = cur.num("line_item_unblended_cost")
    sp, ri = cur.text("savings_plan_savings_plan_a_r_n"), cur.text("reservation_reservation_a_r_n")
    resource = cur.text("line_item_resource_id")
    unused_ri = (f"coalesce({cur.num('reservation_unused_amortized_upfront_fee_for_billing_period')}, 0) + "
                 f"coalesce({cur.num('reservation_unused_recurring_fee')}, 0)")
    unused = (f"round(CASE WHEN {t} = 'SavingsPlanRecurringFee' THEN "
              f"{cur.num('savings_plan_total_commitment_to_date')} - {cur.num('savings_plan_used_commitment')} "
              f"WHEN {t} = 'RIFee' THEN {unused_ri} END, 10)")  # CUR costs have 10 decimals
    product_name = f"json_extract_string({cur.json('product')}, '$.product_name')"
    usage_rows = f"{t} IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')"
    shared = {
        "BillingPeriodStart": cur.time("bill_billing_period_start_date"),
        "BillingPeriodEnd": cur.time("bill_billing_period_end_date"),
        "ChargePeriodStart": cur.time("line_item_usage_start_date"),
        "ChargePeriodEnd": cur.time("line_item_usage_end_date"),
        "BillingAccountId": cur.text("bill_payer_account_id"),
        "BillingAccountName": cur.text("bill_payer_account_name"),
        "SubAccountId": cur.text("line_item_usage_account_id"),
        "SubAccountName": cur.text("line_item_usage_account_name"),
        "BillingCurrency": cur.text("line_item_currency_code"),
        "InvoiceId": cur.text("bill_invoice_id"),
        "InvoiceIssuerName": cur.text("bill_invoicing_entity"),
        "ProviderName": "'AWS'",
        "PublisherName": cur.text("line_item_legal_entity"),
        "ServiceName": f"coalesce({product_name}, {cur.text('product_servicecode')}, "
                       f"{cur.text('line_item_product_code')})",
        "ServiceCategory": _service_category(cur),
        "RegionId": cur.text("product_region_code"),
        "RegionName": cur.text("product_location"),
        "AvailabilityZone": cur.text("line_item_availability_zone"),
        "ResourceId": resource,
        "ResourceName": f"nullif(json_extract_string({cur.json('resource_tags')}, '$.user_Name'), '')",
        "ResourceType": f"CASE WHEN {resource} IS NOT NULL THEN {cur.text('product_product_family')} END",
        "SkuId": cur.text("product_sku"),
        "SkuPriceId": cur.text("pricing_rate_code"),
        "ChargeDescription": cur.text("line_item_line_item_description"),
        "ChargeClass": "NULL::VARCHAR",  # CUR does not mark corrections of earlier billing periods
        "CommitmentDiscountId": f"coalesce({sp}, {ri})",
        "CommitmentDiscountName": f"nullif(regexp_extract(coalesce({sp}, {ri}), '[^/:]+$'), '')",
        "CommitmentDiscountType": f"CASE WHEN {sp} IS NOT NULL THEN 'Savings Plan' "
                                  f"WHEN {ri} IS NOT NULL THEN 'Reserved Instance' END",
        "CommitmentDiscountCategory": f"CASE WHEN {sp} IS NOT NULL THEN 'Spend' WHEN {ri} IS NOT NULL THEN 'Usage' END",
        "Tags": _tags(cur),
    }
    charged = {
        "ChargeCategory": f"CASE WHEN {t} IN {_in(_USAGE)} THEN 'Usage' WHEN {t} IN {_in(_PURCHASE)} THEN 'Purchase' "
                          f"WHEN {t} = 'Tax' THEN 'Tax' WHEN {t} IN {_in(_CREDIT)} THEN 'Credit' ELSE 'Adjustment' END",
        "ChargeFrequency": f"CASE WHEN {t} IN {_in(_USAGE)} THEN 'Usage-Based' WHEN {t} IN {_in(_RECURRING)} "
                           f"THEN 'Recurring' ELSE 'One-Time' END",
        "PricingCategory": f"CASE WHEN {t} IN {_in(_COMMITTED)} THEN 'Committed' "
                           f"WHEN {t} = 'Usage' AND {cur.text('line_item_usage_type')} LIKE '%SpotUsage%' "
                           f"THEN 'Dynamic' WHEN {t} IN {_in(_USAGE + _PURCHASE)} THEN 'Standard' END",
        "CommitmentDiscountStatus": f"CASE WHEN {t} IN {_in(_COMMITTED)} THEN 'Used' END",
        "BilledCost": unblended,
        "EffectiveCost": f"CASE WHEN {t} = 'SavingsPlanCoveredUsage' THEN "
                         f"{cur.num('savings_plan_savings_plan_effective_cost')} WHEN {t} = 'DiscountedUsage' THEN "
                         f"{cur.num('reservation_effective_cost')} WHEN {t} IN ('SavingsPlanNegation', "
                         f"'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee', 'RIFee') OR ({t} = 'Fee' AND "
                         f"{ri} IS NOT NULL) THEN 0 ELSE {unblended} END",
        "ListCost": f"CASE WHEN {usage_rows} THEN coalesce({cur.num('pricing_public_on_demand_cost')}, {unblended}) "
                    f"WHEN {t} = 'SavingsPlanNegation' THEN 0 ELSE {unblended} END",
        "ListUnitPrice": f"CASE WHEN {usage_rows} THEN {cur.num('pricing_public_on_demand_rate')} END",
        "PricingQuantity": f"CASE WHEN {t} IN {_in(_USAGE + _PURCHASE)} THEN {cur.num('line_item_usage_amount')} END",
        "PricingUnit": cur.text("pricing_unit"),
        "ConsumedQuantity": f"CASE WHEN {usage_rows} THEN {cur.num('line_item_usage_amount')} END",
        "ConsumedUnit": f"CASE WHEN {usage_rows} THEN {cur.text('pricing_unit')} END",
    }
    charged["ContractedCost"] = charged["ListCost"]
    charged["ContractedUnitPrice"] = charged["ListUnitPrice"]
    unused_row = {
        "ChargeCategory": "'Usage'", "ChargeFrequency": "'Usage-Based'", "PricingCategory": "'Committed'",
        "CommitmentDiscountStatus": "'Unused'", "BilledCost": "0.0", "EffectiveCost": "_unused", "ListCost": "0.0",
        "ListUnitPrice": "NULL::DOUBLE", "PricingQuantity": "NULL::DOUBLE", "PricingUnit": "NULL",
        "ConsumedQuantity": "NULL::DOUBLE", "ConsumedUnit": "NULL", "ContractedCost": "0.0",
        "ContractedUnitPrice": "NULL::DOUBLE",
    }
    extensions = (f"json_object('x_CurLineItemType', {t}, 'x_CurLineItemId', {cur.text('identity_line_item_id')}, "
                  f"'x_UsageType', {cur.text('line_item_usage_type')}, 'x_Operation', "
                  f"{cur.text('line_item_operation')}")

    line = f", _line AS {quote_ident(line_column)}" if line_column else ""

    def select(columns: dict[str, str], part: int) -> str:
        body = ", ".join(f"{v} AS {quote_ident(k)}" for k, v in {**shared, **columns}.items())
        ext = extensions + (", 'x_CommitmentPart', 'unused')" if part else ")")
        return f"SELECT _n, {part} AS _part, {body}, {ext}::VARCHAR AS x_extensions{line} FROM cur"

    cur_rows = f"SELECT *, {cur.text('line_item_line_item_type')} AS _type, {unused} AS _unused FROM {relation}"
    return (f"WITH cur AS ({cur_rows}) SELECT * EXCLUDE (_n, _part) FROM ({select(charged, 0)} UNION ALL "
            f"{select(unused_row, 1)} WHERE _unused > 0) ORDER BY _part, _n")


def _stage(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[dict[str, str], str]:
    """Load the CUR file into table `_cur` (its rowid is the row order); return its column types and format."""
    kind = detect_format(path, None)
    if kind == "csv":
        header = csv_header(path)
        columns = "{" + ", ".join(f"{quote_literal(h)}: 'VARCHAR'" for h in header) + "}"
        reader = (f"read_csv({quote_literal(str(path))}, header = true, auto_detect = false, columns = {columns}, "
                  f"quote = '\"', escape = '\"')")
    elif kind == "parquet":
        reader = f"read_parquet({quote_literal(str(path))})"
    else:
        raise InputError("an AWS CUR 2.0 export is CSV, CSV.gz or Parquet", file=path)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cur AS SELECT * FROM {reader}")
    except duckdb.Error as exc:
        said = str(exc).split("Possible fixes")[0].strip().replace("\n", "; ")  # DuckDB's line and counts
        raise InputError(f"cannot read the CUR file: {said}", file=path) from None
    types = {name: str(kind_) for name, kind_, *_ in con.execute("DESCRIBE _cur").fetchall()}
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise InputError(f"lacks CUR 2.0 column(s) {', '.join(missing)}; is this a CUR 2.0 export "
                         "(column names like line_item_unblended_cost)?", file=path, line=1)
    return types, kind


def _with_lines(con: duckdb.DuckDBPyConnection, path: Path, kind: str) -> str:
    """`_cur` with `_n` (row order) and `_line`: for CSV the physical line each record starts on (the reader
    skips blank lines and reads a quoted field across lines: `csv_units`), for Parquet the row number."""
    if kind != "csv":
        return "(SELECT rowid AS _n, rowid + 1 AS _line, * FROM _cur)"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cur_lines AS SELECT row_number() OVER (ORDER BY unit) - 1 AS n, line
                    FROM ({csv_units(path)}) WHERE NOT blank AND unit > 1""")
    return "(SELECT c.rowid AS _n, l.line AS _line, c.* FROM _cur c LEFT JOIN _cur_lines l ON l.n = c.rowid)"


def convert_cur(con: duckdb.DuckDBPyConnection, path: Path, target: Path, *, lines: bool = False) -> tuple[int, int]:
    """Write the FOCUS form of CUR file `path` to Parquet file `target`; return (CUR rows read, FOCUS rows
    written). With `lines`, each FOCUS row also carries its CUR line in column `LINE_COLUMN` (for the ingest)."""
    con.execute("SET TimeZone = 'UTC'")  # CUR timestamps are UTC, with or without the Z
    types, kind = _stage(con, path)
    relation = _with_lines(con, path, kind) if lines else "(SELECT rowid AS _n, * FROM _cur)"
    sql = cur_to_focus_sql(relation, types, line_column=LINE_COLUMN if lines else None)
    con.execute(f"COPY ({sql}) TO {quote_literal(str(target))} (FORMAT parquet)")
    read = con.execute("SELECT count(*) FROM _cur").fetchone()[0]
    return read, con.execute(f"SELECT count(*) FROM read_parquet({quote_literal(str(target))})").fetchone()[0]


def ingest_cur(store: Store, files: Sequence[Path], *, strict: bool = False,
               pseudonym_key: bytes | None = None) -> CurResult:
    """Map each CUR 2.0 file to FOCUS and ingest them as one batch into `cost`; the accounting counts FOCUS
    rows (a CUR row each, plus one per recurring fee with an unused part), names the CUR files and their lines
    (module doc)."""
    if not files:
        raise InputError("--from aws-cur: give the CUR 2.0 export file(s)")
    with tempfile.TemporaryDirectory(prefix="engmetrics-cur-") as tmp:
        converted, cur_rows, focus_rows = [], 0, 0
        con = duckdb.connect()
        try:
            for i, path in enumerate(files):
                if not Path(path).is_file():
                    raise InputError("no such file", file=path)
                target = Path(tmp) / f"focus-{i}.parquet"
                read, written = convert_cur(con, Path(path), target, lines=True)
                cur_rows, focus_rows = cur_rows + read, focus_rows + written
                converted.append(target)
        finally:
            con.close()
        result = ingest_files(store, "cost", converted, fmt="parquet", strict=strict, pseudonym_key=pseudonym_key,
                              names=[str(f) for f in files])
    return CurResult(**vars(result), cur_rows=cur_rows, derived_rows=focus_rows - cur_rows)
