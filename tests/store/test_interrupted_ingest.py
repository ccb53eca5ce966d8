"""A killed `engmetrics ingest` leaves the store exactly as it was before that batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.errors import StoreLockedError
from engmetrics.store import Store

ENGMETRICS = Path(sys.executable).with_name("engmetrics")


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_killed_ingest_leaves_the_store_as_before(workspace, tmp_path):
    store_file = workspace / ".engmetrics" / "store.duckdb"
    small = tmp_path / "small.csv"
    small.write_text("service,indicator,ts,good,total\n"
                     "s,a,2026-01-01T00:00:00Z,1,2\ns,b,2026-01-01T00:00:00Z,2,2\n"
                     "s,c,2026-01-01T00:00:00Z,3,2\n")  # line 4: good > total, quarantined
    done = CliRunner().invoke(app, ["-w", str(workspace), "ingest", "sli_events", str(small), "--json"])
    assert done.exit_code == 0, done.output

    big = tmp_path / "big.csv"  # 3 million rows, every 1000th invalid: runs for several seconds
    duckdb.sql(f"""COPY (SELECT 'svc' || (i % 50) AS service, 'ind' || (i // 50) AS indicator,
                   '2026-01-01T00:00:00Z' AS ts, CASE WHEN i % 1000 = 0 THEN 3 ELSE 1 END AS good, 2 AS total
                   FROM range(3000000) t(i)) TO '{big}' (HEADER)""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGMETRICS_")}
    proc = subprocess.Popen([str(ENGMETRICS), "-w", str(workspace), "ingest", "sli_events", str(big), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        lock = store_file.with_name("store.duckdb.lock")
        # The writer holds the lock once its pid is in the lock file; then let it work for a second.
        _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(proc.pid), 30, "the ingest to start")
        time.sleep(1.0)
        assert proc.poll() is None, "the ingest finished before it could be killed; make the file bigger"
        # Readers wait for the writer: they never see a half-written batch.
        with pytest.raises(StoreLockedError):
            Store.open(f"duckdb://{store_file}", read_only=True, lock_timeout=0.2)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    with Store.open(f"duckdb://{store_file}", read_only=True, lock_timeout=5) as store:
        assert store.sql.execute("SELECT indicator FROM sli_events ORDER BY 1").fetchall() == [("a",), ("b",)]
        assert store.sql.execute("SELECT line, reason FROM _quarantine").fetchall() == [
            (4, "good: good is greater than total")]
        assert store.count("_ingests") == 1
    # and the store still takes writes
    again = CliRunner().invoke(app, ["-w", str(workspace), "ingest", "sli_events", str(small), "--json"])
    assert again.exit_code == 0, again.output
    assert '"unchanged": 2' in again.stdout
