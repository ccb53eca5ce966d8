"""A batch replaces the billing periods it contains: a restated or re-exported month of a provider and
billing account replaces the earlier export instead of adding to it (cost has no natural key: rows are keyed
by a hash of all their values, so a restated row is a new row). Also: zero-length periods are quarantined.

Every file here is January 2026 (BillingPeriodStart 2026-01-01) unless it says otherwise; charges are on
5 January, USD, untagged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engmetrics.cost.allocation import allocation_report
from engmetrics.cost.allocation_rules import AllocationRules
from engmetrics.cost.conformance import validate_focus
from engmetrics.cost.reconcile import reconcile

HEAD = ("ProviderName,BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
        "ChargeCategory,BilledCost,EffectiveCost,BillingCurrency")
JAN = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z"
FEB = "2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,2026-02-05T00:00:00Z,2026-02-06T00:00:00Z"


def line(cost: float, provider: str = "AWS", account: str = "111", period: str = JAN, category: str = "Usage") -> str:
    """One charge: BilledCost = EffectiveCost = `cost`."""
    return f"{provider},{account},{period},{category},{cost},{cost},USD"


def export(write, name: str, *lines: str, head: str = HEAD) -> object:
    return write(name, "\n".join([head, *lines]) + "\n")


def counts(result) -> tuple[int, int, int, int, int, int | None]:
    return result.read, result.inserted, result.updated, result.unchanged, result.quarantined, result.replaced


def stored(rows) -> list[tuple]:
    """(provider, account, period start day, EffectiveCost) of every stored row, sorted."""
    return rows("""SELECT "ProviderName", "BillingAccountId", "BillingPeriodStart"::DATE::VARCHAR, "EffectiveCost"
                   FROM cost ORDER BY ALL NULLS FIRST""")


def test_a_restated_export_replaces_the_earlier_one(write, ingest, rows, store):
    assert counts(ingest("cost", export(write, "jan.csv", line(10)))) == (1, 1, 0, 0, 0, 0)
    # the provider restates the charge 10 -> 9.5: a new row (new hash), and the earlier version goes
    assert counts(ingest("cost", export(write, "jan-restated.csv", line(9.5)))) == (1, 1, 0, 0, 0, 1)
    assert stored(rows) == [("AWS", "111", "2026-01-01", 9.5)]
    january = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    report = allocation_report(store, AllocationRules(), "team", *january)
    assert report["total"]["cost"] == 9.5  # not 10 + 9.5 = 19.5
    [item] = reconcile(store).items
    assert (item["line_item_total"], item["rows"]) == (9.5, 1)  # BilledCost; not 19.5 over 2 rows


def test_a_re_export_with_new_columns_replaces_the_same_charges(write, ingest, rows):
    """FOCUS 1.0 -> 1.2 (InvoiceId) with a new x_ column: the same charges hash differently, nothing doubles."""
    ingest("cost", export(write, "v10.csv", line(10), line(3)))
    head = HEAD + ",InvoiceId,x_ExportRun"
    result = ingest("cost", export(write, "v12.csv", line(10) + ",INV-1,2", line(3) + ",INV-1,2", head=head))
    assert counts(result) == (2, 2, 0, 0, 0, 2)
    assert rows('SELECT sum("EffectiveCost"), count(*), count("InvoiceId") FROM cost') == [(13.0, 2, 2)]


def test_other_months_accounts_and_providers_are_left_alone(write, ingest, rows):
    ingest("cost", export(write, "jan.csv", line(10)))
    assert ingest("cost", export(write, "feb.csv", line(20, period=FEB))).replaced == 0
    assert ingest("cost", export(write, "acct-222.csv", line(30, account="222"))).replaced == 0
    assert ingest("cost", export(write, "azure.csv", line(40, provider="Azure"))).replaced == 0
    assert ingest("cost", export(write, "no-account.csv", line(50, account=""))).replaced == 0
    assert stored(rows) == [("AWS", None, "2026-01-01", 50.0), ("AWS", "111", "2026-01-01", 10.0),
                            ("AWS", "111", "2026-02-01", 20.0), ("AWS", "222", "2026-01-01", 30.0),
                            ("Azure", "111", "2026-01-01", 40.0)]
    # a null BillingAccountId is a partition of its own, equal to itself: only the 50 is replaced
    assert counts(ingest("cost", export(write, "no-account-2.csv", line(55, account="")))) == (1, 1, 0, 0, 0, 1)
    assert stored(rows)[0] == ("AWS", None, "2026-01-01", 55.0)
    assert rows('SELECT sum("EffectiveCost") FROM cost') == [(155.0,)]  # 55 + 10 + 20 + 30 + 40


def test_re_ingesting_the_same_file_changes_nothing(write, ingest, cli, workspace):
    path = export(write, "jan.csv", line(10), line(3))
    assert counts(ingest("cost", path)) == (2, 2, 0, 0, 0, 0)
    assert counts(ingest("cost", path)) == (2, 0, 0, 2, 0, 0)
    assert ingest("cost", path).as_dict()["replaced"] == 0
    first = cli("ingest", "cost", path)
    assert first.exit_code == 0, first.output
    again = cli("ingest", "cost", path, "--json")
    assert again.exit_code == 0, again.output
    assert '"unchanged": 2' in again.output and '"replaced": 0' in again.output
    restated = cli("ingest", "cost", export(write, "jan-2.csv", line(10)))
    assert "replaced 1 stored rows" in " ".join(restated.output.split())  # the 3 is gone


def test_quarantined_rows_replace_nothing(write, ingest, rows, quarantined):
    ingest("cost", export(write, "jan.csv", line(10), line(3, account="222")))
    # account 111's January line is refused (not a ChargeCategory); the file's valid row is February's
    result = ingest("cost", export(write, "bad.csv", line(9.5, category="Refund"), line(20, period=FEB)))
    assert counts(result) == (2, 1, 0, 0, 1, 0)
    assert stored(rows) == [("AWS", "111", "2026-01-01", 10.0), ("AWS", "111", "2026-02-01", 20.0),
                            ("AWS", "222", "2026-01-01", 3.0)]
    # with a valid January row of account 111 the partition is replaced: the 10 goes, the other account stays
    result = ingest("cost", export(write, "mixed.csv", line(9.5, category="Refund"), line(9.5)))
    assert counts(result) == (2, 1, 0, 0, 1, 1)
    assert stored(rows) == [("AWS", "111", "2026-01-01", 9.5), ("AWS", "111", "2026-02-01", 20.0),
                            ("AWS", "222", "2026-01-01", 3.0)]


def test_identical_lines_in_one_file_stay_two_charges(write, ingest, rows):
    path = export(write, "jan.csv", line(1), line(1), line(2))
    assert counts(ingest("cost", path)) == (3, 3, 0, 0, 0, 0)
    assert counts(ingest("cost", path)) == (3, 0, 0, 3, 0, 0)  # the second 1's numbered key is in the batch
    assert rows('SELECT count(*), sum("EffectiveCost") FROM cost') == [(3, 4.0)]  # 1 + 1 + 2
    # a restatement with one 1 and the 2: the numbered copy goes, nothing else
    assert counts(ingest("cost", export(write, "jan-2.csv", line(1), line(2)))) == (2, 0, 0, 2, 0, 1)
    assert rows('SELECT count(*), sum("EffectiveCost") FROM cost') == [(2, 3.0)]


def test_the_parts_of_one_export_are_ingested_together(write, ingest, rows):
    part1, part2 = export(write, "part-1.csv", line(10)), export(write, "part-2.csv", line(3))
    assert counts(ingest("cost", part1, part2)) == (2, 2, 0, 0, 0, 0)
    assert counts(ingest("cost", part1, part2)) == (2, 0, 0, 2, 0, 0)
    # a part alone is the whole period as far as ingest can tell: the other part's rows go
    assert counts(ingest("cost", part1)) == (1, 0, 0, 1, 0, 1)
    assert rows('SELECT sum("EffectiveCost") FROM cost') == [(10.0,)]


def test_other_datasets_report_no_replaced_field(write, ingest):
    result = ingest("holidays", write("h.csv", "calendar,date,name\nuk,2026-12-25,Christmas\n"))
    assert result.replaced is None and "replaced" not in result.as_dict()


def test_zero_length_periods_are_quarantined_as_validate_reports_them(write, ingest, rows, quarantined):
    """FOCUS periods include the start and exclude the end: end == start is an empty period."""
    instant = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-05T10:00:00Z,2026-01-05T10:00:00Z"
    second = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-05T10:00:00Z,2026-01-05T10:00:01Z"
    empty_month = "2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z"
    path = export(write, "c.csv", line(1, period=instant), line(2, period=second), line(4, period=empty_month))
    assert counts(ingest("cost", path)) == (3, 1, 0, 0, 2, 0)
    assert rows('SELECT "EffectiveCost" FROM cost') == [(2.0,)]  # the one-second charge loads
    assert {q["line"]: q["reason"] for q in quarantined("cost")} == {
        2: "ChargePeriodEnd: ChargePeriodEnd (exclusive) is not after ChargePeriodStart",
        4: "BillingPeriodEnd: BillingPeriodEnd (exclusive) is not after BillingPeriodStart"}
    report = {r.rule: [e["line"] for e in r.examples] for r in validate_focus(path).rules}
    assert (report["charge_period_order"], report["billing_period_order"]) == ([2], [4])
