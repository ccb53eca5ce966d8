"""Defects found in review of issue 2 (foundation); each test pins the hand-checked expected behaviour."""

from __future__ import annotations


def counts(result) -> tuple[int, int, int, int, int]:
    return result.read, result.inserted, result.updated, result.unchanged, result.quarantined


CHANGES = ("change_id,repo,author,created_at,merged_at,additions\n"
           "c1,r,alice,2026-01-01T10:00:00Z,2026-01-01T12:00:00Z,5\n"
           "c2,r,bob,2026-01-02T10:00:00Z,,3\n")


def test_reingest_with_person_value_column_is_unchanged(write, ingest):
    # `author` is a pseudonymised value column: the row hash must be over the stored (pseudonymised) value,
    # otherwise every re-ingest of `changes` counts as 2 updates instead of 2 unchanged.
    path = write("ch.csv", CHANGES)
    assert counts(ingest("changes", path)) == (2, 2, 0, 0, 0)
    assert counts(ingest("changes", path)) == (2, 0, 0, 2, 0)


def test_error_message_with_brackets_is_shown_verbatim(cli, tmp_path):
    # Error text was printed as Rich markup: "[red]" vanished from the path and "[/x]" crashed the CLI.
    for part in ("[red]", "[/x]"):
        missing = tmp_path / part / "h.csv"
        result = cli("ingest", "holidays", missing)
        assert result.exit_code == 1
        assert f"{missing}: no such file" in " ".join(result.stderr.split())


def test_catalog_issue_with_brackets_is_shown_verbatim(cli, workspace):
    # Issue text was printed as Rich markup too: an unknown key "[/x]" crashed `catalog validate`.
    (workspace / "metrics" / "bad.yaml").write_text('id: x\nname: y\n"[/x]": 1\n')
    result = cli("catalog", "validate")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "[/x]" in result.stderr and "bad.yaml" in result.stderr


def test_names_and_data_with_brackets_are_shown_verbatim(cli, workspace, tmp_path):
    # Names from YAML and values from data were Rich markup in tables and trees: "[prod]" vanished and
    # "[/x]" crashed `catalog list|tree`, `scorecard` and `quarantine list`.
    example = workspace / "metrics" / "example.yaml"
    text = example.read_text().replace("name: Production deployments per week", "name: Deploys [prod] [/x]", 1)
    assert text != example.read_text()
    example.write_text(text)
    for args in (("catalog", "list"), ("catalog", "tree"), ("scorecard", "--as-of", "2026-01-01")):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.exception)
        assert "[/x]" in result.stdout, args
    bad = tmp_path / "h.csv"
    bad.write_text("calendar,date,name\nuk,[/x],n\n")
    assert cli("ingest", "holidays", bad).exit_code == 0
    result = cli("quarantine", "list")
    assert result.exit_code == 0, result.exception
    assert "[/x]" in result.stdout


def _lines(quarantined, dataset="holidays") -> list[int]:
    return [r["line"] for r in quarantined(dataset)]


def test_csv_blank_lines_do_not_shift_quarantine_line_numbers(write, ingest, quarantined):
    # line 1 header, 2 valid, 3 blank, 4 bad
    path = write("h.csv", "calendar,date,name\nuk,2026-01-01,a\n\nuk,bad,b\n")
    assert counts(ingest("holidays", path)) == (2, 1, 0, 0, 1)
    assert _lines(quarantined) == [4]


def test_csv_malformed_line_after_multiline_field_has_its_real_line(write, ingest, quarantined):
    # line 1 header, 2-4 one record with a quoted field over three lines, 5 too many columns
    path = write("h.csv", 'calendar,date,name\nuk,2026-01-01,"a\nb\nc"\nuk,2026-01-03,x,y\n')
    assert counts(ingest("holidays", path)) == (2, 1, 0, 0, 1)
    assert _lines(quarantined) == [5]


_INDICATOR = """\
outcomes:
  - {id: delivery, name: Delivery}
indicators:
  - id: sev
    name: Severe incidents
    owner: {team: sre, role: lead}
    kind: lagging
    unit: incidents
    direction: lower_is_better
    cadence: weekly
    calculation:
%s
    thresholds: {green: {max: 1}, amber: {min: 1, max: 3}, red: {min: 3}}
    outcome: delivery
    review_by: 2030-01-01
"""


def _errors(root, calculation: str) -> list[tuple[str, int | None, str]]:
    from engmetrics.catalog.loader import check_catalog

    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "m.yaml").write_text(_INDICATOR % calculation)
    return [(i.file, i.line, i.message) for i in check_catalog(root).errors]


def test_filter_value_of_the_wrong_type_is_a_validation_error(tmp_path):
    # `severity` is an int: comparing it with "high" passed `catalog validate` and then crashed
    # `metrics evaluate` with an IbisTypeError traceback (no file, no line).
    calc = ("      dataset: incidents\n"
            "      filters:\n"
            "        - {column: severity, op: le, value: high}\n"       # line 14
            "      measure:\n"
            "        type: count\n"
            "        filters: [{column: customer_impact, value: 'yes'}]\n")  # line 17
    errors = _errors(tmp_path, calc)
    assert [(f, line) for f, line, _ in errors] == [("metrics/m.yaml", 14), ("metrics/m.yaml", 17)]
    assert "severity" in errors[0][2] and "customer_impact" in errors[1][2]


def test_filter_values_that_fit_their_columns_validate(tmp_path):
    calc = ("      dataset: incidents\n"
            "      filters:\n"
            "        - {column: severity, op: in, value: [1, 2]}\n"
            "        - {column: customer_impact, value: true}\n"
            "        - {column: resolved_at, op: ge, value: '2026-01-01T00:00:00Z'}\n"
            "        - {column: title, op: ne, value: test}\n"
            "      measure: {type: count}\n")
    assert _errors(tmp_path, calc) == []


def test_unknown_calculator_parameter_is_a_validation_error(tmp_path):
    # `params: {env: ...}` passed validation, then evaluate crashed with a TypeError traceback.
    calc = ("      calculator: delivery.deployments_per_day\n"
            "      params: {env: production}\n")  # line 13
    errors = _errors(tmp_path, calc)
    assert [(f, line) for f, line, _ in errors] == [("metrics/m.yaml", 13)]
    assert "env" in errors[0][2]


def test_tsv_files_are_read_with_tabs(write, ingest, rows):
    # `.tsv` maps to the CSV reader by suffix, but the reader always split on commas: every TSV file
    # failed with "lacks required column(s)".
    path = write("h.tsv", "calendar\tdate\tname\nuk\t2026-12-25\tChristmas, Day\nuk\tbad\tx\n")
    assert counts(ingest("holidays", path)) == (2, 1, 0, 0, 1)
    assert rows("SELECT name FROM holidays") == [("Christmas, Day",)]


def test_numeric_epoch_milliseconds_are_not_read_as_seconds(tmp_path, ingest, rows, quarantined):
    # A Parquet BIGINT of epoch milliseconds was read as seconds: 1767261600000 became year 57972.
    import duckdb

    path = tmp_path / "s.parquet"
    duckdb.sql(f"""COPY (SELECT 's' AS service, 'i' || i AS indicator, ts, 1.0 AS good, 2.0 AS total
                   FROM (VALUES (0, 1767261600::BIGINT), (1, 1767261600000::BIGINT), (2, 1767261600.5),
                                (3, 1e20)) v(i, ts)) TO '{path}'""")
    assert counts(ingest("sli_events", path)) == (4, 3, 0, 0, 1)
    assert rows("SELECT indicator, ts::VARCHAR FROM sli_events ORDER BY 1") == [
        ("i0", "2026-01-01 10:00:00+00"), ("i1", "2026-01-01 10:00:00+00"), ("i2", "2026-01-01 10:00:00.5+00")]
    assert [(r["line"], r["column"]) for r in quarantined("sli_events")] == [(4, "ts")]


def test_threshold_lint_reports_no_gap_that_a_wider_band_covers():
    # Gaps were checked between neighbours by `min` only: green [0, 10) covers [5, 10), yet the rule said
    # "values in [5, 10) are in no band"; and green {min: 0} covers everything from 2 up.
    from engmetrics.catalog.lint.thresholds import band_problems
    from engmetrics.catalog.model import Thresholds

    t = Thresholds.model_validate({"green": {"min": 0, "max": 10}, "amber": {"min": 2, "max": 5},
                                   "red": {"min": 10}})
    assert [p for p in band_problems(t.bands(), "lower_is_better") if "gap" in p] == [
        "gap: values below 0 are in no band"]
    t = Thresholds.model_validate({"green": {"min": 0}, "amber": {"min": 1, "max": 2}, "red": {"max": 0}})
    assert [p for p in band_problems(t.bands(), "higher_is_better") if "gap" in p] == []
    t = Thresholds.model_validate({"green": {"min": 5}, "amber": {"min": 2, "max": 4}, "red": {"max": 1}})
    assert [p for p in band_problems(t.bands(), "higher_is_better") if "gap" in p] == [
        "gap: values in [1, 2) are in no band", "gap: values in [4, 5) are in no band"]


def test_ingest_refuses_to_mint_a_new_key_over_pseudonymised_data(cli, workspace, tmp_path):
    # A lost (or mis-configured) key file was silently replaced by a fresh key at the next ingest: the same
    # person then got a different pseudonym than in the rows already stored, splitting their history.
    path = tmp_path / "ch.csv"
    path.write_text(CHANGES)
    assert cli("ingest", "changes", path).exit_code == 0
    key = workspace / ".engmetrics" / "pseudonym.key"
    key.unlink()
    result = cli("ingest", "changes", path)
    assert result.exit_code == 1
    assert str(key) in " ".join(result.stderr.split()).replace("\n", "")
    assert not key.exists()


def test_iso_timestamps_without_seconds_or_with_lower_case_z_are_accepted(write, ingest, rows):
    # ISO-8601 allows HH:MM precision; DuckDB's cast does not, so "2026-01-01T10:00Z" was refused as
    # "expected an ISO-8601 timestamp".
    values = ["2026-01-01T10:00+02:00", "2026-01-01T10:00Z", "2026-01-01 10:00:00z", "2026-01-01T10:00:00.5Z"]
    path = write("s.csv", "service,indicator,ts,good,total\n"
                 + "".join(f"s,i{i},{v},1,2\n" for i, v in enumerate(values)))
    assert counts(ingest("sli_events", path)) == (4, 4, 0, 0, 0)
    assert rows("SELECT ts::VARCHAR FROM sli_events ORDER BY indicator") == [
        ("2026-01-01 08:00:00+00",), ("2026-01-01 10:00:00+00",), ("2026-01-01 10:00:00+00",),
        ("2026-01-01 10:00:00.5+00",)]
