"""Line numbers stay exact when the engine reads a large file in parallel."""

from engmetrics.ingest import ingest_files
from engmetrics.store import Store

ROWS = 400_000
BAD_LINES = {2, 123_457, 300_001, ROWS + 1}  # good > total on these lines


def test_quarantine_lines_in_a_large_parallel_read(tmp_path):
    path = tmp_path / "sli.csv"
    with path.open("w") as out:
        out.write("service,indicator,ts,good,total\n")
        for line in range(2, ROWS + 2):
            out.write(f"s{line % 7},availability,{1_700_000_000 + line * 60},{11 if line in BAD_LINES else 5},10\n")
            if line == 200_000:
                out.write("too,few\n")  # a malformed line shifts every later record by one line
    with Store.open("duckdb://") as store:
        result = ingest_files(store, "sli_events", [path])
        lines = sorted(r[0] for r in store.sql.execute("SELECT line FROM _quarantine").fetchall())
    shifted = {line if line <= 200_000 else line + 1 for line in BAD_LINES}
    assert lines == sorted(shifted | {200_001})
    assert (result.read, result.quarantined, result.inserted) == (ROWS + 1, 5, ROWS - 4)


def test_lines_with_crlf_blank_lines_multiline_fields_and_malformed_records(tmp_path):
    rows = [
        "calendar,date,name",  # 1 header
        "uk,2026-01-01,a",  # 2
        "",  # 3 blank: not a record
        'uk,2026-01-02,"two',  # 4 one record over lines 4-6, with a blank line inside the quotes
        "",  # 5
        'lines"',  # 6
        "uk,2026-13-01,bad date",  # 7 refused: month 13
        "uk,2026-01-04,too,many",  # 8 malformed: too many columns
        "",  # 9
        'uk,2026-01-05,"say ""hi""',  # 10 escaped quotes inside a field spanning lines 10-11
        'there"',  # 11
        "uk,,missing date",  # 12 refused: date required
    ]
    path = tmp_path / "h.csv.gz"
    import gzip

    path.write_bytes(gzip.compress(("\r\n".join(rows) + "\r\n").encode()))
    with Store.open("duckdb://") as store:
        result = ingest_files(store, "holidays", [path])
        got = store.sql.execute("SELECT line, \"column\" FROM _quarantine ORDER BY line").fetchall()
        names = store.sql.execute("SELECT name FROM holidays ORDER BY date").fetchall()
    assert got == [(7, "date"), (8, None), (12, "date")]  # a malformed record names no column
    assert (result.read, result.inserted, result.quarantined) == (6, 3, 3)
    assert names == [("a",), ("two\r\n\r\nlines",), ('say "hi"\r\nthere',)]


def test_progress_reports_each_stage_in_order_with_fractions_in_range(tmp_path):
    path = tmp_path / "sli.csv"
    with path.open("w") as out:
        out.write("service,indicator,ts,good,total\n")
        out.writelines(f"s,a,{1_700_000_000 + i * 60},1,2\n" for i in range(200_000))
    seen: list[tuple[str, float, int]] = []
    with Store.open("duckdb://") as store:
        ingest_files(store, "sli_events", [path, path], progress=lambda *event: seen.append(event))
    stages = [what for what, _, _ in seen]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "checking sli.csv", "reading sli.csv", "writing sli_events", "done"]
    done = [step for _, step, _ in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == 5 and {n for *_, n in seen} == {5}
