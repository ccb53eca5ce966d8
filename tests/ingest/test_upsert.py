"""Upsert by primary key, idempotent; repeated keys within a batch; the later file wins."""

from __future__ import annotations

import hashlib

from engmetrics.store import REGISTRY

HEAD = "calendar,date,name\n"
COST_HEAD = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
             "BilledCost,EffectiveCost")
COST_LINE = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,Usage,0.25,0.5"


def counts(result) -> tuple[int, int, int, int, int]:
    return result.read, result.inserted, result.updated, result.unchanged, result.quarantined


def test_same_file_twice_changes_nothing(write, ingest, rows, store):
    path = write("h.csv", HEAD + "uk,2026-12-25,Christmas\nuk,2026-12-26,Boxing Day\nde,2026-10-03,Einheit\n")
    assert counts(ingest("holidays", path)) == (3, 3, 0, 0, 0)
    before = rows("SELECT * FROM holidays ORDER BY ALL")
    assert counts(ingest("holidays", path)) == (3, 0, 0, 3, 0)
    assert rows("SELECT * FROM holidays ORDER BY ALL") == before
    assert store.count("_ingests") == 2


def test_changed_row_is_updated_and_new_key_inserted(write, ingest, rows):
    ingest("holidays", write("a.csv", HEAD + "uk,2026-12-25,Christmas\nuk,2026-12-26,Boxing Day\n"))
    result = ingest("holidays", write("b.csv", HEAD + "uk,2026-12-25,Xmas\nuk,2026-12-26,Boxing Day\n"
                                                      "uk,2026-01-01,New Year\n"))
    assert counts(result) == (3, 1, 1, 1, 0)
    assert rows("SELECT date::VARCHAR, name FROM holidays ORDER BY date") == [
        ("2026-01-01", "New Year"), ("2026-12-25", "Xmas"), ("2026-12-26", "Boxing Day")]


def test_value_set_to_null_is_an_update(write, ingest, rows):
    ingest("holidays", write("a.csv", HEAD + "uk,2026-12-25,Christmas\n"))
    assert counts(ingest("holidays", write("b.csv", HEAD + "uk,2026-12-25,\n"))) == (1, 0, 1, 0, 0)
    assert rows("SELECT name FROM holidays") == [(None,)]


def test_repeated_key_with_same_values_in_one_batch_is_unchanged(write, ingest, rows):
    result = ingest("holidays", write("h.csv", HEAD + "uk,2026-12-25,Christmas\nuk,2026-12-25,Christmas\n"))
    assert counts(result) == (2, 1, 0, 1, 0)
    assert rows("SELECT name FROM holidays") == [("Christmas",)]


def test_repeated_key_with_other_values_in_one_batch_later_wins(write, ingest, rows):
    result = ingest("holidays", write("h.csv", HEAD + "uk,2026-12-25,First\nuk,2026-12-26,Other\n"
                                                     "uk,2026-12-25,Second\nuk,2026-12-25,Third\n"))
    assert counts(result) == (4, 2, 2, 0, 0)
    assert rows("SELECT name FROM holidays ORDER BY date") == [("Third",), ("Other",)]


def test_later_file_of_one_call_wins(write, ingest, rows):
    a = write("a.csv", HEAD + "uk,2026-12-25,From A\nuk,2026-12-26,Only A\n")
    b = write("b.jsonl", '{"calendar": "uk", "date": "2026-12-25", "name": "From B"}\n')
    assert counts(ingest("holidays", a, b)) == (3, 2, 1, 0, 0)
    assert rows("SELECT name FROM holidays ORDER BY date") == [("From B",), ("Only A",)]
    # and the other order: A wins
    assert counts(ingest("holidays", b, a)) == (3, 0, 1, 2, 0)
    assert rows("SELECT name FROM holidays ORDER BY date") == [("From A",), ("Only A",)]


def test_invalid_repeat_does_not_override_a_valid_row(write, ingest, rows):
    result = ingest("holidays", write("h.csv", HEAD + "uk,2026-12-25,Christmas\nuk,2026-12-25,x,y\n"))
    assert counts(result) == (2, 1, 0, 0, 1)
    assert rows("SELECT name FROM holidays") == [("Christmas",)]


def test_composite_and_person_keys(write, ingest, rows):
    path = write("p.csv", "person,valid_from,team\nalice,2026-01-01,a\nalice,2026-02-01,b\nbob,2026-01-01,a\n")
    assert counts(ingest("people", path)) == (3, 3, 0, 0, 0)
    assert counts(ingest("people", path)) == (3, 0, 0, 3, 0)
    assert rows("SELECT count(DISTINCT person) FROM people") == [(2,)]


def test_cost_rows_are_keyed_by_their_hash(write, ingest, rows):
    head = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
            "BilledCost,EffectiveCost")
    line = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,Usage"
    path = write("c.csv", f"{head}\n{line},1,1\n{line},1,1\n{line},2,2\n")
    # two identical lines in one file are two charges (the FOCUS flexibility scenario has them): both kept
    assert counts(ingest("cost", path)) == (3, 3, 0, 0, 0)
    assert counts(ingest("cost", path)) == (3, 0, 0, 3, 0)
    assert rows('SELECT "BilledCost" FROM cost ORDER BY 1') == [(1.0,), (1.0,), (2.0,)]
    assert rows("SELECT count(DISTINCT x_row_hash) FROM cost") == [(3,)]
    # the same charge in another file is the same row; that file, a newer export of the same billing period
    # (provider, account and BillingPeriodStart), replaces the period: the two 1s it lacks are deleted
    result = ingest("cost", write("d.csv", f"{head}\n{line},2,2\n"))
    assert counts(result) == (1, 0, 0, 1, 0)
    assert result.replaced == 2
    assert rows('SELECT "BilledCost" FROM cost') == [(2.0,)]


def test_json_summary_has_exactly_the_documented_fields(write, ingest):
    result = ingest("holidays", write("h.csv", HEAD + "uk,2026-12-25,Christmas\n"))
    assert set(result.as_dict()) == {"dataset", "files", "read", "inserted", "updated", "unchanged", "quarantined"}


def test_reingest_keeps_one_quarantine_entry_per_bad_row(write, ingest, rows):
    path = write("h.csv", HEAD + "uk,2026-12-25,Christmas\nuk,2026-13-01,Bad\nuk,,Missing\n")
    assert counts(ingest("holidays", path)) == (3, 1, 0, 0, 2)
    assert counts(ingest("holidays", path)) == (3, 0, 0, 1, 2)  # counted again: read = sum still holds
    assert rows("SELECT line, count(*) FROM _quarantine GROUP BY line ORDER BY line") == [(3, 1), (4, 1)]
    other = write("other.csv", HEAD + "uk,2026-13-01,Bad\n")  # same row, another file: its own entry
    ingest("holidays", other)
    assert rows("SELECT count(*) FROM _quarantine") == [(3,)]


def test_a_file_lacking_a_column_compares_it_as_null_with_the_store(write, ingest, rows):
    # the column the file lacks is neither staged nor inserted; its typed NULL still enters the value hash,
    # so it equals a stored NULL (unchanged) and differs from a stored value (updated, to NULL)
    ingest("holidays", write("b.csv", HEAD + "uk,2026-12-25,\nuk,2026-12-26,Boxing Day\n"))
    result = ingest("holidays", write("a.csv", "calendar,date\nuk,2026-12-25\nuk,2026-12-26\n"))
    assert counts(result) == (2, 0, 1, 1, 0)
    assert rows("SELECT name FROM holidays") == [(None,), (None,)]
    # a list-typed column (services.depends_on) and an int one (tier): NULL, then lacking: unchanged
    ingest("services", write("s.csv", "service,team,tier,depends_on\ncheckout,payments,,\n"))
    assert counts(ingest("services", write("t.csv", "service,team\ncheckout,payments\n"))) == (1, 0, 0, 1, 0)
    assert counts(ingest("services", write("u.jsonl", '{"service": "checkout", "team": "payments", '
                                                       '"depends_on": ["db"]}\n'))) == (1, 0, 1, 0, 0)
    assert counts(ingest("services", write("t2.csv", "service,team\ncheckout,payments\n"))) == (1, 0, 1, 0, 0)
    assert rows("SELECT depends_on FROM services") == [(None,)]


def test_cost_key_is_the_md5_of_every_value_as_exact_text(write, ingest, rows):
    # The documented key, built here by hand: each value column in registry order, its exact text (timestamps
    # as epoch microseconds), NUL for NULL and for a column the file lacks, joined by chr(31). Runs of lacking
    # columns are folded into one constant in the SQL: the text, and so every stored key, is the same.
    ingest("cost", write("c.csv", f"{COST_HEAD},Tags\n{COST_LINE},\n"))
    texts = {"BillingPeriodStart": "1767225600000000", "BillingPeriodEnd": "1769904000000000",
             "ChargePeriodStart": "1767225600000000", "ChargePeriodEnd": "1767312000000000",
             "ChargeCategory": "Usage", "BilledCost": "0.25", "EffectiveCost": "0.5"}
    text = "\x1f".join(texts.get(c, "\x00") for c in REGISTRY.get_dataset("cost").value_columns)
    assert rows("SELECT x_row_hash FROM cost") == [(hashlib.md5(text.encode()).hexdigest(),)]


def test_a_column_the_file_lacks_is_stored_as_null_like_an_empty_one(write, ingest, rows):
    # holidays: a file without the name column, then the same rows with the column empty (unchanged), then
    # with names (updated). The staging and the insert leave such a column out; its hash still counts it.
    assert counts(ingest("holidays", write("a.csv", "calendar,date\nuk,2026-12-25\nuk,2026-12-26\n"))) \
        == (2, 2, 0, 0, 0)
    assert rows("SELECT name FROM holidays") == [(None,), (None,)]
    assert counts(ingest("holidays", write("b.csv", HEAD + "uk,2026-12-25,\nuk,2026-12-26,\n"))) == (2, 0, 0, 2, 0)
    assert counts(ingest("holidays", write("c.csv", HEAD + "uk,2026-12-25,Christmas\n"))) == (1, 0, 1, 0, 0)
    # one call with a file lacking the column and one having it: both files' rows land, NULL where lacking
    result = ingest("holidays", write("d.csv", "calendar,date\nde,2026-10-03\n"),
                    write("e.csv", HEAD + "fr,2026-07-14,Fete nationale\n"))
    assert counts(result) == (2, 2, 0, 0, 0)
    assert rows("SELECT calendar, name FROM holidays WHERE calendar <> 'uk' ORDER BY 1") == [
        ("de", None), ("fr", "Fete nationale")]
    # the same charge, once without the ListCost column, once with it empty, has one key: unchanged
    assert counts(ingest("cost", write("f.csv", f"{COST_HEAD}\n{COST_LINE}\n"))) == (1, 1, 0, 0, 0)
    assert counts(ingest("cost", write("g.csv", f"{COST_HEAD},ListCost\n{COST_LINE},\n"))) == (1, 0, 0, 1, 0)
