"""One writer at a time: others wait up to store_lock_timeout, then fail naming the store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engmetrics.errors import StoreLockedError
from engmetrics.store import Store


def test_second_writer_waits_then_fails_naming_the_store(cli, workspace, write, monkeypatch):
    store_file = workspace / ".engmetrics" / "store.duckdb"
    monkeypatch.setenv("ENGMETRICS_STORE_LOCK_TIMEOUT", "0.5")
    path = write("h.csv", "calendar,date,name\nuk,2026-12-25,Christmas\n")
    with Store.open(f"duckdb://{store_file}"):
        started = time.monotonic()
        result = cli("ingest", "holidays", path, "--json")
        waited = time.monotonic() - started
    assert result.exit_code == 1
    assert waited >= 0.5
    assert f"the store {store_file} is in use by another engmetrics process" in result.stderr
    assert "waited 0.5s" in result.stderr
    # once the writer is gone the same command works
    assert cli("ingest", "holidays", path, "--json").exit_code == 0


def test_writer_gets_the_lock_when_released_within_the_timeout(tmp_path):
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    first = Store.open(url)
    with pytest.raises(StoreLockedError):
        Store.open(url, lock_timeout=0.1)
    first.close()
    with Store.open(url, lock_timeout=0.1) as second:
        assert second.count("holidays") == 0


def test_readers_share_but_exclude_a_writer(tmp_path):
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    Store.open(url).close()
    with Store.open(url, read_only=True) as r1, Store.open(url, read_only=True, lock_timeout=0.1) as r2:
        assert r1.count("holidays") == r2.count("holidays") == 0
        with pytest.raises(StoreLockedError, match=r"store\.duckdb is in use"):
            Store.open(url, lock_timeout=0.1)
    with Store.open(url) as writer, pytest.raises(StoreLockedError):
        Store.open(url, read_only=True, lock_timeout=0.1)
    del writer


def test_read_only_store_refuses_writes(tmp_path):
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    Store.open(url).close()
    with Store.open(url, read_only=True) as store, pytest.raises(Exception, match="read-only"):
        store.sql.execute("INSERT INTO holidays VALUES ('uk', DATE '2026-12-25', 'x')")


def test_second_process_waits_then_fails(workspace, write):
    store_file = workspace / ".engmetrics" / "store.duckdb"
    path = write("h.csv", "calendar,date,name\nuk,2026-12-25,Christmas\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGMETRICS_")}
    env["ENGMETRICS_STORE_LOCK_TIMEOUT"] = "0.5"
    with Store.open(f"duckdb://{store_file}") as held:
        done = subprocess.run([str(Path(sys.executable).with_name("engmetrics")), "-w", str(workspace),
                               "ingest", "holidays", str(path)], env=env, capture_output=True, text=True,
                              timeout=60)
        assert held.count("holidays") == 0
    assert done.returncode == 1
    assert f"the store {store_file} is in use by another engmetrics process (pid {os.getpid()})" in done.stderr
    assert "Traceback" not in done.stderr
