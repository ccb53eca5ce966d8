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
