"""The FOCUS reader: real exports (focus_sample.csv, the spec scenarios) load with an exact accounting.

Expected figures for focus_sample.csv were computed once outside engmetrics, with awk splitting the CSV
on commas outside quotes and summing column 2 (BilledCost) by column 30 (ProviderName):
AWS 942 rows 18.00663861840, Microsoft 51 rows 1.97651418586, Oracle 7 rows 0.53707392473 (1000 rows).
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.ingest import ingest_files
from engmetrics.store import Store

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE_TOTALS = {"AWS": (942, 18.00663861840), "Microsoft": (51, 1.97651418586), "Oracle": (7, 0.53707392473)}
HEAD = "BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost"
PERIOD = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-05 10:00:00,2026-01-05 11:00:00"


@pytest.fixture
def focus_data() -> Path:
    """`../shared/data` (skipped when absent)."""
    if not (SHARED / "focus" / "focus_sample.csv").is_file():
        pytest.skip(f"reference data not present at {SHARED}")
    return SHARED


def counts(result) -> tuple[int, int, int, int, int]:
    return result.read, result.inserted, result.updated, result.unchanged, result.quarantined


def provider_totals(rows) -> dict[str, tuple[int, float]]:
    found = rows('SELECT "ProviderName", count(*), sum("BilledCost") FROM cost GROUP BY 1')
    return {p: (n, total) for p, n, total in found}


def assert_sample_totals(rows) -> None:
    found = provider_totals(rows)
    assert set(found) == set(SAMPLE_TOTALS)
    for provider, (n, total) in SAMPLE_TOTALS.items():
        assert found[provider][0] == n
        assert found[provider][1] == pytest.approx(total, abs=1e-9)


def test_focus_sample_loads_every_row_and_matches_the_direct_sums(focus_data, ingest, rows, quarantined):
    sample = focus_data / "focus" / "focus_sample.csv"
    assert counts(ingest("cost", sample)) == (1000, 1000, 0, 0, 0)
    assert quarantined() == []
    assert_sample_totals(rows)
    # 7 rows say "Usage-based": normalised to the spec's spelling (992 + 7 = 999, the other is One-Time)
    assert rows("""SELECT "ChargeFrequency", count(*) FROM cost GROUP BY 1 ORDER BY 1""") == [
        ("One-Time", 1), ("Usage-Based", 999)]
    # `NULL` written as text is null: 289 rows have Tags NULL (grep -c ',NULL$'), ChargeClass is NULL in all
    assert rows("""SELECT count(*) FILTER (WHERE "Tags" IS NULL), count("ChargeClass") FROM cost""") == [(289, 0)]
    # the provider column `Id`, outside the spec, is kept by name; the first data line has Id 11472
    [(ext, start)] = rows("""SELECT x_extensions, "ChargePeriodStart" FROM cost
                             WHERE x_extensions ->> 'Id' = '11472'""")
    assert json.loads(ext) == {"Id": "11472"}
    assert start.isoformat() == "2024-09-18T22:00:00+00:00"  # "2024-09-18 22:00:00" has no offset: UTC (FOCUS)
    assert counts(ingest("cost", sample)) == (1000, 0, 0, 1000, 0)  # re-reading changes nothing


def test_focus_sample_as_csv_gz_and_parquet_gives_the_same_totals(focus_data, tmp_path):
    sample = focus_data / "focus" / "focus_sample.csv"
    packed = tmp_path / "focus_sample.csv.gz"
    packed.write_bytes(gzip.compress(sample.read_bytes()))
    parquet = tmp_path / "focus_sample.parquet"
    with Store.open("duckdb://") as store:  # text columns, "NULL" and all, as a careless export writes them
        store.sql.execute(f"COPY (SELECT * FROM read_csv('{sample}', all_varchar = true)) TO '{parquet}'")
    for path in (packed, parquet):
        with Store.open("duckdb://") as store:
            assert counts(ingest_files(store, "cost", [path])) == (1000, 1000, 0, 0, 0)
            assert_sample_totals(lambda sql: store.sql.execute(sql).fetchall())


def test_dirty_values_are_normalised(write, ingest, rows, quarantined):
    head = ("billingperiodstart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,CHARGECATEGORY,BilledCost,"
            "EffectiveCost,ChargeFrequency,PricingCategory,CommitmentDiscountStatus,SkuPriceid,Tags,x_Team,Id")
    path = write("c.csv", f"{head}\n"
                 f'{PERIOD},usage,1.5,1.25,usage-based,COMMITTED,used,P-1,"{{""team"": ""a""}}",a,7\n'
                 f"{PERIOD},Tax,0.5,0.5,one-time,null,NULL,Null,,null,8\n")
    assert counts(ingest("cost", path)) == (2, 2, 0, 0, 0)
    assert quarantined() == []
    got = rows("""SELECT "ChargeCategory", "ChargeFrequency", "PricingCategory", "CommitmentDiscountStatus",
                         "SkuPriceId", "Tags", x_extensions FROM cost ORDER BY "BilledCost" DESC""")
    assert got == [("Usage", "Usage-Based", "Committed", "Used", "P-1", '{"team": "a"}', '{"x_Team":"a","Id":"7"}'),
                   ("Tax", "One-Time", None, None, None, None, '{"x_Team":null,"Id":"8"}')]


def test_rows_breaking_the_spec_are_quarantined_with_the_rule(write, ingest, rows, quarantined):
    head = HEAD + ",ChargeFrequency,ChargeClass"
    path = write("c.csv", f"{head}\n"
                 f"{PERIOD},Usage,1,1,Usage-Based,\n"          # line 2: valid
                 f"{PERIOD},Usage,1,1,Sometimes,\n"            # line 3: not a ChargeFrequency
                 f"{PERIOD},Refund,1,1,Usage-Based,\n"         # line 4: not a ChargeCategory
                 f"{PERIOD},Usage,,1,Usage-Based,\n"           # line 5: BilledCost missing
                 f"{PERIOD},Usage,1,1,Usage-Based,Fix\n"       # line 6: ChargeClass is Correction or null
                 "5/1/25,6/1/25,2026-01-05 10:00:00,2026-01-05 11:00:00,Usage,1,1,,\n")  # line 7: US dates
    assert counts(ingest("cost", path)) == (6, 1, 0, 0, 5)
    reasons = {q["line"]: q["reason"] for q in quarantined("cost")}
    assert reasons[3] == 'ChargeFrequency: expected one of One-Time, Recurring, Usage-Based, got "Sometimes"'
    assert reasons[4].startswith('ChargeCategory: expected one of Usage, Purchase, Tax, Credit, Adjustment')
    assert reasons[5] == "BilledCost: required value is missing"
    assert reasons[6] == 'ChargeClass: expected one of Correction, got "Fix"'
    # DuckDB alone would read 5/1/25 as 25 January of the year 5; FOCUS dates are ISO 8601
    assert reasons[7].startswith('BillingPeriodStart: expected an ISO-8601 timestamp or epoch seconds/milliseconds, '
                                 'got "5/1/25"')


def test_typed_parquet_with_naive_timestamps_and_extension_columns(tmp_path, ingest, rows):
    def ts(*values: datetime) -> pa.Array:
        return pa.array(values, pa.timestamp("us"))  # no zone: FOCUS says UTC

    table = pa.table({
        "BillingPeriodStart": ts(datetime(2026, 1, 1), datetime(2026, 1, 1)),
        "BillingPeriodEnd": ts(datetime(2026, 2, 1), datetime(2026, 2, 1)),
        "ChargePeriodStart": ts(datetime(2026, 1, 5), datetime(2026, 1, 6)),
        "chargeperiodend": ts(datetime(2026, 1, 5, 1), datetime(2026, 1, 6, 1)),
        "ChargeCategory": ["USAGE", "credit"], "BilledCost": [2.5, -1.0], "EffectiveCost": [2.0, -1.0],
        "Tags": ['{"env": "prod"}', ""], "x_Discount": [0.5, None],
    })
    path = tmp_path / "f.parquet"
    pq.write_table(table, path)
    assert counts(ingest("cost", path)) == (2, 2, 0, 0, 0)
    got = rows("""SELECT "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "Tags", x_extensions
                  FROM cost ORDER BY "BilledCost" DESC""")
    assert [(c, s.isoformat(), e.isoformat(), t, x) for c, s, e, t, x in got] == [
        ("Usage", "2026-01-05T00:00:00+00:00", "2026-01-05T01:00:00+00:00", '{"env": "prod"}', '{"x_Discount":0.5}'),
        ("Credit", "2026-01-06T00:00:00+00:00", "2026-01-06T01:00:00+00:00", None, '{"x_Discount":null}')]


# Rows loaded / quarantined per spec scenario file (counted by hand from the files): the two purchase
# scenarios with a recurring fee each have a line ending "2023-02-01T30:00:00Z" (hour 30: not a time).
COMMITMENT_SCENARIOS = {
    "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv": (3, 0),  # noqa: E501
    "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv": (3, 0),  # noqa: E501
    "commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv": (2, 0),  # noqa: E501
    "commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv": (3, 0),
    "commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv": (1, 0),
    "commitment_discount_scenarios/commitment_discount_purchase_scenario_2.csv": (2, 1),
    "commitment_discount_scenarios/commitment_discount_purchase_scenario_3.csv": (3, 1),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv": (1, 0),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv": (1, 0),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv": (2, 0),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv": (2, 0),
}


@pytest.mark.parametrize("name", sorted(COMMITMENT_SCENARIOS))
def test_commitment_scenarios_load(focus_data, ingest, rows, quarantined, name):
    loaded, refused = COMMITMENT_SCENARIOS[name]
    result = ingest("cost", focus_data / "focus-spec-scenarios" / name)
    assert counts(result) == (loaded + refused, loaded, 0, 0, refused)
    assert all("2023-02-01T30:00:00Z" in q["reason"] for q in quarantined("cost"))


def test_flexibility_scenario_keeps_both_identical_usage_lines(focus_data, ingest, rows):
    """The 2-resource scenario has two identical usage lines; each covers 2 of the 4 normalised hours."""
    ingest("cost", focus_data / "focus-spec-scenarios" / "commitment_discount_flexibility" /
           "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv")
    got = rows("""SELECT "ChargeCategory", sum("CommitmentDiscountQuantity"), sum("EffectiveCost"),
                         any_value("SkuPriceId"), any_value(x_extensions) FROM cost GROUP BY 1 ORDER BY 1""")
    assert got == [("Purchase", 4.0, 0.0, "VM_XLARGE_COMMITTED_PURCHASE_NO_UPFRONT",
                    '{"x_CommitmentDiscountUnitPrice":"2.00"}'),
                   ("Usage", 4.0, 2.0, "VM_MEDIUM_COMMITTED_HOUR", '{"x_CommitmentDiscountUnitPrice":"1.00"}')]


def test_saas_examples_with_us_dates_are_accounted_for(focus_data, ingest, quarantined):
    """The SaaS examples write dates as M/D/YY (not ISO 8601): every row is quarantined, saying so."""
    files = sorted((focus_data / "focus-spec-scenarios" / "saas_examples").rglob("*.csv"))
    result = ingest("cost", *files)
    assert result.read == result.quarantined == len(quarantined("cost")) > 0
    assert all("expected an ISO-8601 timestamp" in q["reason"] for q in quarantined("cost"))


NULLS = st.sampled_from(["NULL", "null", "Null", ""])
CASINGS = st.sampled_from(["Usage", "usage", "USAGE", "uSaGe"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(CASINGS, NULLS, st.integers(0, 10_000)), min_size=1, max_size=12))
def test_any_casing_and_null_spelling_loads_with_exact_accounting(tmp_path_factory, lines):
    text = HEAD + ",Tags\n" + "".join(f"{PERIOD},{cat},{cents / 100},0,{tag}\n" for cat, tag, cents in lines)
    path = tmp_path_factory.mktemp("p") / "c.csv"
    path.write_text(text)
    with Store.open("duckdb://") as store:
        result = ingest_files(store, "cost", [path])
        assert result.read == len(lines) == result.inserted + result.unchanged
        assert result.quarantined == 0
        stored = store.sql.execute("""SELECT count(*), sum("BilledCost"), count("Tags"),
                                      count(*) FILTER (WHERE "ChargeCategory" = 'Usage') FROM cost""").fetchone()
    assert stored == (len(lines), pytest.approx(sum(c for *_, c in lines) / 100), 0, len(lines))
