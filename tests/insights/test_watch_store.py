"""`engmetrics watch` and the store: a locked store fails the cycle (reported, not raised) and the next cycle
runs; a bounded CLI run with such a cycle exits 1 without a traceback; the evaluation job is
`evaluate_and_store`, the function `engmetrics metrics evaluate` uses (hand-checked values)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engmetrics.catalog.evaluate import evaluate_and_store
from engmetrics.governance.archive import history, record_definitions
from engmetrics.insights.watch import run_cycle, watch_loop
from engmetrics.settings import load_settings
from engmetrics.store import Store

AS_OF = date(2026, 3, 31)  # weekly: current 25..31 March, previous 18..24 March
NOW = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)  # yesterday (UTC) is the as-of day
DEPLOYMENTS = """deployment_id,service,environment,started_at,status
d1,pay,production,2026-03-25T10:00:00Z,success
d2,pay,production,2026-03-26T10:00:00Z,success
d3,pay,production,2026-03-27T10:00:00Z,failure
d4,pay,production,2026-03-28T10:00:00Z,success
d5,pay,production,2026-03-29T10:00:00Z,success
d6,pay,production,2026-03-30T10:00:00Z,failure
d7,pay,staging,2026-03-30T11:00:00Z,success
p1,pay,production,2026-03-18T10:00:00Z,success
p2,pay,production,2026-03-19T10:00:00Z,success
p3,pay,production,2026-03-20T10:00:00Z,success
p4,pay,production,2026-03-21T10:00:00Z,success
p5,pay,production,2026-03-24T10:00:00Z,success
"""

def _only(settings, **jobs):
    """`settings` with only the named watch jobs on and a short lock wait."""
    off = {"evaluate": False, "anomalies": False, "slo_alerts": False, "budgets": False}
    watch = settings.insights.watch.model_copy(update={**off, **jobs})
    insights = settings.insights.model_copy(update={"watch": watch})
    return settings.model_copy(update={"insights": insights, "store_lock_timeout": 0.2})


def test_a_locked_store_is_the_cycles_error_and_the_next_cycle_runs(workspace):
    settings = _only(load_settings(workspace), evaluate=True)
    held = Store.open(settings.store_url)  # another opener holds the write lock (flock: per open file)
    cycles = watch_loop(settings, interval=0, max_runs=2, stop=threading.Event())
    first = next(cycles)
    [error] = first.errors
    assert error["job"] == "store" and error["error"].startswith("StoreLockedError: the store ")
    assert "is in use by another engmetrics process" in error["error"] and "waited 0.2s" in error["error"]
    assert (first.evaluated, first.deliveries, first.finished_at is not None) == (None, [], True)
    held.close()
    second = next(cycles)
    assert (second.run, second.errors, second.evaluated) == (2, [], 2)  # the example catalog's two indicators
    assert list(cycles) == []


def test_a_bounded_run_with_a_locked_cycle_exits_1_without_a_traceback(workspace):
    store_file = workspace / ".engmetrics" / "store.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGMETRICS_")}
    env["ENGMETRICS_STORE_LOCK_TIMEOUT"] = "0.3"
    command = [str(Path(sys.executable).with_name("engmetrics")), "-w", str(workspace), "watch", "--once", "--json"]
    with Store.open(f"duckdb://{store_file}"):  # this process holds the lock; the watcher is another process
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    assert line["errors"] == [{"job": "store", "error": (
        f"StoreLockedError: the store {store_file} is in use by another engmetrics process (pid {os.getpid()}); "
        "waited 0.3s (raise store_lock_timeout to wait longer)")}]


def test_evaluate_and_store_archives_evaluates_and_saves(workspace, store, write, ingest):
    ingest("deployments", write("deployments.csv", DEPLOYMENTS))
    results = evaluate_and_store(store, workspace, AS_OF, at=NOW)
    # deployment_frequency: successful production deploys, 25..31 March d1 d2 d4 d5 = 4 (d7 is staging);
    # previous week (18..24 March) p1..p5 = 5. change_failure_rate: failures / production deploys =
    # d3 d6 / d1..d6 = 2/6 = 1/3 (6 >= min_sample 5); previous 0/5 = 0.
    got = {r.metric: (r.value, r.previous, r.period_start, r.period_end) for r in results}
    assert got == {"deployment_frequency": (4.0, 5.0, date(2026, 3, 25), AS_OF),
                   "change_failure_rate": (pytest.approx(1 / 3), 0.0, date(2026, 3, 25), AS_OF)}
    stored = store.sql.execute(
        "SELECT metric, value, previous, as_of FROM _metric_results ORDER BY metric").fetchall()
    assert stored == [("change_failure_rate", pytest.approx(1 / 3), 0.0, AS_OF),
                      ("deployment_frequency", 4.0, 5.0, AS_OF)]
    [archived] = history(store, "indicator", "deployment_frequency")
    assert archived.effective_at == NOW  # recorded at the given instant
    assert record_definitions(store, workspace) == []  # already archived: nothing new


def test_the_watch_evaluation_stores_what_metrics_evaluate_stores(workspace, write, cli):
    assert cli("ingest", "deployments", write("deployments.csv", DEPLOYMENTS)).exit_code == 0
    summary = run_cycle(_only(load_settings(workspace), evaluate=True), now=NOW)
    assert (summary.errors, summary.evaluated) == ([], 2)
    with Store.open(load_settings(workspace).store_url, read_only=True) as store:
        by_watch = store.sql.execute("SELECT metric, value, previous, status, definition_version, as_of "
                                     "FROM _metric_results ORDER BY metric").fetchall()
    evaluated = cli("metrics", "evaluate", "--as-of", AS_OF, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    by_cli = sorted((r["metric"], r["value"], r["previous"], r["status"], r["definition_version"],
                     date.fromisoformat(r["as_of"])) for r in json.loads(evaluated.stdout))
    assert by_watch == by_cli
    # 1/3 of changes failed (red: at least 0.3) and 4 deploys a week (amber: 2 <= x < 5)
    assert [(m, s) for m, _, _, s, _, _ in by_cli] == [("change_failure_rate", "red"),
                                                       ("deployment_frequency", "amber")]
