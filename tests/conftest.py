"""Shared fixtures: an in-memory store, file writing, ingestion with a fixed key, a workspace, the CLI, a
PySpark session and a running `engmetrics serve` (`serve_workspace`)."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.ingest import ingest_files
from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.store.inventory import quarantine_rows
from engmetrics.workspace import init_workspace

KEY = bytes(range(32))  # the pseudonymisation key of in-memory tests


@pytest.fixture(autouse=True)
def _no_engmetrics_env(monkeypatch):
    """Tests never see the developer's ENGMETRICS_* settings."""
    for name in list(os.environ):
        if name.startswith("ENGMETRICS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        yield s


@pytest.fixture
def write(tmp_path):
    """write(name, text_or_bytes) -> path; a name ending in .gz is gzip-compressed."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return path

    return _write


@pytest.fixture
def ingest(store):
    """ingest(dataset, *files, **options) into the in-memory store, with KEY."""

    def _ingest(dataset: str, *files: Path, **options):
        options.setdefault("pseudonym_key", KEY)
        return ingest_files(store, dataset, list(files), **options)

    return _ingest


@pytest.fixture
def rows(store):
    """rows(sql) -> list of tuples from the in-memory store."""
    return lambda sql, *params: store.sql.execute(sql, list(params)).fetchall()


@pytest.fixture
def quarantined(store):
    """quarantined(dataset) -> quarantine rows of the in-memory store, ordered by line."""
    return lambda dataset=None: sorted(quarantine_rows(store, dataset), key=lambda r: (r["source_file"], r["line"]))


@pytest.fixture
def workspace(tmp_path) -> Path:
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def workspace_store(workspace: Path):
    """The workspace's store, open for writing; closed after the test."""
    with Store.open(load_settings(workspace).store_url) as opened:
        yield opened


@pytest.fixture
def cli(workspace):
    """cli(*args) runs `engmetrics -w WORKSPACE *args` in process."""
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["-w", str(workspace), *[str(a) for a in args]])


@pytest.fixture(scope="session")
def spark_session():
    """One local PySpark session (UTC) for every portability test; skipped without PySpark or Java."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("PySpark needs Java (Debian package default-jre-headless; `make test` installs it)")
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("engmetrics-tests")
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@contextmanager
def _serving(workspace: Path | str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).with_name("engmetrics")), "-w", str(workspace), "serve",
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "engmetrics serve exited early"
            assert time.monotonic() < deadline, "engmetrics serve did not answer /healthz within 30 s"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="session")
def serve_workspace() -> Callable[[Path | str], AbstractContextManager[str]]:
    """`with serve_workspace(workspace) as base:` runs `engmetrics serve` over `workspace` on a free local port
    and gives its base URL once `/healthz` answers (at most 30 s); the server stops when the block ends."""
    return _serving
