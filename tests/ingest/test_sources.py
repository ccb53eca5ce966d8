"""CSV, JSON Lines and Parquet, gzip-compressed or not; files that cannot be read at all."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engmetrics.errors import InputError

HEAD = "calendar,date,name\n"
CSV = HEAD + "uk,2026-12-25,Christmas\nuk,2026-12-26,Boxing Day\n"
JSONL = ('{"calendar": "uk", "date": "2026-12-25", "name": "Christmas"}\n'
         '{"calendar": "uk", "date": "2026-12-26", "name": "Boxing Day"}\n')
EXPECTED = [("uk", "2026-12-25", "Christmas"), ("uk", "2026-12-26", "Boxing Day")]


def parquet_bytes(tmp_path) -> bytes:
    path = tmp_path / "tmp.parquet"
    pq.write_table(pa.table({"calendar": ["uk", "uk"], "date": ["2026-12-25", "2026-12-26"],
                             "name": ["Christmas", "Boxing Day"]}), path)
    return path.read_bytes()


@pytest.mark.parametrize(("name", "fmt"), [
    ("h.csv", None), ("h.csv.gz", None), ("h.jsonl", None), ("h.jsonl.gz", None), ("h.ndjson", None),
    ("h.parquet", None), ("h.txt", "csv"), ("h.data", "jsonl"), ("h.bin", "parquet"), ("h.gz", "csv"),
])
def test_formats(name, fmt, write, ingest, rows, tmp_path):
    kind = fmt or ("parquet" if "parquet" in name else "jsonl" if "json" in name else "csv")
    content = {"csv": CSV, "jsonl": JSONL, "parquet": parquet_bytes(tmp_path)}[kind]
    result = ingest("holidays", write(name, content), fmt=fmt)
    assert (result.read, result.inserted, result.quarantined) == (2, 2, 0)
    assert rows("SELECT calendar, date::VARCHAR, name FROM holidays ORDER BY date") == EXPECTED


def test_parquet_typed_columns_and_row_numbers(tmp_path, ingest, rows, quarantined):
    path = tmp_path / "i.parquet"
    pq.write_table(pa.table({"incident_id": ["i1", "i2", "i3"], "severity": pa.array([1, 9, 3], pa.int64()),
                             "declared_at": ["2026-01-01T00:00:00Z"] * 3,
                             "customer_impact": [True, None, False]}), path)
    result = ingest("incidents", path)
    assert (result.inserted, result.quarantined) == (2, 1)
    [q] = quarantined()
    assert (q["line"], q["column"], q["reason"]) == (2, "severity", "severity: 9 is above 5")
    assert rows("SELECT incident_id, customer_impact FROM incidents ORDER BY 1") == [("i1", True), ("i3", False)]


def test_csv_bom_and_crlf(write, ingest, rows):
    ingest("holidays", write("h.csv", ("\ufeff" + CSV).replace("\n", "\r\n")))
    assert rows("SELECT calendar, date::VARCHAR, name FROM holidays ORDER BY date") == EXPECTED


def test_lists_from_json_or_semicolons(write, ingest, rows):
    ingest("services", write("s.csv", 'service,team,depends_on\na,t,"[""b"", ""c""]"\nb,t,c; d\nc,t,\n'))
    assert rows("SELECT service, depends_on FROM services ORDER BY 1") == [
        ("a", ["b", "c"]), ("b", ["c", "d"]), ("c", None)]


# (file name, content, what the message must say)
UNREADABLE = {
    "missing": ("gone.csv", None, "no such file"),
    "unknown suffix": ("h.xlsx", CSV, "cannot tell the format from the file name"),
    "missing required column": ("h.csv", "calendar,name\nuk,x\n", "lacks required column(s) date"),
    "duplicate header": ("h.csv", "calendar,date,name,date\nuk,2026-12-25,a,b\n", "header names column 'date' twice"),
    "binary junk csv": ("h.csv", bytes(range(128, 256)) * 4, "not a readable UTF-8 CSV file"),
    "binary junk jsonl": ("h.jsonl", bytes(range(128, 256)) * 4, "JSON Lines"),
    "binary junk parquet": ("h.parquet", b"PAR1" + bytes(range(256)), "not a readable Parquet file"),
    "plain CSV named .jsonl": ("h.jsonl", CSV, "no line is a JSON object"),
    "empty csv": ("h.csv", "", "the file is empty or has no header line"),
    "empty csv.gz": ("h.csv.gz", "", "the file is empty or has no header line"),
    "empty parquet": ("h.parquet", "", "not a readable Parquet file"),
    "empty jsonl": ("h.jsonl", "", "empty"),
}


@pytest.mark.parametrize("case", list(UNREADABLE), ids=list(UNREADABLE))
def test_unreadable_file_fails_the_batch_and_writes_nothing(case, write, ingest, store, tmp_path):
    name, content, message = UNREADABLE[case]
    good = write("good.csv", CSV)
    bad = write(name, content) if content is not None else tmp_path / name
    with pytest.raises(InputError) as err:
        ingest("holidays", good, bad)
    assert str(bad) in str(err.value)
    assert message in str(err.value)
    for table in ("holidays", "_quarantine", "_ingests"):
        assert store.count(table) == 0, table


def test_truncated_gzip_is_not_silently_partial(write, ingest, store, tmp_path):
    lines = "".join(f"uk,2026-12-{d % 28 + 1:02d},Day {d}\n" for d in range(3000))
    data = gzip.compress((HEAD + lines).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        ingest("holidays", path)
    assert str(path) in str(err.value)
    assert store.count("holidays") == 0


def test_unknown_format_option(write, ingest):
    with pytest.raises(InputError, match="unknown format 'xml'"):
        ingest("holidays", write("h.csv", CSV), fmt="xml")


def test_unknown_dataset(write, ingest):
    with pytest.raises(KeyError, match="unknown dataset 'nope'"):
        ingest("nope", write("h.csv", CSV))


def test_gzip_content_is_detected_without_a_gz_name(write, ingest, rows):
    import gzip

    csv_path = write("h.csv", gzip.compress(b"calendar,date,name\nuk,2026-12-25,Christmas\n"))
    jsonl_path = write("h.jsonl", gzip.compress(b'{"calendar": "de", "date": "2026-10-03"}\n'))
    assert ingest("holidays", csv_path, jsonl_path).inserted == 2
    assert rows("SELECT calendar FROM holidays ORDER BY calendar") == [("de",), ("uk",)]
