"""AWS CUR 2.0 -> FOCUS: the recorded fixture's totals, the EffectiveCost rules, and the CLI.

tests/fixtures/cost/cur2_sample.csv (hand-made, 20 CUR 2.0 rows of one account in March 2025) has every
line item type. Hand-computed from its line_item_unblended_cost column:
BilledCost = 0.096 + 0.192 + 2.3 + 4.5 + 0.035 (usage, spot) + 0 + 0 (RI-covered) + 22.32 (RIFee)
  + 262.8 (RI upfront Fee) + 0.192 + 0.096 (SP-covered, on-demand) - 0.192 - 0.096 (their negations)
  + 0.2 (SP recurring fee) + 876 (SP upfront fee) + 3.5 (tax) - 10 (credit) - 1.25 (refund)
  - 0.5 (bundled discount) + 3 (CloudWatch) = 1163.193.
EffectiveCost = 0.096 + 0.192 + 2.3 + 4.5 + 0.035 + 0.06 + 0.06 (reservation_effective_cost)
  + 0.12 + 0.06 (savings_plan_savings_plan_effective_cost) + 3 + 3.5 - 10 - 1.25 - 0.5
  + 11.16 (unused RI: 5.58 upfront + 5.58 recurring) + 0.02 (unused SP: 0.2 committed - 0.18 used)
  and 0 for fees and negations = 13.353.
The accounting counts FOCUS rows: 20 CUR rows + 2 unused-commitment rows (li-08, li-14) = 22 read.

The mapping is DuckDB-only by design (file-level conversion before ingest, not a calculation over the store: see
the module doc of engmetrics.cost.aws_cur), hence the `duckdb_only` marker and no PySpark twin.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.cost.aws_cur import convert_cur, ingest_cur
from engmetrics.cost.conformance import validate_focus
from engmetrics.errors import InputError
from engmetrics.store import Store

pytestmark = pytest.mark.duckdb_only  # file-level conversion in DuckDB SQL, by design (module doc)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cost" / "cur2_sample.csv"
KEY = bytes(range(32))
SP, RI = "arn:aws:savingsplans::111122223333:savingsplan/sp-1a2b3c4d", \
    "arn:aws:ec2:eu-west-1:111122223333:reserved-instances/ri-0a1b2c3d"


def counts(result) -> tuple[int, int, int, int, int]:
    return result.read, result.inserted, result.updated, result.unchanged, result.quarantined


def cur_type(column: str = "x_extensions") -> str:
    return f"{column} ->> 'x_CurLineItemType'"


@pytest.fixture(scope="module")
def loaded():
    """query(sql, *params) over a store holding the fixture (ingested once for the module's read-only tests)."""
    with Store.open("duckdb://") as store:
        ingest_cur(store, [FIXTURE], pseudonym_key=KEY)
        yield lambda sql, *params: store.sql.execute(sql, list(params)).fetchall()


def test_fixture_totals(store, rows):
    result = ingest_cur(store, [FIXTURE], pseudonym_key=KEY)
    assert counts(result) == (22, 22, 0, 0, 0)  # FOCUS rows: 20 CUR rows + 2 unused-commitment rows
    assert (result.cur_rows, result.derived_rows, result.ignored_columns) == (20, 2, {})
    [(billed, effective)] = rows('SELECT sum("BilledCost"), sum("EffectiveCost") FROM cost')
    assert billed == pytest.approx(1163.193) and effective == pytest.approx(13.353)
    by_category = {c: (n, pytest.approx(b), pytest.approx(e)) for c, n, b, e in rows(
        'SELECT "ChargeCategory", count(*), sum("BilledCost"), sum("EffectiveCost") FROM cost GROUP BY 1')}
    assert by_category == {
        "Usage": (14, 10.123, 21.603),  # 12 usage rows + 2 unused commitment rows
        "Purchase": (4, 1161.32, 0.0),  # 22.32 + 262.8 + 0.2 + 876: billed, but amortised into usage
        "Tax": (1, 3.5, 3.5), "Credit": (2, -10.5, -10.5), "Adjustment": (1, -1.25, -1.25)}
    assert counts(ingest_cur(store, [FIXTURE], pseudonym_key=KEY)) == (22, 0, 0, 22, 0)  # re-reading: no change


# (CUR line item type, FOCUS rows: (ChargeCategory, ChargeFrequency, CommitmentDiscountStatus, BilledCost,
# EffectiveCost)) for one line of each type, from the fixture.
EXPECTED = {
    "li-06": ("DiscountedUsage", [("Usage", "Usage-Based", "Used", 0.0, 0.06)]),
    "li-08": ("RIFee", [("Purchase", "Recurring", None, 22.32, 0.0), ("Usage", "Usage-Based", "Unused", 0.0, 11.16)]),
    "li-09": ("Fee", [("Purchase", "One-Time", None, 262.8, 0.0)]),
    "li-10": ("SavingsPlanCoveredUsage", [("Usage", "Usage-Based", "Used", 0.192, 0.12)]),
    "li-12": ("SavingsPlanNegation", [("Usage", "Usage-Based", "Used", -0.192, 0.0)]),
    "li-14": ("SavingsPlanRecurringFee", [("Purchase", "Recurring", None, 0.2, 0.0),
                                          ("Usage", "Usage-Based", "Unused", 0.0, 0.02)]),
    "li-15": ("SavingsPlanUpfrontFee", [("Purchase", "One-Time", None, 876.0, 0.0)]),
    "li-16": ("Tax", [("Tax", "One-Time", None, 3.5, 3.5)]),
    "li-17": ("Credit", [("Credit", "One-Time", None, -10.0, -10.0)]),
    "li-18": ("Refund", [("Adjustment", "One-Time", None, -1.25, -1.25)]),
    "li-19": ("BundledDiscount", [("Credit", "One-Time", None, -0.5, -0.5)]),
}


@pytest.mark.parametrize("line_item", sorted(EXPECTED))
def test_each_line_item_type(loaded, line_item):
    kind, expected = EXPECTED[line_item]
    found = loaded(f"""SELECT {cur_type()}, "ChargeCategory", "ChargeFrequency", "CommitmentDiscountStatus",
                            "BilledCost", round("EffectiveCost", 10) FROM cost
                     WHERE x_extensions ->> 'x_CurLineItemId' = ? ORDER BY "BilledCost" DESC""", line_item)
    assert [r[0] for r in found] == [kind] * len(expected)
    assert [tuple(r[1:]) for r in found] == expected


def test_commitment_columns_give_the_utilisation(loaded):
    """sp-1 covered 0.12 + 0.06 of its 0.20 hour: utilisation 0.18 / (0.18 + 0.02) = 0.9 from FOCUS columns."""
    found = loaded("""SELECT "CommitmentDiscountType", "CommitmentDiscountCategory",
                           sum("EffectiveCost") FILTER (WHERE "CommitmentDiscountStatus" = 'Used'),
                           sum("EffectiveCost") FILTER (WHERE "CommitmentDiscountStatus" = 'Unused')
                    FROM cost WHERE "CommitmentDiscountId" LIKE '%sp-1a2b3c4d' GROUP BY ALL""")
    assert found == [("Savings Plan", "Spend", pytest.approx(0.18), pytest.approx(0.02))]


def test_tags_services_and_prices(loaded):
    got = {i: r for i, *r in loaded("""SELECT x_extensions ->> 'x_CurLineItemId', "Tags", "ServiceName",
                                            "ServiceCategory", "PricingCategory", "ListCost", "ConsumedQuantity",
                                            "SubAccountId", "BillingAccountId", "ChargePeriodStart"
                                     FROM cost WHERE "CommitmentDiscountStatus" IS DISTINCT FROM 'Unused'""")}
    # the user_ prefix CUR gives user-defined tag keys is dropped; aws_ keys stay; {} is no tags
    assert json.loads(got["li-01"][0]) == {"team": "checkout", "env": "prod"}
    assert json.loads(got["li-20"][0]) == {"team": "checkout", "aws_createdBy": "Root:111122223333"}
    assert got["li-03"][0] is None and got["li-04"][0] is None
    assert got["li-01"][1:4] == ["Amazon Elastic Compute Cloud", "Compute", "Standard"]
    assert got["li-05"][3:5] == ["Dynamic", 0.096]  # spot: list price is the on-demand cost
    assert got["li-12"][4:6] == [0.0, None]  # a negation lists nothing and consumes nothing
    assert got["li-03"][5:8] == [100.0, "444455556666", "111122223333"]
    assert got["li-01"][8].isoformat() == "2025-03-10T10:00:00+00:00"


def test_sku_region_resource_and_commitment_columns(loaded):
    """SkuId = product_sku, SkuPriceId = pricing_rate_code, RegionId = product_region_code, RegionName =
    product_location, ResourceType = product_product_family where there is a ResourceId, ResourceName = the Name
    tag (never the resource id), CommitmentDiscountName = the ARN's last segment."""
    got = {i: tuple(r) for i, *r in loaded("""
        SELECT x_extensions ->> 'x_CurLineItemId', "SkuId", "SkuPriceId", "RegionId", "RegionName", "ResourceId",
               "ResourceName", "ResourceType", "CommitmentDiscountId", "CommitmentDiscountName"
        FROM cost WHERE "CommitmentDiscountStatus" IS DISTINCT FROM 'Unused'""")}
    ec2 = ("6DQZ4X2WJ8VJY5QM", "6DQZ4X2WJ8VJY5QM.JRTCKXETXF.6YS6EN2CT7", "eu-west-1", "EU (Ireland)")
    assert got["li-01"] == (*ec2, "i-0aaa1111", None, "Compute Instance", None, None)
    assert got["li-02"][4:7] == ("i-0bbb2222", "search-api-1", "Compute Instance")  # its Name tag
    assert got["li-03"][2:7] == (None, None, "acme-assets", None, "Storage")  # S3: no region in the fixture
    assert got["li-04"][4:7] == (None, None, None)  # family Data Transfer, but no resource: no ResourceType
    assert got["li-06"][1] == "6DQZ4X2WJ8VJY5QM.4NA7Y494T4.6YS6EN2CT7"  # the reserved term's rate code
    assert got["li-08"][4:] == (None, None, None, RI, "ri-0a1b2c3d")  # the RI fee: a commitment, no resource
    assert got["li-10"][7:] == (SP, "sp-1a2b3c4d")
    assert got["li-16"][:2] == (None, None)  # tax: no SKU
    unused = loaded("""SELECT "CommitmentDiscountName", "SkuId" FROM cost WHERE "CommitmentDiscountStatus" = 'Unused'
                       ORDER BY 1""")
    assert unused == [("ri-0a1b2c3d", "6DQZ4X2WJ8VJY5QM"), ("sp-1a2b3c4d", "ZXXC2YJNTMVCSBQH")]  # as their fees


def bad_cur(tmp_path: Path) -> Path:
    """The fixture with physical lines moved and two bad values. Line 1 header; li-01 on lines 2-3 (its
    description holds a line break); line 4 blank; li-02 line 5; li-03 line 6, usage start "yesterday"; li-04 ..
    li-13 lines 7-16; li-14 (a savings plan fee with an unused part) line 17, billing period end "soon"."""
    lines = FIXTURE.read_text().splitlines()
    lines[1] = lines[1].replace("$0.096 per On Demand Linux", '"$0.096 per On Demand\nLinux', 1).replace(
        "Instance Hour,", 'Instance Hour",', 1)
    lines[3] = lines[3].replace("2025-03-10T00:00:00.000Z", "yesterday", 1)
    assert lines[14].startswith("li-14,")
    lines[14] = lines[14].replace("2025-04-01T00:00:00.000Z", "soon", 1)
    path = tmp_path / "cur.csv"
    path.write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n")
    return path


def test_quarantine_names_the_cur_line_and_counts_cur_rows(tmp_path, store, quarantined):
    path = bad_cur(tmp_path)
    result = ingest_cur(store, [path], pseudonym_key=KEY)
    # 22 FOCUS rows = 20 CUR rows + 2 unused rows; li-03 and li-14 with its unused row are quarantined: 19 + 3
    assert counts(result) == (22, 19, 0, 0, 3) and (result.cur_rows, result.derived_rows) == (20, 2)
    assert [(q["source_file"], q["line"], q["column"]) for q in quarantined("cost")] == [
        (str(path), 6, "ChargePeriodStart"), (str(path), 17, "BillingPeriodEnd"), (str(path), 17, "BillingPeriodEnd")]
    description = store.sql.execute("""SELECT "ChargeDescription" FROM cost
                                       WHERE x_extensions ->> 'x_CurLineItemId' = 'li-01'""").fetchone()[0]
    assert description == "$0.096 per On Demand\nLinux m5.large Instance Hour"
    with pytest.raises(InputError, match=r"cur\.csv:6: ChargePeriodStart"):
        ingest_cur(store, [path], strict=True, pseudonym_key=KEY)


def test_a_parquet_cur_is_quarantined_by_row_number(tmp_path, store, quarantined):
    """li-14 (row 14) has a bad billing period end: the fee and its unused row (FOCUS row 22) both get row 14."""
    parquet = tmp_path / "cur.parquet"
    duckdb.sql(f"""COPY (SELECT * REPLACE (CASE WHEN identity_line_item_id = 'li-14' THEN 'soon'
                                                ELSE bill_billing_period_end_date END AS bill_billing_period_end_date)
                         FROM read_csv('{FIXTURE}', all_varchar = true)) TO '{parquet}'""")
    assert counts(ingest_cur(store, [parquet], pseudonym_key=KEY)) == (22, 20, 0, 0, 2)
    assert [(q["line"], q["column"]) for q in quarantined("cost")] == [(14, "BillingPeriodEnd")] * 2


def test_parquet_cur_with_maps_gives_the_same_totals(tmp_path):
    parquet = tmp_path / "cur.parquet"
    duckdb.sql(f"""COPY (SELECT * REPLACE (
        CAST(resource_tags::JSON AS MAP(VARCHAR, VARCHAR)) AS resource_tags,
        CAST(product::JSON AS MAP(VARCHAR, VARCHAR)) AS product,
        line_item_unblended_cost::DOUBLE AS line_item_unblended_cost,
        line_item_usage_start_date::TIMESTAMP AS line_item_usage_start_date)
        FROM read_csv('{FIXTURE}', all_varchar = true)) TO '{parquet}'""")
    with Store.open("duckdb://") as store:
        result = ingest_cur(store, [parquet], pseudonym_key=KEY)
        assert counts(result) == (22, 22, 0, 0, 0) and (result.cur_rows, result.derived_rows) == (20, 2)
        found = store.sql.execute("""SELECT sum("BilledCost"), sum("EffectiveCost"), count("Tags"),
                                     count(*) FILTER (WHERE "ServiceName" = 'AmazonCloudWatch') FROM cost""").fetchone()
    assert found == (pytest.approx(1163.193), pytest.approx(13.353), 10, 2)  # li-01 02 05 06 07 10-13 20


def test_the_focus_it_writes_is_conformant(tmp_path):
    target = tmp_path / "focus.parquet"
    assert convert_cur(duckdb.connect(), FIXTURE, target) == (20, 22)  # (CUR rows, FOCUS rows)
    report = validate_focus(target)
    assert report.conformant, [(r.rule, r.examples) for r in report.rules if r.violations]


def test_cli(cli, tmp_path):
    result = cli("ingest", "cost", "--from", "aws-cur", str(FIXTURE), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["read"], out["cur_rows"], out["derived_rows"]) == (22, 20, 2)
    again = cli("ingest", "cost", "--from", "aws-cur", str(FIXTURE))
    assert "unchanged 22" in again.stdout and "from 20 CUR rows + 2 unused-commitment rows" in again.stdout
    assert cli("ingest", "incidents", "--from", "aws-cur", str(FIXTURE)).exit_code == 1
    not_cur = tmp_path / "focus.csv"
    not_cur.write_text("BilledCost,ChargeCategory\n1,Usage\n")
    result = cli("ingest", "cost", "--from", "aws-cur", str(not_cur))
    assert result.exit_code == 1 and "line_item_unblended_cost" in result.output


@pytest.fixture(scope="module")
def reused_store():
    with Store.open("duckdb://") as store:
        yield store


HEAD = ("bill_billing_period_start_date,bill_billing_period_end_date,line_item_line_item_type,"
        "line_item_usage_start_date,line_item_usage_end_date,line_item_unblended_cost,pricing_public_on_demand_cost,"
        "savings_plan_savings_plan_a_r_n,savings_plan_savings_plan_effective_cost,"
        "savings_plan_total_commitment_to_date,savings_plan_used_commitment")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hours=st.lists(st.lists(st.tuples(st.integers(1, 500), st.integers(1, 100)), max_size=4), min_size=1,
                      max_size=4),
       headroom=st.integers(0, 300))
def test_savings_plan_is_counted_once(tmp_path_factory, reused_store, hours, headroom):
    """Per hour: covered usage at on-demand cost c (effective e <= c), its negation -c, and the recurring fee
    of commitment C >= sum(e). Billed total = sum(C) (the invoice); effective total = sum(C) too: used
    commitment through the usage, the unused part in its own row, the fee itself 0."""
    out, total = io.StringIO(), 0
    writer = csv.writer(out, lineterminator="\n")
    for h, lines in enumerate(hours):
        start, end = f"2025-03-01T{h:02d}:00:00Z", f"2025-03-01T{h + 1:02d}:00:00Z"
        used = sum(min(e, c) for c, e in lines) / 100
        commitment = used + headroom / 100
        total += commitment
        common = ["2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"]
        for c, e in lines:
            writer.writerow([*common, "SavingsPlanCoveredUsage", start, end, c / 100, c / 100, "sp", min(e, c) / 100,
                             "", ""])
            writer.writerow([*common, "SavingsPlanNegation", start, end, -c / 100, "", "sp", "", "", ""])
        writer.writerow([*common, "SavingsPlanRecurringFee", start, end, commitment, "", "sp", "", commitment, used])
    path = tmp_path_factory.mktemp("cur") / "cur.csv"
    path.write_text(HEAD + "\n" + out.getvalue())
    reused_store.sql.execute("DELETE FROM cost")
    result = ingest_cur(reused_store, [path], pseudonym_key=KEY)
    billed, effective = reused_store.sql.execute('SELECT sum("BilledCost"), sum("EffectiveCost") FROM cost').fetchone()
    assert result.quarantined == 0
    assert billed == pytest.approx(total, abs=1e-9) and effective == pytest.approx(total, abs=1e-9)
