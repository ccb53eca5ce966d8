"""The push receivers in the app (in process, in-memory store): status codes of both protocols, auth, what is
stored and under which source, partial success, clock quarantine, 429 when the queue is full, drain on stop.
Durable answers, failures, the body limit and the push-only role: test_receiver_durable.py,
test_receiver_limits.py."""

from __future__ import annotations

import gzip
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.settings import Settings
from engmetrics.store import Store
from engmetrics.telemetry.config import ClockPolicy, ReceiverSettings, TelemetrySettings
from engmetrics.telemetry.receiver import TelemetryReceiver
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request

NOW_MS = int(time.time() * 1000) // 1000 * 1000
RW_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


@pytest.fixture
def make_app(tmp_path, store):
    def make(**receivers):
        (tmp_path / "ws").mkdir(exist_ok=True)
        settings = Settings(workspace=tmp_path / "ws",
                            telemetry=TelemetrySettings(receivers=ReceiverSettings(**receivers)))
        return create_app(settings, store=store)
    return make


@pytest.fixture
def auth(store):
    def headers(role: str = "metrics-admin", user: str | None = "prom-a") -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(store, role, user=user).token}"}
    return headers


def _rows(store: Store) -> list[tuple]:
    return store.sql.execute("SELECT series, epoch_ms(ts), value, source FROM telemetry_samples "
                             "ORDER BY series, ts").fetchall()


def _body(samples: list[tuple[dict[str, str], list[tuple[float, int]]]]) -> bytes:
    return encode_write_request(samples)


def test_remote_write_is_stored_with_its_source(make_app, store, auth):
    body = _body([({"__name__": "jobs_total", "job": "app"}, [(3.0, NOW_MS - 15_000), (5.0, NOW_MS)]),
                  ({"__name__": "up", "job": "app"}, [(1.0, NOW_MS)])])
    with TestClient(make_app()) as client:
        answer = client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **auth()})
        assert (answer.status_code, answer.content) == (204, b"")
    # leaving the client stopped the app: the writer drained the queue
    assert _rows(store) == [('jobs_total{job="app"}', NOW_MS - 15_000, 3.0, "remote_write:prom-a"),
                            ('jobs_total{job="app"}', NOW_MS, 5.0, "remote_write:prom-a"),
                            ('up{job="app"}', NOW_MS, 1.0, "remote_write:prom-a")]
    received = store.sql.execute("SELECT DISTINCT received_at IS NOT NULL FROM telemetry_samples").fetchall()
    assert received == [(True,)]


def test_remote_write_refusals(make_app, auth):
    body = _body([({"__name__": "up"}, [(1.0, NOW_MS)])])
    client = TestClient(make_app())
    assert client.post("/api/v1/write", content=body, headers=RW_HEADERS).status_code == 401
    assert client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **auth("viewer")}).status_code == 403
    wrong_type = {**RW_HEADERS, "Content-Type": "application/json", **auth()}
    assert client.post("/api/v1/write", content=body, headers=wrong_type).status_code == 415
    not_snappy = client.post("/api/v1/write", content=b"garbage", headers={**RW_HEADERS, **auth()})
    assert not_snappy.status_code == 400 and "snappy" in not_snappy.json()["detail"]


def _otlp_request() -> ExportMetricsServiceRequest:
    """A gauge of two points (service.name -> job) and an exponential histogram (rejected)."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "pay"
    scope = resource.scope_metrics.add()
    gauge = scope.metrics.add(name="queue.depth")
    gauge.gauge.data_points.add(time_unix_nano=(NOW_MS - 10_000) * 1_000_000, as_double=2.5)
    gauge.gauge.data_points.add(time_unix_nano=NOW_MS * 1_000_000, as_int=4)
    exp = scope.metrics.add(name="latency")
    exp.exponential_histogram.data_points.add(time_unix_nano=NOW_MS * 1_000_000, count=1)
    return request


def test_otlp_protobuf_gzip_with_partial_success(make_app, store, auth):
    body = gzip.compress(_otlp_request().SerializeToString())
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **auth(user="otel")}
    with TestClient(make_app()) as client:
        answer = client.post("/v1/metrics", content=body, headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
        response = ExportMetricsServiceResponse.FromString(answer.content)
        assert response.partial_success.rejected_data_points == 1
        assert "exponential" in response.partial_success.error_message
    assert _rows(store) == [('queue_depth{job="pay"}', NOW_MS - 10_000, 2.5, "otlp:otel"),
                            ('queue_depth{job="pay"}', NOW_MS, 4.0, "otlp:otel")]


def test_otlp_json_and_refusals(make_app, store, auth):
    point = {"timeUnixNano": str(NOW_MS * 1_000_000), "asDouble": 1.5}
    body = json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "temp", "gauge": {"dataPoints": [point]}}]}]}]})
    with TestClient(make_app()) as client:
        answer = client.post("/v1/metrics", content=body, headers={"Content-Type": "application/json", **auth()})
        assert (answer.status_code, answer.json()) == (200, {})
        text = client.post("/v1/metrics", content=body, headers={"Content-Type": "text/plain", **auth()})
        assert text.status_code == 415
        broken = client.post("/v1/metrics", content=b"{", headers={"Content-Type": "application/json", **auth()})
        assert broken.status_code == 400
        not_gzip = client.post("/v1/metrics", content=b"{}", headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip", **auth()})
        assert not_gzip.status_code == 400 and "gzip" in not_gzip.json()["detail"]
    assert _rows(store) == [("temp", NOW_MS, 1.5, "otlp:prom-a")]


def test_skewed_samples_are_quarantined_with_the_reason(make_app, store, auth):
    two_hours = 7200 * 1000
    body = _body([({"__name__": "up"}, [(1.0, NOW_MS - two_hours), (1.0, NOW_MS)])])
    with TestClient(make_app()) as client:
        assert client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **auth()}).status_code == 204
    assert _rows(store) == [("up", NOW_MS, 1.0, "remote_write:prom-a")]
    (source, column, reason), = store.sql.execute(
        "SELECT source_file, \"column\", reason FROM _quarantine WHERE dataset = 'telemetry_samples'").fetchall()
    assert (source, column) == ("remote_write:prom-a", "ts")
    skew = float(reason.split()[2])  # 7200 s plus however long ago this module was imported (NOW_MS)
    assert 7200 <= skew < 7200 + time.time() - NOW_MS / 1000 + 5, reason
    assert reason.startswith("clock skew ") and reason.endswith("beyond the maximum of 3600 s")


def test_nan_and_infinite_values_are_quarantined_not_stored(make_app, store, auth):
    # a NaN that is not Prometheus' stale marker (math.nan has another bit pattern) and +Inf, beside a 2.0
    body = _body([({"__name__": "q"}, [(math.nan, NOW_MS), (math.inf, NOW_MS + 1000), (2.0, NOW_MS + 2000)])])
    app = make_app()
    with TestClient(app) as client:
        assert client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **auth()}).status_code == 204
    assert app.state.receiver.stats()["quarantined"] == 2  # read after shutdown drained the queue
    assert _rows(store) == [("q", NOW_MS + 2000, 2.0, "remote_write:prom-a")]
    refused = store.sql.execute("SELECT source_file, \"column\", reason FROM _quarantine "
                                "WHERE dataset = 'telemetry_samples'").fetchall()
    assert [(source, column) for source, column, _ in refused] == [("remote_write:prom-a", "value")] * 2
    assert all(reason.startswith("value is not a finite number") for _, _, reason in refused)


def test_a_full_queue_answers_429_and_keeps_what_it_accepted(make_app, store, auth):
    app = make_app(max_queued_samples=3, retry_after_seconds=7)
    client = TestClient(app)
    app.state.receiver.close()
    paused = TelemetryReceiver(app.state.stores, ReceiverSettings(max_queued_samples=3, retry_after_seconds=7),
                               ClockPolicy())
    app.state.receiver = paused  # its writer is not started yet: nothing leaves the queue
    headers = {**RW_HEADERS, **auth()}
    two = _body([({"__name__": "a"}, [(1.0, NOW_MS), (2.0, NOW_MS + 1000)])])
    one = _body([({"__name__": "b"}, [(5.0, NOW_MS)])])
    with ThreadPoolExecutor(2) as pool:  # an accepted push is answered once stored: these two wait
        first = pool.submit(client.post, "/api/v1/write", content=two, headers=headers)
        _until(lambda: paused.stats()["queued"] == 2)
        full = client.post("/api/v1/write", content=two, headers=headers)
        assert (full.status_code, full.headers["retry-after"]) == (429, "7")
        third = pool.submit(client.post, "/api/v1/write", content=one, headers=headers)
        _until(lambda: paused.stats()["queued"] == 3)
        assert not first.done() and not third.done() and store.count("telemetry_samples") == 0
        paused.start()
        assert (first.result(timeout=30).status_code, third.result(timeout=30).status_code) == (204, 204)
    paused.close()
    assert [r[:3] for r in _rows(store)] == [("a", NOW_MS, 1.0), ("a", NOW_MS + 1000, 2.0), ("b", NOW_MS, 5.0)]
    stats = paused.stats()
    assert (stats["accepted"], stats["rejected_full"], stats["stored"], stats["queued"]) == (3, 2, 3, 0)


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_an_empty_queue_takes_one_request_larger_than_the_bound(store):
    receiver = TelemetryReceiver(None, ReceiverSettings(max_queued_samples=1), ClockPolicy())  # type: ignore[arg-type]
    big = decode_write_request(_body([({"__name__": "a"}, [(1.0, NOW_MS), (2.0, NOW_MS + 1)])])).samples
    now = datetime.now(UTC)
    assert receiver.offer(big, "s", now) is not None
    assert receiver.offer(big, "s", now) is None


def test_status_counts(make_app, auth):
    with TestClient(make_app()) as client:
        body = _body([({"__name__": "up"}, [(1.0, NOW_MS)])])
        assert client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **auth()}).status_code == 204
        status = client.get("/api/v1/receivers/status", headers=auth()).json()  # answered after the commit
        assert {k: status[k] for k in ("queued", "accepted", "stored", "inserted", "batches", "lost",
                                       "failures")} == {
            "queued": 0, "accepted": 1, "stored": 1, "inserted": 1, "batches": 1, "lost": 0, "failures": 0}
