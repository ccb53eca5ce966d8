"""`engmetrics watch`: a real webhook receiver gets the Slack payloads of a firing SLO alert and an anomaly; a
second run sends nothing new; bounded runs, intervals (a bad one in engmetrics.yaml is bad input naming the file),
a failed delivery reported as the cycle's error, and a clean stop on SIGTERM with the lock released."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engmetrics.insights.config import interval_seconds
from engmetrics.insights.watch import run_cycle
from engmetrics.settings import load_settings
from engmetrics.store import Store

SLO = """apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  service: checkout
  indicator:
    metadata: {name: checkout-availability-sli}
    spec:
      ratioMetric:
        good:
          {metricSource: {type: engmetrics, spec: {dataset: sli_events,
            service: checkout, indicator: availability, column: good}}}
        total:
          {metricSource: {type: engmetrics, spec: {dataset: sli_events,
            service: checkout, indicator: availability, column: total}}}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: requests served
      target: 0.999
"""


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A local webhook on 127.0.0.1 recording each JSON body it is posted."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    server.shutdown()
    server.server_close()


@pytest.fixture
def watched(workspace, receiver):
    """The workspace with a webhook, checkout's availability SLO and 30 days of hourly SLI events up to now:
    0.05 % errors, then 20 % from the start of yesterday (UTC): yesterday is an anomaly and every burn-rate
    window is far above its factor."""
    url, _ = receiver
    text = (workspace / "engmetrics.yaml").read_text()
    hook = f"  webhooks: [{{name: ops, url: {url}}}]"
    (workspace / "engmetrics.yaml").write_text(text.replace("  webhooks: []", hook))
    (workspace / "slos").mkdir(exist_ok=True)
    (workspace / "slos" / "checkout.yaml").write_text(SLO)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    bad_from = datetime.combine(now.date() - timedelta(days=1), datetime.min.time(), UTC)
    rows = []
    for h in range(30 * 24, -1, -1):
        ts = now - timedelta(hours=h)
        rows.append(["checkout", "availability", ts, 8000.0 if ts >= bad_from else 9995.0, 10000.0])
    with Store.open(load_settings(workspace).store_url) as store:
        store.sql.executemany("INSERT INTO sli_events (service, indicator, ts, good, total) VALUES (?, ?, ?, ?, ?)",
                              rows)
    return workspace


def _lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _contexts(bodies: list[dict]) -> list[str]:
    return [b["blocks"][-1]["elements"][0]["text"] for b in bodies]


def test_slo_and_anomaly_alerts_reach_the_webhook_once(watched, receiver, cli):
    _, bodies = receiver
    first = cli("watch", "--once", "--json")
    assert first.exit_code == 0, first.output
    [summary] = _lines(first)
    assert summary["run"] == 1 and summary["errors"] == []
    assert summary["evaluated"] >= 1 and summary["findings"] >= 1
    contexts = _contexts(bodies)
    day = datetime.now(UTC).date().isoformat()
    slo = [c for c in contexts if c.startswith("engmetrics slo · slo:checkout-availability:requests served:28d:")]
    assert slo and all(c.endswith(f":{day}") for c in slo)
    anomalies = [c for c in contexts if c.startswith("engmetrics anomaly · anomaly:")]
    assert anomalies
    assert any("sli:checkout/availability" in b["text"] for b in bodies if b["text"].startswith("Anomaly"))
    assert summary["alerts"] == {"sent": len(bodies), "duplicate": 0, "failed": 0}
    page = next(b for b in bodies if "SLO checkout-availability" in b["text"])
    assert [blk["type"] for blk in page["blocks"]] == ["header", "section", "section", "context"]
    assert "burning its error budget" in page["blocks"][0]["text"]["text"]

    second = cli("watch", "--once", "--json")
    assert second.exit_code == 0, second.output
    [again] = _lines(second)
    assert again["alerts"] == {"sent": 0, "duplicate": len(bodies), "failed": 0}
    assert len(_contexts(bodies)) == len(contexts)  # nothing new reached the receiver


def test_max_runs_with_no_wait_runs_twice(watched, cli):
    result = cli("watch", "--max-runs", "2", "--interval", "0s", "--json")
    assert result.exit_code == 0, result.output
    lines = _lines(result)
    assert [s["run"] for s in lines] == [1, 2]
    assert lines[1]["alerts"]["sent"] == 0 and lines[1]["alerts"]["duplicate"] == lines[0]["alerts"]["sent"]
    assert set(lines[0]) == {"run", "started_at", "finished_at", "evaluated", "findings", "alerts", "deliveries",
                             "errors"}


def test_jobs_can_be_switched_off_and_the_table_output(watched, cli):
    text = (watched / "engmetrics.yaml").read_text()
    (watched / "engmetrics.yaml").write_text(text.replace(
        "  watch:\n", "  watch:\n    anomalies: false\n    evaluate: false\n", 1).replace("    anomalies: true\n", "")
        .replace("    evaluate: true\n", ""))
    result = cli("watch", "--once")
    assert result.exit_code == 0, result.output
    assert "run 1" in result.stdout and "evaluated -, findings -" in result.stdout


def test_intervals():
    assert interval_seconds("0s") == interval_seconds("00m") == 0
    assert interval_seconds("15m") == 900 and interval_seconds("1h30m") == 5400
    with pytest.raises(ValueError, match="invalid duration"):
        interval_seconds("soon")


def test_a_bad_interval_is_a_usage_error(workspace, cli):
    result = cli("watch", "--once", "--interval", "soon")
    assert result.exit_code == 2 and "--interval" in result.output


def test_sigterm_stops_between_cycles_and_the_lock_is_free_while_waiting(watched):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGMETRICS_")}
    command = [str(Path(sys.executable).with_name("engmetrics")), "-w", str(watched), "watch", "--interval", "1h",
               "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()  # the first cycle is done
        assert json.loads(line)["run"] == 1, proc.stderr.read()
        with Store.open(load_settings(watched).store_url, lock_timeout=2) as store:  # not held between cycles
            assert store.count("_notifications") >= 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stdout.read() == ""  # no second cycle
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("bad", ["0h0m", "0ms", "soon"])
def test_a_bad_interval_in_the_settings_is_bad_input_naming_the_file_and_line(workspace, cli, bad):
    # `0h0m` has the form of a duration but is zero written with two units: `interval_seconds` refuses it, so
    # loading the settings does (exit 1, the file and line), not the --interval option (exit 2).
    path = workspace / "engmetrics.yaml"
    text = path.read_text()
    line = text[:text.index("    interval: 1h\n")].count("\n") + 1
    path.write_text(text.replace("    interval: 1h\n", f"    interval: {bad}\n"))
    result = cli("watch", "--once")
    assert result.exit_code == 1, result.output
    assert f"engmetrics.yaml:{line}" in result.output and "setting insights.watch.interval" in result.output
    assert "invalid duration" in result.output and "--interval" not in result.output


def test_a_failed_delivery_is_the_cycles_error_not_a_crash(watched, receiver):
    # The dedup table is gone (a damaged store): the SLO alert cannot be checked or recorded. The cycle reports
    # `deliver` and returns; nothing reached the webhook.
    settings = load_settings(watched)
    with Store.open(settings.store_url) as store:
        store.sql.execute("DROP TABLE _notifications")
    off = settings.insights.watch.model_copy(update={"evaluate": False, "anomalies": False, "budgets": False})
    summary = run_cycle(settings.model_copy(update={"insights": settings.insights.model_copy(update={"watch": off})}))
    [error] = summary.errors
    assert error["job"] == "deliver" and "_notifications" in error["error"]
    assert summary.deliveries == [] and receiver[1] == []
