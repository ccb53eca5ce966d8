"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes a prometheus_client exporter started here and
remote-writes to a capture server; the captured bodies decode to the exporter's values, and the stale markers
Prometheus writes once the exporter is gone are dropped and counted."""

from __future__ import annotations

import shutil
import subprocess
import time

import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from engmetrics.telemetry.counters import counter_increases
from engmetrics.telemetry.remote_write import decode_write_request
from ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("prometheus") is None,
                                                   reason="Prometheus is not installed (the Makefile installs it)")]




def _decoded(requests) -> tuple[pa.Table, int]:
    parts = [decode_write_request(body) for path, _, body in requests if path == "/api/v1/write"]
    return pa.concat_tables([p.samples for p in parts]), sum(p.stale for p in parts)


def _latest(table: pa.Table) -> dict[str, float]:
    return {row["series"]: row["value"] for row in table.sort_by("ts").to_pylist()}


def test_prometheus_remote_write_delivers_the_exporter_values(tmp_path, capture):
    registry = CollectorRegistry()
    Counter("jobs_processed", "jobs done", registry=registry).inc(7)
    Gauge("queue_depth", "jobs waiting", registry=registry).set(3.5)
    latency = Histogram("request_seconds", "latency", buckets=(0.1, 0.5, 1.0), registry=registry)
    for seconds in (0.05, 0.3, 0.3, 2.0):
        latency.observe(seconds)
    exporter, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    target = f"127.0.0.1:{exporter.server_port}"
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ["{target}"]}}]
remote_write:
  - url: {capture.url}/api/v1/write
    queue_config: {{batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 200ms}}
""")
    began = time.time()
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{free_port()}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"))
    counter = f'jobs_processed_total{{instance="{target}",job="app"}}'
    try:
        assert capture.wait_for(lambda r: r and counter in _latest(_decoded(r)[0]), timeout=60), (
            (tmp_path / "prometheus.log").read_text())
        exporter.shutdown()  # the next scrape fails: Prometheus marks the target's series stale
        assert capture.wait_for(lambda r: _decoded(r)[1] > 0, timeout=30)
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
    path, headers, _ = capture.requests[0]
    assert (path, headers["content-encoding"], headers["content-type"]) == (
        "/api/v1/write", "snappy", "application/x-protobuf")
    assert headers["x-prometheus-remote-write-version"].startswith("0.1")
    table, stale = _decoded(capture.requests)
    values = _latest(table.filter(pa.compute.not_equal(table.column("metric"), "up")))
    labels = f'instance="{target}",job="app"'
    # buckets are cumulative: 0.05 <= 0.1; 0.05, 0.3, 0.3 <= 0.5 and <= 1; all four <= +Inf
    assert {k: v for k, v in values.items() if k.startswith(("jobs_", "queue_", "request_"))
            and "created" not in k} == {
        counter: 7.0,
        f"queue_depth{{{labels}}}": 3.5,
        f'request_seconds_bucket{{{labels},le="0.1"}}': 1.0,
        f'request_seconds_bucket{{{labels},le="0.5"}}': 3.0,
        f'request_seconds_bucket{{{labels},le="1.0"}}': 3.0,
        f'request_seconds_bucket{{{labels},le="+Inf"}}': 4.0,
        f"request_seconds_count{{{labels}}}": 4.0,
        f"request_seconds_sum{{{labels}}}": pytest.approx(2.65),  # 0.05 + 0.3 + 0.3 + 2.0
    }
    up = table.filter(pa.compute.equal(table.column("metric"), "up")).sort_by("ts").column("value").to_pylist()
    assert up[0] == 1.0 and up[-1] == 0.0  # the failed scrape after the exporter stopped
    assert stale >= 8  # at least the 8 series above went stale with their target
    seconds = table.column("ts").cast("int64").to_numpy() / 1e6
    assert began - 5 <= seconds.min() and seconds.max() <= time.time() + 5
    assert set(table.column("labels").to_pylist()) >= {f'{{"instance": "{target}", "job": "app"}}'}
    scraped = table.filter(pa.compute.equal(table.column("metric"), "jobs_processed_total"))
    increases = counter_increases(scraped).column("increase").to_pylist()
    assert len(increases) == scraped.num_rows - 1 and set(increases) <= {0.0}  # 7 every scrape: no increase
