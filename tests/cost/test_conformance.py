"""`engmetrics cost validate`: FOCUS conformance rule by rule, with counts and example lines.

The checks are DuckDB-only by design (a file checked before ingest, not a calculation over the store: see the
module doc of engmetrics.cost.conformance), hence the `duckdb_only` marker and no PySpark twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engmetrics.cost import conformance
from engmetrics.cost.conformance import MANDATORY, ROW_RULES, validate_focus

pytestmark = pytest.mark.duckdb_only  # file-level checks in DuckDB, by design (module doc)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
# Every mandatory column plus the commitment, consumption and price columns the rules look at.
COLUMNS = (*MANDATORY, "ListUnitPrice", "ContractedUnitPrice", "ConsumedQuantity", "CommitmentDiscountId",
           "CommitmentDiscountStatus", "CommitmentDiscountCategory", "Tags")
GOOD = {
    "BilledCost": "2.5", "BillingAccountId": "acct", "BillingAccountName": "Acme", "BillingCurrency": "USD",
    "BillingPeriodEnd": "2026-02-01T00:00:00Z", "BillingPeriodStart": "2026-01-01T00:00:00Z",
    "ChargeCategory": "Usage", "ChargeClass": "", "ChargeDescription": "vm hour",
    "ChargePeriodEnd": "2026-01-05T11:00:00Z", "ChargePeriodStart": "2026-01-05T10:00:00Z",
    "ContractedCost": "2.5", "EffectiveCost": "2.5", "InvoiceIssuerName": "Cloud", "ListCost": "3",
    "PricingQuantity": "1", "PricingUnit": "Hours", "ProviderName": "Cloud", "PublisherName": "Cloud",
    "ServiceCategory": "Compute", "ServiceName": "VMs", "ListUnitPrice": "3", "ContractedUnitPrice": "2.5",
    "ConsumedQuantity": "1", "CommitmentDiscountId": "", "CommitmentDiscountStatus": "",
    "CommitmentDiscountCategory": "", "Tags": '"{""team"": ""a""}"',
}


def focus_csv(tmp_path: Path, *changes: dict[str, str], name: str = "f.csv") -> Path:
    """A FOCUS CSV: one line per `changes` (each a dict of columns differing from GOOD)."""
    lines = [",".join(COLUMNS)] + [",".join({**GOOD, **c}[k] for k in COLUMNS) for c in changes]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def by_rule(report) -> dict[str, tuple[int, list[int]]]:
    return {r.rule: (r.violations, [e["line"] for e in r.examples]) for r in report.rules}


def test_a_conformant_file(tmp_path):
    report = validate_focus(focus_csv(tmp_path, {}, {"ChargeCategory": "Tax", "ConsumedQuantity": ""}))
    assert report.conformant and report.rows == 2 and report.focus_version == "1.0"
    assert {r.rule for r in report.rules if r.status == "skipped"} == {  # their columns are absent
        "allowed_values:CapacityReservationStatus", "allowed_values:ChargeFrequency",
        "allowed_values:PricingCategory"}


@pytest.mark.parametrize(("rule", "change"), [
    ("datetime_format", {"ChargePeriodStart": "2026-01-05 10:00:00"}),  # no T, no Z
    ("numeric_format", {"BilledCost": '"$2,500.00"'}),
    ("not_null:EffectiveCost", {"EffectiveCost": ""}),
    ("allowed_values:ChargeCategory", {"ChargeCategory": "usage", "ConsumedQuantity": ""}),  # case-sensitive
    ("allowed_values:ServiceCategory", {"ServiceCategory": "Database"}),  # the spec says Databases
    ("charge_period_order", {"ChargePeriodEnd": "2026-01-05T10:00:00Z"}),
    ("billing_currency_iso4217", {"BillingCurrency": "usd"}),
    ("list_cost", {"ListCost": "3.01"}),  # 3 x 1 = 3: off by 0.01, far beyond 1e-9 + 1e-6 x 3.01
    ("contracted_cost", {"PricingQuantity": "2", "ListCost": "6"}),  # 2.5 x 2 = 5, not ContractedCost 2.5
    ("consumed_quantity_null", {"ChargeCategory": "Credit"}),  # ConsumedQuantity 1 on a credit
    ("commitment_status_needs_id", {"CommitmentDiscountStatus": "Used"}),
    ("commitment_status_on_usage", {"CommitmentDiscountId": "ri-1", "CommitmentDiscountCategory": "Usage"}),
    ("commitment_category_with_id", {"CommitmentDiscountId": "ri-1", "CommitmentDiscountStatus": "Used"}),
    ("commitment_purchase_effective_cost", {"ChargeCategory": "Purchase", "ConsumedQuantity": "",
                                            "CommitmentDiscountId": "ri-1", "CommitmentDiscountCategory": "Usage"}),
    ("tags_key_value", {"Tags": '"[""team""]"'}),
])
def test_each_rule_finds_its_violation_on_the_right_line(tmp_path, rule, change):
    report = validate_focus(focus_csv(tmp_path, {}, change, {}))  # lines 2 and 4 are good, line 3 is not
    failing = {r: v for r, v in by_rule(report).items() if v[0]}
    assert failing == {rule: (1, [3])}
    assert not report.conformant


def test_corrections_and_rounding_are_within_the_cost_rules(tmp_path):
    report = validate_focus(focus_csv(
        tmp_path,
        {"ChargeClass": "Correction", "ListCost": "-3"},  # corrections may fix costs on their own
        {"ListUnitPrice": "0.004", "PricingQuantity": "0.00002007", "ListCost": "0.00000008028",
         "ContractedUnitPrice": "0.004", "ContractedCost": "0.00000008028"},  # 0.004 x 0.00002007 = 8.028e-8
        {"ListUnitPrice": "0.004", "PricingQuantity": "0.00002007", "ListCost": "0.0000000803",
         "ContractedUnitPrice": "0.004", "ContractedCost": "0.0000000803"},  # rounded: 2e-12 off < 1e-9
    ))
    assert report.conformant


def test_column_rules_name_what_is_missing_and_misnamed(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("BilledCost,EffectiveCost,ChargeCategory,SkuPriceid,Id,x_Team\n1,1,Usage,p,7,a\n")
    report = validate_focus(path)
    results = {r.rule: r for r in report.rules}
    assert results["mandatory_columns"].violations == len(MANDATORY) - 3  # BilledCost, EffectiveCost, category
    assert {"line": 1, "missing": "ListCost"} in results["mandatory_columns"].examples
    assert results["column_names"].examples == [{"line": 1, "field": 4, "column": "SkuPriceid",
                                                  "spec_name": "SkuPriceId"},
                                                 {"line": 1, "field": 5, "column": "Id"}]
    assert results["charge_period_order"].status == "skipped"  # its columns are absent: not a pass


def test_malformed_and_multi_line_records_keep_their_lines(tmp_path):
    path = focus_csv(tmp_path, {}, {"ChargeDescription": '"two\nlines"', "ChargeCategory": "usage"}, {})
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text) + "1,2,3\n" + text[1])  # line 6: three fields; line 7 a good record again
    results = {r.rule: r for r in validate_focus(path).rules}
    assert [e["line"] for e in results["csv_records"].examples] == [6]
    assert [e["line"] for e in results["allowed_values:ChargeCategory"].examples] == [3]  # the record's start
    assert validate_focus(path).rows == 4  # lines 2, 3-4, 5, 7


def test_version_detection_and_the_1_1_rules(tmp_path):
    path = focus_csv(tmp_path, {})
    text = path.read_text().splitlines()
    path.write_text(f"{text[0]},CapacityReservationStatus\n{text[1]},used\n")
    assert validate_focus(path).focus_version == "1.1"
    assert by_rule(validate_focus(path))["allowed_values:CapacityReservationStatus"] == (1, [2])
    skipped = {r.rule: r.status for r in validate_focus(path, focus_version="1.0").rules}
    assert skipped["allowed_values:CapacityReservationStatus"] == "skipped"


def test_parquet_rows_are_numbered(tmp_path):
    import duckdb

    csv = focus_csv(tmp_path, {}, {"ChargeCategory": "Refund"})
    parquet = tmp_path / "f.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}', all_varchar = true)) TO '{parquet}'")
    assert by_rule(validate_focus(parquet))["allowed_values:ChargeCategory"] == (1, [2])


def test_parquet_null_text_is_null(tmp_path):
    """A Parquet text column holding "NULL" or "" is null, as the FOCUS reader reads it: rows 2 and 3 lack
    a BilledCost; row 4's ChargeClass "null" is no correction (nor an unknown value)."""
    import duckdb

    csv = focus_csv(tmp_path, {}, {"BilledCost": "NULL"}, {"BilledCost": '""'}, {"ChargeClass": "null"})
    parquet = tmp_path / "f.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}', all_varchar = true, nullstr = '<none>')) TO '{parquet}'")
    assert duckdb.sql(f"SELECT list(BilledCost) FROM '{parquet}'").fetchone()[0] == ["2.5", "NULL", "", "2.5"]
    failing = {r: v for r, v in by_rule(validate_focus(parquet)).items() if v[0]}
    assert failing == {"not_null:BilledCost": (2, [2, 3])}  # Parquet lines are row numbers


def test_the_line_map_is_built_only_to_show_lines(tmp_path, monkeypatch):
    """A CSV without violations is read once; examples need the physical lines (a second pass) and are capped."""
    def unexpected(*args):
        raise AssertionError("the line map was built")

    with monkeypatch.context() as m:
        m.setattr(conformance, "_csv_lines", unexpected)
        assert validate_focus(focus_csv(tmp_path, {}, {})).conformant
        report = validate_focus(focus_csv(tmp_path, {"BilledCost": ""}, {"BilledCost": ""}), examples=0)
        assert by_rule(report)["not_null:BilledCost"] == (2, [])  # counted, no example to place
    bad = focus_csv(tmp_path, *({"BilledCost": ""} for _ in range(7)))
    assert by_rule(validate_focus(bad, examples=3))["not_null:BilledCost"] == (7, [2, 3, 4])


def test_focus_sample_report(tmp_path):
    """Counts cross-checked with awk over the CSV (fields split outside quotes): ListCost differs from
    ListUnitPrice x PricingQuantity beyond 1e-9 + 1e-6 x max on 31 rows (Microsoft quantities are scaled),
    ContractedCost on 18, ContractedCost is NULL on the 7 Oracle rows; grep -n finds "Usage-based" on
    lines 927 928 943 946 949 950 952 and the two Adjustment rows with a ConsumedQuantity on 949 and 950;
    the header's 38th column is the provider's `Id`; no timestamp has the T and Z of ISO 8601."""
    sample = SHARED / "focus" / "focus_sample.csv"
    if not sample.is_file():
        pytest.skip("reference data absent")
    report = validate_focus(sample)
    assert (report.focus_version, report.rows, report.conformant) == ("1.0", 1000, False)
    failing = {r: v for r, v in by_rule(report).items() if v[0]}
    assert failing == {
        "column_names": (1, [1]), "datetime_format": (1000, [2, 3, 4, 5, 6]),
        "not_null:ContractedCost": (7, [927, 928, 943, 946, 949]),
        "allowed_values:ChargeFrequency": (7, [927, 928, 943, 946, 949]),
        "list_cost": (31, failing["list_cost"][1]), "contracted_cost": (18, failing["contracted_cost"][1]),
        "consumed_quantity_null": (2, [949, 950]),
    }


def test_cli_exit_codes_and_json(cli, tmp_path):
    good = focus_csv(tmp_path, {}, name="good.csv")
    bad = focus_csv(tmp_path, {"BilledCost": ""}, name="bad.csv")
    result = cli("cost", "validate", str(good), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"file", "focus_version", "rows", "conformant", "rules"} <= set(data) and data["conformant"]
    assert {"rule", "description", "violations", "examples"} <= set(data["rules"][0])
    result = cli("cost", "validate", str(bad), "--json")
    assert result.exit_code == 3
    [rule] = [r for r in json.loads(result.output)["rules"] if r["violations"]]
    assert rule == {"rule": "not_null:BilledCost", "description": "BilledCost is never null",
                    "reference": "BilledCost: Allows nulls = False", "status": "fail", "violations": 1,
                    "examples": [{"line": 2, "BilledCost": None}]}
    human = cli("cost", "validate", str(bad))
    assert human.exit_code == 3 and "not_null:BilledCost" in human.output and "line 2" in human.output
    assert cli("cost", "validate", str(tmp_path / "missing.csv")).exit_code == 1
    assert cli("cost", "validate", str(good), "--focus-version", "2.0").exit_code == 1


def test_every_rule_has_a_reference_and_a_unique_name():
    names = [r.rule for r in ROW_RULES]
    assert len(names) == len(set(names)) and all(r.reference and r.description for r in ROW_RULES)
