"""`engmetrics telemetry import-prometheus` against a real Prometheus (Debian's /usr/bin/prometheus) that scrapes a
prometheus_client exporter every second while the test increments its counters, observes its histogram, and
restarts it (a counter reset). The imported good/total counts are checked against what the test did."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from engmetrics.settings import load_settings
from engmetrics.store import Store
from ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("prometheus") is None,
                                                   reason="Prometheus is not installed (the Makefile installs it)")]




def _exporter(port: int, ok: float, failed: float, observations: tuple[float, ...]):
    """An exporter on `port` whose jobs_total{outcome} and request_seconds already hold these values."""
    registry = CollectorRegistry()
    jobs = Counter("jobs", "jobs done", ["outcome"], registry=registry)
    jobs.labels("ok").inc(ok)
    jobs.labels("failed").inc(failed)
    latency = Histogram("request_seconds", "latency", buckets=(0.1, 0.5, 1.0), registry=registry)
    for seconds in observations:
        latency.observe(seconds)
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server, jobs, latency


def _values(prometheus: str, query: str) -> dict[str, float]:
    with urlopen(f"{prometheus}/api/v1/query?{urlencode({'query': query})}", timeout=5) as response:
        result = json.load(response)["data"]["result"]
    return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in result}


def _wait(prometheus: str, query: str, expected: set[float], log, timeout: float = 60) -> None:
    """Until `query` gives exactly the values `expected` (one per series), then two more scrapes."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if set(_values(prometheus, query).values()) == expected:
                time.sleep(2.2)
                return
        except OSError:
            pass  # Prometheus is still starting
        time.sleep(0.2)
    raise AssertionError(f"{query} never gave {expected}: {log.read_text()}")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """Prometheus scraping an exporter every second while: both counters start at 0, then ok += 5, failed += 2
    and the histogram observes 0.05, 0.3, 0.3, 2.0; then the exporter restarts with ok = 3, failed = 0 and one
    observation of 0.2 (every series resets). Yields (Prometheus URL, start, end) in Unix seconds."""
    folder = tmp_path_factory.mktemp("prometheus")
    started = time.time()
    port = free_port()
    server, jobs, latency = _exporter(port, 0, 0, ())
    (folder / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
""")
    listen = f"127.0.0.1:{free_port()}"
    url = f"http://{listen}"
    log = folder / "prometheus.log"
    process = subprocess.Popen(
        ["prometheus", f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address={listen}", "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        _wait(url, "jobs_total", {0.0}, log)
        jobs.labels("ok").inc(5)
        jobs.labels("failed").inc(2)
        for seconds in (0.05, 0.3, 0.3, 2.0):
            latency.observe(seconds)
        _wait(url, "jobs_total", {5.0, 2.0}, log)
        server.shutdown()
        server.server_close()
        server, _, _ = _exporter(port, 3, 0, (0.2,))
        _wait(url, "jobs_total", {3.0, 0.0}, log)
        yield url, int(started) - 5, int(time.time()) + 1
    finally:
        process.terminate()
        process.wait(timeout=20)
        server.shutdown()
        server.server_close()


def _import(cli, url: str, *args: object) -> dict:
    out = cli("telemetry", "import-prometheus", "--url", url, *args, "--json")
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def _rows(workspace, sql: str) -> list[tuple]:
    with Store.open(load_settings(workspace).store_url) as store:
        return store.sql.execute(sql).fetchall()


def test_counters_become_good_and_total_per_step_across_a_reset(cli, workspace, prometheus):
    url, start, end = prometheus
    window = ("--from", start, "--to", end, "--step", "1s", "--into", "sli_events", "--service", "shop")
    got = _import(cli, url, "--query", "jobs_total", "--good-query", 'jobs_total{outcome="ok"}', *window,
                  "--indicator", "jobs")
    # ok: 0 -> 5, reset, 3: 8 good; failed: 0 -> 2, reset to 0: 2; total 10. Without reset handling ok would
    # give 5 + (3 - 5) = 3.
    assert (got["good"], got["total"]) == (8.0, 10.0)
    assert (got["into"], got["service"], got["indicator"], got["step_seconds"]) == ("sli_events", "shop", "jobs", 1)
    assert got["series"] == 3 and got["requests"] == 2  # two series of the total query, one of the good one
    assert got["ingest"]["inserted"] == got["buckets"] == got["ingest"]["read"] > 3
    rows = _rows(workspace, "SELECT epoch(ts), good, total FROM sli_events WHERE indicator = 'jobs' ORDER BY ts")
    assert len(rows) == got["buckets"] and sum(r[1] for r in rows) == 8 and sum(r[2] for r in rows) == 10
    seconds = [r[0] for r in rows]
    assert all(s == int(s) for s in seconds) and start <= min(seconds) and max(seconds) < end  # the 1 s grid
    assert [r[1:] for r in rows if r[2]] == [(5.0, 7.0), (3.0, 3.0)]  # the increments, then the restart
    bad = _import(cli, url, "--query", "jobs_total", "--bad-query", 'jobs_total{outcome="failed"}', *window,
                  "--indicator", "jobs_bad")
    assert (bad["good"], bad["total"], bad["buckets"]) == (8.0, 10.0, got["buckets"])
    again = _import(cli, url, "--query", "jobs_total", "--good-query", 'jobs_total{outcome="ok"}', *window,
                    "--indicator", "jobs")
    assert again["ingest"]["unchanged"] == got["buckets"] and again["ingest"]["inserted"] == 0  # same buckets


def test_a_histogram_becomes_good_and_total_for_a_latency_threshold(cli, workspace, prometheus):
    url, start, end = prometheus
    window = ("--from", start, "--to", end, "--step", "1s", "--into", "sli_events", "--service", "shop",
              "--indicator", "latency")
    # before the restart 0.05, 0.3, 0.3 of 4 were at most 0.5 s; after it 0.2 of 1
    got = _import(cli, url, "--query", 'request_seconds{job="app"}', "--le", "0.5", *window)
    assert (got["good"], got["total"]) == (4.0, 5.0)
    assert _rows(workspace, "SELECT sum(good), sum(total) FROM sli_events") == [(4.0, 5.0)]
    assert _import(cli, url, "--query", "request_seconds", "--le", "0.1", *window)["good"] == 1.0  # 0.05
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "request_seconds", "--le", "0.3", *window)
    assert out.exit_code == 1 and "no bucket with le=0.3; the bucket bounds are: 0.1, 0.5, 1, inf" in out.output


def test_samples_import_splits_ranges_over_11000_points(cli, workspace, prometheus):
    url, _, end = prometheus
    start = end - 4 * 3600  # 14,401 points at 1 s: two requests
    got = _import(cli, url, "--query", "jobs_total", "--from", start, "--to", end, "--step", "1s")
    assert (got["requests"], got["series"], got["into"]) == (2, 2, "telemetry_samples")
    assert got["ingest"]["inserted"] == got["samples"] == got["ingest"]["read"]
    rows = _rows(workspace, "SELECT series, value, source, received_at FROM telemetry_samples ORDER BY series, ts")
    instance = json.loads(next(iter(_values(url, "jobs_total"))))["instance"]
    ok = [v for s, v, _, _ in rows if s == f'jobs_total{{instance="{instance}",job="app",outcome="ok"}}']
    assert [v for i, v in enumerate(ok) if i == 0 or v != ok[i - 1]] == [0.0, 5.0, 3.0]  # as Prometheus saw it
    assert {(src, rec) for _, _, src, rec in rows} == {(f"prometheus:{url.split('//')[1]}", None)}
    assert len(rows) == got["samples"]


def test_nameless_results_need_a_metric_name(cli, workspace, prometheus):
    url, start, end = prometheus
    window = ("--from", start, "--to", end, "--step", "5s")
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "sum(jobs_total)", *window)
    assert out.exit_code == 1 and "has no metric name" in out.output and "--metric" in out.output
    got = _import(cli, url, "--query", "sum(jobs_total)", "--metric", "jobs_sum", *window)
    assert got["series"] == 1
    assert {s for s, in _rows(workspace, "SELECT DISTINCT series FROM telemetry_samples")} == {"jobs_sum"}
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "sum(jobs_total)", "--metric", "jobs_sum",
              *window)  # again, as a table: the same rows, unchanged
    assert out.exit_code == 0 and f"{got['samples']} points of 1 series in 1 request(s)" in out.output
    assert f"+ unchanged {got['samples']} +" in out.output


def test_errors_from_prometheus_are_clear(cli, prometheus):
    url, start, end = prometheus
    window = ("--from", start, "--to", end, "--step", "1s")
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "sum(", *window)
    assert out.exit_code == 1
    assert f"Prometheus at {url}/api/v1/query_range refused the query 'sum(': (bad_data)" in out.output
    out = cli("telemetry", "import-prometheus", "--url", f"http://127.0.0.1:{free_port()}", "--query", "up", *window)
    assert out.exit_code == 1 and "cannot reach Prometheus" in out.output
    out = cli("telemetry", "import-prometheus", "--url", url + "/nothing", "--query", "up", *window)
    assert out.exit_code == 1 and "HTTP 404" in out.output
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "up", "--from", end, "--to", start)
    assert out.exit_code == 1 and "must be after --from" in out.output
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "up", *window, "--into", "sli_events",
              "--service", "s", "--indicator", "i")
    assert out.exit_code == 1 and "exactly one of --good-query and --bad-query" in out.output
    out = cli("telemetry", "import-prometheus", "--url", url, "--query", "up", *window, "--into", "alerts")
    assert out.exit_code == 2


def test_a_range_query_at_the_limit_is_one_request(prometheus):
    """11,000 points (10,999 steps) is what Prometheus accepts in one query; 11,001 need two."""
    from engmetrics.telemetry.prom_api import query_range

    url, _, end = prometheus
    at = datetime.fromtimestamp(end, UTC)
    assert query_range(url, "jobs_total", datetime.fromtimestamp(end - 10_999, UTC), at, 1).requests == 1
    assert query_range(url, "jobs_total", datetime.fromtimestamp(end - 11_000, UTC), at, 1).requests == 2


def test_a_query_without_data_writes_nothing(cli, prometheus):
    url, start, end = prometheus
    got = _import(cli, url, "--query", "missing_total", "--good-query", "missing_total", "--from", start, "--to", end,
                  "--step", "1s", "--into", "sli_events", "--service", "s", "--indicator", "i")
    assert (got["series"], got["buckets"], got["good"], got["total"], got["ingest"]["read"]) == (0, 0, 0, 0, 0)
