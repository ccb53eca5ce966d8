"""Files, determinism and the end-to-end `engmetrics demo` command (generate, ingest, evaluate)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engmetrics.catalog import check_catalog, lint
from engmetrics.cli.main import app
from engmetrics.demo import FILES, generate, write_demo_files
from engmetrics.demo.bad_rows import BAD_ROWS_EXPECTED
from engmetrics.slo import check_slos
from engmetrics.slo.policy import check_policies
from engmetrics.store import REGISTRY

from .conftest import END


def _hashes(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "data").iterdir())}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("a")
    write_demo_files(root, generate(days=14, seed=7, end=END))
    return root


def test_every_dataset_has_a_file_in_every_format(written: Path) -> None:
    names = {p.name for p in (written / "data").iterdir()}
    assert {FILES[d].name for d in REGISTRY} <= names
    suffixes = {FILES[d].format + (".gz" if FILES[d].gzip else "") for d in REGISTRY}
    assert {"csv", "jsonl", "parquet", "csv.gz", "jsonl.gz"} <= suffixes
    assert (written / "org" / "teams.yaml").is_file()


def test_same_seed_and_end_give_identical_files(written: Path, tmp_path: Path) -> None:
    write_demo_files(tmp_path, generate(days=14, seed=7, end=END))
    assert _hashes(tmp_path) == _hashes(written)


def test_another_seed_gives_other_files(written: Path, tmp_path: Path) -> None:
    write_demo_files(tmp_path, generate(days=14, seed=8, end=END))
    ours, theirs = _hashes(written), _hashes(tmp_path)
    differ = [name for name in ours if ours[name] != theirs[name]]
    assert len(differ) >= len(REGISTRY) - 4  # static ones (teams, services, holidays) may stay equal


def test_timestamps_have_offsets_except_the_assume_tz_file(written: Path) -> None:
    with gzip.open(written / "data" / FILES["deployments"].name, "rt") as handle:
        first = json.loads(handle.readline())
    assert first["started_at"].endswith("Z")
    with (written / "data" / FILES["support_requests"].name).open(newline="") as handle:
        created = next(csv.DictReader(handle))["created_at"]
    assert FILES["support_requests"].assume_tz
    assert "T" in created and not created.endswith("Z") and "+" not in created


def test_demo_command_ingests_and_evaluates(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(target), "--days", "10", "--end", END.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["quarantined"] == sum(BAD_ROWS_EXPECTED.values())
    by_dataset = {r["dataset"]: r for r in out["ingested"]}
    assert set(by_dataset) == set(REGISTRY)
    for name, r in by_dataset.items():
        assert r["inserted"] > 0, name
        assert r["quarantined"] == BAD_ROWS_EXPECTED.get(name, 0), name
    statuses = {r["metric"]: r["status"] for r in out["results"]}
    assert len(statuses) >= 10
    assert sum(s in ("green", "amber", "red") for s in statuses.values()) >= 8
    # the failed-request share from the sampled events is an estimate with its interval, on the scorecard too
    [sampled] = [r for r in out["results"] if r["metric"] == "request_error_ratio"]
    assert sampled["estimated"] and sampled["low"] < sampled["value"] < sampled["high"]
    board = CliRunner().invoke(app, ["-w", str(target), "scorecard", "--as-of", END.isoformat(), "--json"])
    [row] = [r for g in json.loads(board.stdout) for r in g["rows"] if r["metric"] == "request_error_ratio"]
    assert (row["low"], row["high"]) == (sampled["low"], sampled["high"])

    report = check_catalog(target)
    assert report.errors == []
    assert lint(report.catalog, today=END) == []
    slos = check_slos(target)
    assert slos.issues == [] and len(slos.specs.slos) == 36  # 30 availability, 6 latency
    assert check_policies(target).issues == []
    status = CliRunner().invoke(app, ["-w", str(target), "slo", "status", "--at", END.isoformat(), "--json"])
    assert status.exit_code == 0, status.output
    assert {i["state"] for i in json.loads(status.stdout)} <= {"ok", "warning", "exhausted", "insufficient_data"}

    again = CliRunner().invoke(app, ["demo", str(target), "--days", "10", "--end", END.isoformat()])
    assert again.exit_code == 1  # refuses to overwrite without --force
    rebuilt = CliRunner().invoke(app, ["demo", str(target), "--days", "10", "--end", END.isoformat(),
                                       "--force", "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.output)["quarantined"] == out["quarantined"]


def test_generation_of_180_days_takes_seconds() -> None:
    import time

    started = time.perf_counter()
    data = generate(days=180, seed=7, end=date(2026, 1, 4))
    assert time.perf_counter() - started < 15
    assert data.tables["sli_events"].num_rows == 180 * 24 * 30 * 2
