"""`engmetrics telemetry scrape`: a real prometheus_client exporter and small HTTP servers on 127.0.0.1 are
scraped; the stored samples equal what was exposed, and a target that is down, slow or malformed gets up = 0
with the reason."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.telemetry.config import ScrapeSettings
from engmetrics.telemetry.scrape import scrape_loop
from ports import free_port


@contextmanager
def serving(body: bytes, *, content_type: str = "text/plain; version=0.0.4", status: int = 200, delay: float = 0):
    """A server answering every GET with `body` (after `delay` seconds); yields its /metrics URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a scraper hanging up mid-answer: its traceback would land in the CLI's captured stderr

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def exporter():
    """A prometheus_client exporter: jobs_processed{queue="a"} 7, queue_depth 3.5, request_seconds observed
    0.05, 0.3, 0.3 and 2.0 with buckets 0.1, 0.5, 1; yields (url, instance)."""
    registry = CollectorRegistry()
    Counter("jobs_processed", "jobs done", ["queue"], registry=registry).labels("a").inc(7)
    Gauge("queue_depth", "jobs waiting", registry=registry).set(3.5)
    latency = Histogram("request_seconds", "latency", buckets=(0.1, 0.5, 1.0), registry=registry)
    for seconds in (0.05, 0.3, 0.3, 2.0):
        latency.observe(seconds)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{server.server_port}/metrics", f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _targets(workspace, yaml_lines: str) -> None:
    """engmetrics.yaml of the workspace template with `yaml_lines` as telemetry.scrape.targets."""
    text = (resources.files("engmetrics") / "templates" / "workspace" / "engmetrics.yaml").read_text()
    assert "    targets: []\n" in text
    (workspace / "engmetrics.yaml").write_text(text.replace("    targets: []\n", "    targets:\n" + yaml_lines))


def _query(workspace, sql: str, *params) -> list[tuple]:
    """Rows of `sql` over the workspace's store (opened after the command has closed it)."""
    with Store.open(load_settings(workspace).store_url) as store:
        return store.sql.execute(sql, list(params)).fetchall()


def _stored(workspace, source: str) -> dict[str, tuple[float, str]]:
    rows = _query(workspace, "SELECT series, value, labels FROM telemetry_samples WHERE source = ?", source)
    return {series: (value, labels) for series, value, labels in rows}


def test_scrape_once_stores_the_exporter_values_and_health(cli, workspace, exporter):
    url, instance = exporter
    down = f"127.0.0.1:{free_port()}"
    _targets(workspace, f"""      - name: app
        url: {url}
        labels: {{env: prod}}
      - name: gone
        url: http://{down}/metrics
""")
    began = time.time()
    out = cli("telemetry", "scrape", "--once", "--json")
    assert out.exit_code == 0, out.output
    (run,) = [json.loads(line) for line in out.stdout.splitlines()]
    targets = {t["target"]: t for t in run["targets"]}
    # OpenMetrics: the counter's _total and _created, the gauge, 4 buckets, _count, _sum, _created = 10
    assert (targets["app"]["up"], targets["app"]["samples"], targets["app"]["error"]) == (1, 10, None)
    assert (targets["gone"]["up"], targets["gone"]["samples"]) == (0, 0)
    assert "Connection refused" in targets["gone"]["error"]
    assert 0 <= targets["gone"]["duration_seconds"] < 5
    # 10 samples + 3 health samples of app, 3 health samples of gone
    assert run["ingest"] == {"dataset": "telemetry_samples", "files": ["scrape:app", "scrape:gone"], "read": 16,
                             "inserted": 16, "updated": 0, "unchanged": 0, "quarantined": 0, "dropped": 0,
                             "evicted": 0}
    assert (run["run"], run["error"], run["pending_rows"]) == (1, None, 0)
    app, gone = _stored(workspace, "scrape:app"), _stored(workspace, "scrape:gone")
    times = _query(workspace, "SELECT DISTINCT epoch(ts), epoch(received_at) FROM telemetry_samples "
                              "WHERE source = 'scrape:app'")
    base = f'env="prod",instance="{instance}",job="app"'
    values = {k: v for k, (v, _) in app.items() if "_created" not in k}
    assert values == {
        f'jobs_processed_total{{{base},queue="a"}}': 7.0,
        f"queue_depth{{{base}}}": 3.5,
        f'request_seconds_bucket{{{base},le="0.1"}}': 1.0,  # 0.05
        f'request_seconds_bucket{{{base},le="0.5"}}': 3.0,  # 0.05, 0.3, 0.3
        f'request_seconds_bucket{{{base},le="1.0"}}': 3.0,
        f'request_seconds_bucket{{{base},le="+Inf"}}': 4.0,
        f"request_seconds_count{{{base}}}": 4.0,
        f"request_seconds_sum{{{base}}}": pytest.approx(2.65),  # 0.05 + 0.3 + 0.3 + 2.0
        f'up{{{base},target="app"}}': 1.0,
        f'scrape_samples_scraped{{{base},target="app"}}': 10.0,
        f'scrape_duration_seconds{{{base},target="app"}}': pytest.approx(targets["app"]["duration_seconds"],
                                                                          abs=1e-5),
    }
    assert app[f"queue_depth{{{base}}}"][1] == f'{{"env": "prod", "instance": "{instance}", "job": "app"}}'
    (ts, received), = times  # one scrape: every sample at its start, received then
    assert ts == received and began - 1 <= ts <= time.time()
    assert {k: v for k, (v, _) in gone.items()} == {
        f'up{{instance="{down}",job="gone",target="gone"}}': 0.0,
        f'scrape_samples_scraped{{instance="{down}",job="gone",target="gone"}}': 0.0,
        f'scrape_duration_seconds{{instance="{down}",job="gone",target="gone"}}': pytest.approx(
            targets["gone"]["duration_seconds"], abs=1e-5)}


def test_text_format_keeps_names_timestamps_and_renames_clashing_labels(cli, workspace):
    """Exposed timestamps are kept; one two hours old is beyond the clock policy (max_skew_seconds 3600) and is
    quarantined with the reason."""
    taken = int(time.time()) - 30
    body = (b"# HELP requests Requests.\n# TYPE requests counter\n"
            b'requests{job="exposed",path="/a b"} 12 %d000\n'  # 30 s ago, in ms
            b'requests{job="old"} 1 %d000\n'  # two hours ago
            b'# TYPE temperature gauge\ntemperature{room=""} -1.5e1\n'
            b'# TYPE served_total counter\nserved_total 4\n') % (taken, taken - 7200)
    with serving(body) as url:
        _targets(workspace, f"      - name: web\n        url: {url}\n")
        out = cli("telemetry", "scrape", "--once", "--json")
    assert out.exit_code == 0, out.output
    run = json.loads(out.stdout)
    assert run["targets"][0]["samples"] == 4
    assert (run["ingest"]["read"], run["ingest"]["inserted"], run["ingest"]["quarantined"]) == (7, 6, 1)
    instance = url.split("/")[2]
    rows = _query(workspace, "SELECT series, value, epoch(ts) = epoch(received_at), epoch(ts) FROM telemetry_samples "
                  "WHERE metric NOT IN ('up', 'scrape_duration_seconds', 'scrape_samples_scraped') ORDER BY series")
    assert rows == [
        # typed `counter` without _total: stored as exposed (the parser's _total is undone); its own timestamp
        (f'requests{{exported_job="exposed",instance="{instance}",job="web",path="/a b"}}', 12.0, False, taken),
        (f'served_total{{instance="{instance}",job="web"}}', 4.0, True, rows[1][3]),
        (f'temperature{{instance="{instance}",job="web"}}', -15.0, True, rows[2][3]),  # room="" is no label
    ]
    (reason, source), = _query(workspace, "SELECT reason, source_file FROM _quarantine")
    assert source == "scrape:web" and "clock skew" in reason and "3600 s" in reason


@pytest.mark.parametrize(("body", "status", "delay", "expected"), [
    (b"metric_without_value\n", 200, 0, "invalid Prometheus text exposition"),
    (b"oops", 500, 0, "HTTP 500"),
    (b"slow 1\n", 200, 2.5, "timed out after 1 s"),
])
def test_a_failing_target_is_down_with_the_reason(cli, workspace, body, status, delay, expected):
    with serving(body, status=status, delay=delay) as url:
        _targets(workspace, f"      - name: bad\n        url: {url}\n        timeout: 1s\n")
        out = cli("telemetry", "scrape", "--once", "--json")
    assert out.exit_code == 0, out.output  # a target that is down is data, not an error
    target = json.loads(out.stdout)["targets"][0]
    assert (target["up"], target["samples"]) == (0, 0) and expected in target["error"]
    stored = _query(workspace, "SELECT metric, value FROM telemetry_samples ORDER BY metric")
    assert [m for m, _ in stored] == ["scrape_duration_seconds", "scrape_samples_scraped", "up"]
    assert dict(stored)["up"] == 0.0 and dict(stored)["scrape_samples_scraped"] == 0.0


def test_human_output_and_settings_errors(cli, workspace, exporter):
    out = cli("telemetry", "scrape", "--once")
    assert out.exit_code == 1 and "no scrape targets" in out.output
    _targets(workspace, f"      - name: app\n        url: {exporter[0]}\n")
    out = cli("telemetry", "scrape", "--once")
    assert out.exit_code == 0, out.output
    assert "Scrape run 1" in out.output and "app" in out.output and "inserted 13" in out.output
    assert cli("telemetry", "scrape", "--once", "--interval", "soon").exit_code == 2
    _targets(workspace, "      - name: app\n        url: ftp://x\n")
    out = cli("telemetry", "scrape", "--once")
    assert out.exit_code == 1 and "engmetrics.yaml" in out.output and "url" in out.output


def test_settings_refuse_duplicates_long_timeouts_and_bad_labels():
    target = {"name": "a", "url": "http://127.0.0.1:1/metrics"}
    with pytest.raises(ValueError, match="appear more than once"):
        ScrapeSettings(targets=[target, target])
    with pytest.raises(ValueError, match="timeout 2m is longer than its interval 1m"):
        ScrapeSettings(targets=[{**target, "timeout": "2m"}])
    with pytest.raises(ValueError, match="invalid label name"):
        ScrapeSettings(targets=[{**target, "labels": {"__x": "1"}}])
    with pytest.raises(ValueError, match="invalid duration"):
        ScrapeSettings(interval="often")


def test_loop_runs_on_the_interval_and_keeps_rows_when_the_store_is_locked(tmp_path, exporter):
    """Three runs one second apart; the first write finds the store locked by another holder, so its rows are
    written with the second run (nothing lost)."""
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    Store.open(url).close()  # create it
    holder = Store.open(url)
    opened = []

    @contextmanager
    def open_store():
        opened.append(time.monotonic())
        store = Store.open(url, lock_timeout=0.2)
        try:
            yield store
        finally:
            store.close()

    settings = ScrapeSettings(interval="1s", timeout="1s", targets=[{"name": "app", "url": exporter[0]}])
    runs = []
    for run in scrape_loop(settings, open_store, max_runs=3):
        runs.append(run)
        if run.run == 1:
            holder.close()
    assert [r.run for r in runs] == [1, 2, 3]
    assert isinstance(runs[0].error, str) and "lock" in runs[0].error and runs[0].ingest is None
    assert runs[0].pending_rows == 13  # 10 samples + 3 health samples wait for the next run
    assert runs[1].ingest.read == 26 and runs[1].pending_rows == 0 and runs[2].ingest.read == 13
    starts = [r.started_at.timestamp() for r in runs]
    assert 0.8 <= starts[1] - starts[0] <= 1.6 and 0.8 <= starts[2] - starts[1] <= 1.6
    with Store.open(url) as store:
        (scrapes,), = store.sql.execute("SELECT count(DISTINCT ts) FROM telemetry_samples WHERE metric = 'up'"
                                        ).fetchall()
    assert scrapes == 3
