"""Real clients pushing to a real `engmetrics serve`: two Debian Prometheus servers scraping one exporter and
remote-writing with their own tokens (a duplicated pipeline: kept once, the overlap listed), the OpenTelemetry
SDK's OTLP/HTTP exporter, a burst that fills a small queue (429 + Retry-After, retried, nothing lost), and a
server killed right after its 2xx answers (what was answered is in the store). Every token has the push-only
role `telemetry-pusher`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily

from engmetrics.auth.tokens import create_token
from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.telemetry.dedup import overlaps
from engmetrics.telemetry.remote_write import encode_write_request
from ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("prometheus") is None,
                                                   reason="Prometheus is not installed (the Makefile installs it)")]
STEP = 5  # the fixed gauge's timestamps: whole multiples of 5 s, so both Prometheus servers see the same ones




class FixedClock:
    """A collector exposing `pipeline_gauge` with its own timestamp (the last multiple of STEP seconds) and
    the value ts / STEP mod 1000: whoever scrapes within one step gets the same sample."""

    def collect(self):
        ts = int(time.time()) // STEP * STEP
        family = GaugeMetricFamily("pipeline_gauge", "a gauge with exporter timestamps")
        family.add_metric([], float(ts // STEP % 1000), timestamp=ts)
        yield family


@pytest.fixture
def served(workspace, tmp_path):
    """A running `engmetrics serve` with a small queue and prom-a before prom-b; yields (url, tokens, store url)."""
    config = workspace / "engmetrics.yaml"
    data = yaml.safe_load(config.read_text())
    data["telemetry"]["receivers"].update(max_queued_samples=5000, source_priority=["remote_write:prom-a"])
    config.write_text(yaml.safe_dump(data))
    store_url = load_settings(workspace).store_url
    with Store.open(store_url) as store:
        tokens = {user: create_token(store, "telemetry-pusher", user=user).token  # the push-only role
                  for user in ("prom-a", "prom-b", "otel")}
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).with_name("engmetrics")), "-w", str(workspace), "serve",
                               "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    try:
        yield url, tokens, server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)


def _stop(server: subprocess.Popen, log: Path) -> None:
    """SIGTERM: the server drains its queue into the store and releases it (uvicorn then re-raises the
    signal, so the exit status is -15 after a complete shutdown)."""
    server.terminate()
    assert server.wait(timeout=60) in (0, -15)
    assert "Application shutdown complete." in log.read_text()


def _prometheus(tmp_path: Path, name: str, target: str, url: str, token: str) -> subprocess.Popen:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ["{target}"]}}]
remote_write:
  - url: {url}/api/v1/write
    authorization: {{credentials: {token}}}
    queue_config: {{batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 500ms, retry_on_http_429: true}}
""")
    return subprocess.Popen(
        ["prometheus", f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{free_port()}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=(folder / "log").open("w"))


def _status(url: str, token: str) -> dict[str, int]:
    return httpx.get(f"{url}/api/v1/receivers/status", headers={"Authorization": f"Bearer {token}"},
                     timeout=10).json()


def _otel_push(url: str, token: str) -> None:
    """The SDK records known values and exports them once over OTLP/HTTP protobuf."""
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics", headers={"Authorization": f"Bearer {token}"})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "checkout", "service.instance.id": "i-1"})
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("shop", "1.0")
    requests = meter.create_counter("http.server.requests")
    requests.add(5, {"code": 200})
    requests.add(3, {"code": 200})
    meter.create_up_down_counter("queue.depth").add(4)
    provider.force_flush()
    provider.shutdown()


def test_prometheus_pair_and_otel_sdk_deliver_once(served, tmp_path, workspace):
    url, tokens, server = served
    registry = CollectorRegistry()
    Counter("jobs_processed", "jobs done", registry=registry).inc(7)
    registry.register(FixedClock())
    exporter, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    target = f"127.0.0.1:{exporter.server_port}"
    proms = [_prometheus(tmp_path, user, target, url, tokens[user]) for user in ("prom-a", "prom-b")]
    try:
        _otel_push(url, tokens["otel"])
        began = time.monotonic()  # run four steps at least: prom-b's copies of the fixed samples are dropped
        while time.monotonic() < began + 90 and (time.monotonic() < began + 4 * STEP
                                                 or _status(url, tokens["otel"])["dropped"] < 3):
            time.sleep(0.5)
    finally:
        for prom in proms:
            prom.terminate()
        for prom in proms:
            prom.wait(timeout=30)
        exporter.shutdown()
    status = _status(url, tokens["otel"])
    assert status["dropped"] >= 3, (tmp_path / "prom-a" / "log").read_text()
    _stop(server, tmp_path / "serve.log")
    with Store.open(load_settings(workspace).store_url) as store:
        sql = store.sql
        gauge = f'pipeline_gauge{{instance="{target}",job="app"}}'
        rows = sql.execute("SELECT epoch(ts)::BIGINT, value, source FROM telemetry_samples WHERE series = ? "
                           "ORDER BY ts", [gauge]).fetchall()
        assert rows and all(value == ts // STEP % 1000 for ts, value, _ in rows)  # what the exporter sent
        assert all(ts % STEP == 0 for ts, _, _ in rows)  # one row per exporter timestamp: kept once
        sources = [source for _, _, source in rows]
        assert sources.count("remote_write:prom-a") >= len(rows) - 2, sources  # prom-b only where prom-a missed
        listed = [o for o in overlaps(store) if o["series"] == gauge]
        assert [(o["kept_source"], o["dropped_source"]) for o in listed] == [  # prom-b's copies, dropped
            ("remote_write:prom-a", "remote_write:prom-b")]
        assert listed[0]["samples"] >= 2, overlaps(store)
        counter = f'jobs_processed_total{{instance="{target}",job="app"}}'
        assert {v for (v,) in sql.execute("SELECT value FROM telemetry_samples WHERE series = ?",
                                          [counter]).fetchall()} == {7.0}
        otel = dict(sql.execute("SELECT series, value FROM telemetry_samples WHERE source = 'otlp:otel'").fetchall())
        scope = 'instance="i-1",job="checkout",otel_scope_name="shop",otel_scope_version="1.0"'
        assert otel == {f'http_server_requests_total{{code="200",{scope}}}': 8.0, f"queue_depth{{{scope}}}": 4.0}


def test_a_burst_gets_429_and_the_retries_arrive(served, workspace, tmp_path):
    url, tokens, server = served
    now_ms = int(time.time()) * 1000
    bodies = [encode_write_request([({"__name__": "burst", "request": str(i), "n": str(j)},
                                     [(float(i * 1000 + j), now_ms)]) for j in range(2000)]) for i in range(24)]
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "Authorization": f"Bearer {tokens['prom-a']}"}

    def push(body: bytes) -> list[int]:
        answers = []
        with httpx.Client(timeout=30) as client:
            while True:
                answer = client.post(f"{url}/api/v1/write", content=body, headers=headers)
                answers.append(answer.status_code)
                if answer.status_code != 429:
                    return answers
                assert answer.headers["retry-after"] == "1"
                time.sleep(float(answer.headers["retry-after"]))

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(push, bodies))
    assert all(a[-1] == 204 for a in answers)
    assert sum(a.count(429) for a in answers) >= 1  # 24 x 2000 samples at once into a queue of 5000
    _stop(server, tmp_path / "serve.log")
    with Store.open(load_settings(workspace).store_url) as store:
        (count, total), = store.sql.execute("SELECT count(*), sum(value) FROM telemetry_samples "
                                            "WHERE metric = 'burst'").fetchall()
    # values i * 1000 + j: sum over i < 24, j < 2000 = 2000 * 1000 * (0 + ... + 23) + 24 * (0 + ... + 1999)
    assert (count, total) == (48_000, 2000 * 1000 * 276 + 24 * 1_999_000)


def test_what_was_answered_survives_a_kill(served, workspace):
    url, tokens, server = served
    now_ms = int(time.time()) * 1000
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "Authorization": f"Bearer {tokens['prom-a']}"}
    bodies = [encode_write_request([({"__name__": "kept", "request": str(i), "n": str(j)}, [(float(j), now_ms)])
                                    for j in range(500)]) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda body: httpx.post(f"{url}/api/v1/write", content=body, headers=headers,
                                                        timeout=30).status_code, bodies))
    assert answers == [204] * 4
    server.kill()  # SIGKILL right after the answers: no drain, no shutdown
    server.wait(timeout=30)
    with Store.open(load_settings(workspace).store_url) as store:
        (count, total), = store.sql.execute("SELECT count(*), sum(value) FROM telemetry_samples "
                                            "WHERE metric = 'kept'").fetchall()
    # 4 requests x 500 samples, values 0..499 each: 2000 samples summing to 4 * 124_750
    assert (count, total) == (2000, 4 * 124_750)
