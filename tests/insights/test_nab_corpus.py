"""Reading a NAB-shaped corpus: windows become row ranges, bad files are named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engmetrics.errors import InputError
from engmetrics.insights.nab.corpus import load_corpus, probation

PROFILES = {"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}}


def make_corpus(root: Path, rows: str, windows: object) -> Path:
    (root / "data" / "real").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "config").mkdir()
    (root / "data" / "real" / "a.csv").write_text("timestamp,value\n" + rows)
    (root / "labels" / "combined_windows.json").write_text(json.dumps({"real/a.csv": windows}))
    (root / "config" / "profiles.json").write_text(json.dumps(PROFILES))
    return root


def test_windows_become_inclusive_row_ranges(tmp_path: Path) -> None:
    rows = "".join(f"2014-01-01 00:{minute:02d}:00,{minute}\n" for minute in range(0, 60, 5))  # 12 rows
    # 00:12 .. 00:31 holds the rows of 00:15, 00:20, 00:25, 00:30: rows 3..6
    corpus = make_corpus(tmp_path, rows, [["2014-01-01 00:12:00.000000", "2014-01-01 00:31:00.000000"]])
    loaded = load_corpus(corpus)
    (data_file,) = loaded.files
    assert data_file.folder == "real"
    assert data_file.windows.tolist() == [[3, 6]]
    assert data_file.values.tolist() == [float(m) for m in range(0, 60, 5)]
    assert loaded.profiles["standard"].fp == 0.11


def test_probation_is_15_percent_capped_at_750() -> None:
    assert (probation(100), probation(4032), probation(5000), probation(22695)) == (15, 604, 750, 750)


def test_a_bad_value_is_named_by_file(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, "2014-01-01 00:00:00,1\n2014-01-01 00:05:00,oops\n", [])
    with pytest.raises(InputError, match=r"real/a\.csv:3:value: expected a timestamp .* and a number"):
        load_corpus(corpus)


def test_a_missing_column_or_file_is_named(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, "2014-01-01 00:00:00,1\n", [])
    (corpus / "data" / "real" / "a.csv").write_text("timestamp,val\n2014-01-01 00:00:00,1\n")
    with pytest.raises(InputError, match=r"a\.csv:1: expected columns timestamp, value"):
        load_corpus(corpus)
    (corpus / "data" / "real" / "a.csv").unlink()
    with pytest.raises(InputError, match=r"a\.csv: missing data file"):
        load_corpus(corpus)


def test_a_window_without_rows_is_refused(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, "2014-01-01 00:00:00,1\n", [["2015-01-01 00:00:00", "2015-01-02 00:00:00"]])
    with pytest.raises(InputError, match="a window holds no rows"):
        load_corpus(corpus)


def test_unknown_folder_and_missing_corpus(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "nab", "2014-01-01 00:00:00,1\n", [])
    with pytest.raises(InputError, match="unknown data folder"):
        load_corpus(corpus, ["realTweets"])
    with pytest.raises(InputError, match="not a NAB corpus"):
        load_corpus(tmp_path / "elsewhere")
    assert np.array_equal(load_corpus(corpus, ["real"]).files[0].windows, np.zeros((0, 2)))
