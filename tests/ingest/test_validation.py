"""Every kind of invalid row is quarantined with the right file, line, column and reason."""

from __future__ import annotations

import pytest

from engmetrics.errors import InputError
from engmetrics.ingest import ingest_files
from engmetrics.store import Store

T = "2026-01-01T10:00:00Z"
DEPLOY = "deployment_id,service,environment,started_at,finished_at,status,is_rollback"
SLI = "service,indicator,ts,good,total"

# (dataset, header, good row, bad row, column, reason) - the bad row is always line 3 of the file.
CASES = {
    "wrong int": ("changes", "change_id,repo,author,created_at,additions",
                  f"c1,r,a,{T},3", f"c2,r,a,{T},many", "additions", 'additions: expected an integer, got "many"'),
    "int with a fraction": ("changes", "change_id,repo,author,created_at,additions",
                            f"c1,r,a,{T},3", f"c2,r,a,{T},1.5", "additions",
                            'additions: expected an integer, got "1.5"'),
    "wrong float": ("sli_events", SLI, f"s,a,{T},1,2", f"s,b,{T},1,two", "total",
                    'total: expected a number, got "two"'),
    "NaN": ("sli_events", SLI, f"s,a,{T},1,2", f"s,b,{T},NaN,2", "good", 'good: expected a number, got "NaN"'),
    "inf": ("sli_events", SLI, f"s,a,{T},1,2", f"s,b,{T},1,inf", "total", 'total: expected a number, got "inf"'),
    "-Infinity": ("business_volume", "service,metric,ts,value", f"s,m,{T},1", f"s,n,{T},-Infinity", "value",
                  'value: expected a number, got "-Infinity"'),
    "bad bool": ("deployments", DEPLOY, f"d1,api,production,{T},,success,true",
                 f"d2,api,production,{T},,success,maybe", "is_rollback",
                 'is_rollback: expected true or false, got "maybe"'),
    "bad date": ("holidays", "calendar,date,name", "uk,2026-12-25,Christmas", "uk,2026-02-30,Nope", "date",
                 'date: expected a date (YYYY-MM-DD), got "2026-02-30"'),
    "bad time": ("teams", "team,work_start,work_end", "a,09:00,17:00", "b,25:00,17:00", "work_start",
                 'work_start: expected a time (HH:MM[:SS]), got "25:00"'),
    "bad JSON value": ("telemetry_samples", "series,ts,metric,labels,value", f'a,{T},a,"{{""a"": 1}}",1',
                       f"b,{T},b,{{bad,1", "labels", 'labels: expected valid JSON, got "{bad"'),
    "series of another metric": ("telemetry_samples", "series,ts,metric,value", f"up{{job=a}},{T},up,1",
                                 f"up{{job=b}},{T},up{{job=b}},1", "series",
                                 "series: must be the metric name, alone or followed by its {labels}"),
    "bad timestamp": ("sli_events", SLI, f"s,a,{T},1,2", "s,b,yesterday,1,2", "ts",
                      'ts: expected an ISO-8601 timestamp or epoch seconds/milliseconds, got "yesterday"'),
    "enum miss": ("deployments", DEPLOY, f"d1,api,production,{T},,success,", f"d2,api,production,{T},,shipped,",
                  "status",
                  'status: expected one of success, failure, in_progress, cancelled, got "shipped"'),
    "below min (int)": ("incidents", "incident_id,severity,declared_at", f"i1,1,{T}", f"i2,0,{T}", "severity",
                        "severity: 0 is below 1"),
    "above max (int)": ("incidents", "incident_id,severity,declared_at", f"i1,5,{T}", f"i2,6,{T}", "severity",
                        "severity: 6 is above 5"),
    "below min (float)": ("sli_events", SLI, f"s,a,{T},0,0", f"s,b,{T},-1,2", "good", "good: -1.0 is below 0"),
    "above max (float)": ("utilization", "resource_id,ts,cpu_util", f"r1,{T},1", f"r2,{T},1.5", "cpu_util",
                          "cpu_util: 1.5 is above 1"),
    "missing required": ("incidents", "incident_id,severity,declared_at", f"i1,3,{T}", "i2,3,", "declared_at",
                         "declared_at: required value is missing"),
    "rule finished_at >= started_at": (
        "deployments", DEPLOY, f"d1,api,production,{T},{T},success,",
        f"d2,api,production,{T},2026-01-01T09:59:59Z,success,", "finished_at",
        "finished_at: finished_at is before started_at"),
    "rule good <= total": ("sli_events", SLI, f"s,a,{T},2,2", f"s,b,{T},3,2", "good",
                           "good: good is greater than total"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_invalid_row_is_quarantined(case, write, ingest, quarantined, store):
    dataset, header, good, bad, column, reason = CASES[case]
    path = write(f"{dataset}.csv", f"{header}\n{good}\n{bad}\n")
    result = ingest(dataset, path)
    assert (result.read, result.inserted, result.quarantined) == (2, 1, 1)
    [q] = quarantined(dataset)
    assert (q["dataset"], q["source_file"], q["line"], q["column"], q["reason"]) == (
        dataset, str(path), 3, column, reason)
    assert store.count(dataset) == 1


def test_every_reason_of_a_row_is_given_and_the_first_column_named(write, ingest, quarantined):
    path = write("s.csv", f"{SLI}\ns,a,{T},-1,x\n")
    ingest("sli_events", path)
    [q] = quarantined()
    assert q["column"] == "good"
    assert q["reason"] == 'good: -1.0 is below 0; total: expected a number, got "x"'


def test_rule_with_a_null_input_passes(write, ingest, rows):
    ingest("deployments", write("d.csv", f"{DEPLOY}\nd1,api,production,{T},,success,\n"))
    assert rows("SELECT deployment_id, finished_at FROM deployments") == [("d1", None)]


def test_enum_values_are_normalised_case_insensitively(write, ingest, rows):
    path = write("d.csv", f"{DEPLOY}\nd1,api,production,{T},,SUCCESS,TRUE\nd2,api,staging,{T},,In_Progress,\n")
    result = ingest("deployments", path)
    assert result.quarantined == 0
    assert rows("SELECT deployment_id, environment, status, is_rollback FROM deployments ORDER BY 1") == [
        ("d1", "production", "success", True), ("d2", "staging", "in_progress", None)]


def test_focus_enum_keeps_the_spec_spelling(write, ingest, rows):
    head = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
            "BilledCost,EffectiveCost")
    # periods exclude their end, so each must end after it starts (an empty period is quarantined)
    later = "2026-01-02T00:00:00Z"
    ingest("cost", write("c.csv", f"{head}\n{T},{later},{T},{later},usage,1.5,1.25\n"))
    assert rows('SELECT "ChargeCategory", "BilledCost", "EffectiveCost" FROM cost') == [("Usage", 1.5, 1.25)]


def test_csv_with_too_many_and_too_few_columns(write, ingest, quarantined, rows):
    path = write("h.csv", "calendar,date,name\n"
                          "uk,2026-12-25,Christmas\n"
                          "uk,2026-12-26,Boxing,extra\n"       # line 3: too many
                          "uk,2026-05-01\n"                    # line 4: too few
                          "uk,2026-13-01,Bad month\n"          # line 5: typed error after two skipped lines
                          "uk,2026-01-01,New Year\n")
    result = ingest("holidays", path)
    assert result.as_dict() | {"files": None} == {"dataset": "holidays", "files": None, "read": 5,
                                                  "inserted": 2, "updated": 0, "unchanged": 0, "quarantined": 3}
    qs = quarantined("holidays")
    assert [q["line"] for q in qs] == [3, 4, 5]
    assert qs[0]["reason"].startswith("TOO MANY COLUMNS")
    assert qs[0]["record"] == "uk,2026-12-26,Boxing,extra"
    assert qs[1]["reason"].startswith("MISSING COLUMNS")
    assert qs[2]["column"] == "date"
    assert rows("SELECT name FROM holidays ORDER BY date") == [("New Year",), ("Christmas",)]


def test_csv_line_numbers_count_physical_lines_of_quoted_newlines(write, ingest, quarantined):
    path = write("h.csv", 'calendar,date,name\nuk,2026-06-01,"two\nlines"\nuk,2026-13-01,bad\n')
    ingest("holidays", path)
    [q] = quarantined()
    assert q["line"] == 4


def test_jsonl_lines_that_are_not_objects(write, ingest, quarantined):
    path = write("s.jsonl", "\n".join([
        '{"service": "s", "indicator": "a", "ts": "2026-01-01T00:00:00Z", "good": 1, "total": 2}',
        "[1, 2]",
        '"just a string"',
        "{bad json",
        "42",
        '{"service": "s", "indicator": "b", "ts": "2026-01-01T00:00:00Z", "good": 1, "total": "x"}',
    ]) + "\n")
    result = ingest("sli_events", path)
    assert (result.read, result.inserted, result.quarantined) == (6, 1, 5)
    qs = quarantined()
    assert [(q["line"], q["reason"]) for q in qs[:4]] == [(n, "not a JSON object") for n in (2, 3, 4, 5)]
    assert all(not q["column"] for q in qs[:4])
    assert (qs[4]["line"], qs[4]["column"], qs[4]["reason"]) == (6, "total", 'total: expected a number, got "x"')


def test_jsonl_missing_key_is_a_missing_required_value(write, ingest, quarantined):
    ingest("sli_events", write("s.jsonl", '{"service": "s", "indicator": "a", "good": 1, "total": 2}\n'))
    [q] = quarantined()
    assert (q["line"], q["column"], q["reason"]) == (1, "ts", "ts: required value is missing")


def test_jsonl_blank_lines_are_skipped_and_not_counted(write, ingest, quarantined, store):
    row = '{"service": "s", "indicator": "%s", "ts": "2026-01-01T00:00:00Z", "good": 1, "total": %s}'
    path = write("s.jsonl", "\n" + row % ("a", 2) + "\n\n   \n" + row % ("b", '"x"') + "\n\n")
    result = ingest("sli_events", path)
    assert (result.read, result.inserted, result.quarantined) == (2, 1, 1)
    [q] = quarantined()
    assert q["line"] == 5
    assert store.count("sli_events") == 1


def test_strict_fails_the_batch_and_writes_nothing(write, ingest, store):
    path = write("h.csv", "calendar,date,name\nuk,2026-12-25,Christmas\nuk,2026-02-30,Nope\n")
    with pytest.raises(InputError) as err:
        ingest("holidays", path, strict=True)
    assert "--strict: 1 invalid row(s)" in str(err.value)
    assert f"{path}:3: date: expected a date" in str(err.value)
    assert store.count("holidays") == 0
    assert store.count("_quarantine") == 0
    assert store.count("_ingests") == 0


def test_strict_passes_a_clean_batch(write, ingest, store):
    result = ingest("holidays", write("h.csv", "calendar,date,name\nuk,2026-12-25,Christmas\n"), strict=True)
    assert (result.read, result.inserted) == (1, 1)
    assert store.count("_ingests") == 1


def test_extra_columns_are_ignored_and_reported(write, ingest, rows):
    result = ingest("holidays", write("h.csv", "calendar,date,name,colour\nuk,2026-12-25,Christmas,red\n"))
    assert list(result.ignored_columns.values()) == [["colour"]]
    assert rows("SELECT * FROM holidays") and result.inserted == 1


def test_a_reason_key_is_data_in_user_files_and_a_refusal_from_connectors(store, write):
    path = write("h.jsonl", '{"calendar": "uk", "date": "2026-12-25", "name": "Christmas", "_reason": "no"}\n'
                            '{"calendar": "uk", "date": "2026-12-26", "name": "Boxing Day", "_reason": ""}\n')
    user = ingest_files(store, "holidays", [path])
    assert (user.inserted, user.quarantined) == (2, 0)  # an ordinary key of the user's data: ignored
    from_connector = ingest_files(Store.open("duckdb://"), "holidays", [path], reasons=True)
    assert (from_connector.inserted, from_connector.quarantined) == (1, 1)  # empty reasons do not refuse
