"""Durable answers of the push receivers: a push is answered only after the transaction holding its samples
committed; a write that fails every try answers 503 and claims nothing stored; shutdown with a failing store
counts what it gave up (`lost`); OTLP's partial_success counts quarantined points; the counters' invariant."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from engmetrics.api import create_app
from engmetrics.api.state import StoreProvider
from engmetrics.auth.tokens import create_token
from engmetrics.settings import Settings
from engmetrics.store import Store
from engmetrics.telemetry import receiver as receiver_module
from engmetrics.telemetry.config import ClockPolicy, ReceiverSettings, TelemetrySettings
from engmetrics.telemetry.receiver import Receipt, TelemetryReceiver, Unstored
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request

NOW_MS = int(time.time() * 1000) // 1000 * 1000
RW_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


class GatedStores(StoreProvider):
    """A StoreProvider whose writer waits until `gate` is set, and fails its next `failing` writes."""

    def __init__(self, store: Store, failing: int = 0) -> None:
        super().__init__(store)
        self.gate = threading.Event()
        self.gate.set()
        self.failing = failing
        self.entered = threading.Event()

    @contextmanager
    def writer(self, *, tokens: bool = True) -> Iterator[Store]:
        self.entered.set()
        self.gate.wait()
        if self.failing:
            self.failing -= 1
            raise OSError("disk full")
        with super().writer(tokens=tokens) as store:
            yield store


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    monkeypatch.setattr(receiver_module, "_RETRY_SECONDS", 0.01)


def _app(tmp_path, store: Store, stores: StoreProvider, **receivers):
    """An app over `store` whose receiver writes through `stores`."""
    (tmp_path / "ws").mkdir(exist_ok=True)
    receiver_settings = ReceiverSettings(**receivers)
    app = create_app(Settings(workspace=tmp_path / "ws", telemetry=TelemetrySettings(receivers=receiver_settings)),
                     store=store)
    app.state.receiver.close()
    app.state.receiver = TelemetryReceiver(stores, receiver_settings, ClockPolicy())
    app.state.receiver.start()
    return app


def _headers(store: Store) -> dict[str, str]:
    return {**RW_HEADERS, "Authorization": f"Bearer {create_token(store, 'metrics-admin', user='prom').token}"}


def _body(name: str, values: list[float]) -> bytes:
    return encode_write_request([({"__name__": name}, [(v, NOW_MS + 1000 * i) for i, v in enumerate(values)])])


def _count(store: Store) -> int:
    return store.sql.execute("SELECT count(*) FROM telemetry_samples").fetchone()[0]


def test_a_push_is_answered_only_after_its_samples_are_committed(tmp_path, store):
    stores = GatedStores(store)
    app = _app(tmp_path, store, stores)
    headers = _headers(store)
    stores.gate.clear()  # the writer blocks before its transaction
    with TestClient(app) as client, ThreadPoolExecutor(5) as pool:
        first = pool.submit(client.post, "/api/v1/write", content=_body("a", [1.0, 2.0]), headers=headers)
        assert stores.entered.wait(10)  # the writer took the first request and waits at the gate
        rest = [pool.submit(client.post, "/api/v1/write", content=_body(f"b{i}", [float(i)]), headers=headers)
                for i in range(4)]
        deadline = time.monotonic() + 10
        while app.state.receiver.stats()["queued"] < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert not first.done() and not any(r.done() for r in rest)  # queued, not stored: no answer yet
        assert _count(store) == 0 and app.state.receiver.stats()["queued"] == 6
        stores.gate.set()
        assert first.result(timeout=30).status_code == 204
        assert _count(store) >= 2  # the first request's two samples were there when it was answered
        assert [r.result(timeout=30).status_code for r in rest] == [204] * 4
        assert _count(store) == 6
        stats = client.get("/api/v1/receivers/status", headers=headers).json()
    # 1 request in the first batch; the 4 that queued while it was blocked share the second commit
    assert (stats["batches"], stats["stored"], stats["queued"], stats["lost"]) == (2, 6, 0, 0)


def test_a_failed_write_answers_503_and_claims_nothing_stored(tmp_path, store):
    stores = GatedStores(store, failing=2)
    app = _app(tmp_path, store, stores, write_tries=2, retry_after_seconds=4)
    headers = _headers(store)
    with TestClient(app) as client:
        failed = client.post("/api/v1/write", content=_body("a", [1.0, 2.0, 3.0]), headers=headers)
        assert (failed.status_code, failed.headers["retry-after"]) == (503, "4")
        assert "not stored" in failed.json()["detail"]
        assert _count(store) == 0
        status = client.get("/api/v1/receivers/status", headers=headers).json()
        # 3 samples accepted, both tries failed: 3 lost, 2 consecutive failures, nothing stored
        assert {k: status[k] for k in ("accepted", "stored", "lost", "failures", "queued", "batches")} == {
            "accepted": 3, "stored": 0, "lost": 3, "failures": 2, "queued": 0, "batches": 0}
        resent = client.post("/api/v1/write", content=_body("a", [1.0, 2.0, 3.0]), headers=headers)
        assert resent.status_code == 204 and _count(store) == 3
        status = client.get("/api/v1/receivers/status", headers=headers).json()
        # the resend succeeded at once: failures back to 0; accepted 3 + 3 = stored 3 + lost 3
        assert {k: status[k] for k in ("accepted", "stored", "lost", "failures", "batches")} == {
            "accepted": 6, "stored": 3, "lost": 3, "failures": 0, "batches": 1}


def test_a_write_that_succeeds_on_a_later_try_is_answered_2xx(tmp_path, store):
    stores = GatedStores(store, failing=1)
    app = _app(tmp_path, store, stores, write_tries=2)
    with TestClient(app) as client:
        assert client.post("/api/v1/write", content=_body("a", [1.0]), headers=_headers(store)).status_code == 204
    stats = app.state.receiver.stats()
    assert (stats["stored"], stats["lost"], stats["failures"], _count(store)) == (1, 0, 0, 1)


def test_close_with_a_failing_store_counts_what_it_gave_up(store):
    stores = GatedStores(store, failing=100)
    receiver = TelemetryReceiver(stores, ReceiverSettings(write_tries=2, max_batch_samples=3), ClockPolicy())
    now = datetime.now(UTC)
    three = receiver.offer(decode_write_request(_body("a", [1.0, 2.0, 3.0])).samples, "s", now)
    two = receiver.offer(decode_write_request(_body("b", [4.0, 5.0])).samples, "s", now)
    receiver.start()
    receiver.close()
    for done in (three, two):
        with pytest.raises(Unstored):
            done.result(timeout=0)
    stats = receiver.stats()
    # batch 1 (3 samples) failed its 2 tries; then the queued batch 2 (2 samples) was given up untried
    assert (stats["lost"], stats["failures"], stats["stored"], stats["queued"], stores.failing) == (5, 2, 0, 0, 98)
    late = receiver.offer(decode_write_request(_body("c", [6.0])).samples, "s", now)
    with pytest.raises(Unstored, match="stopping"):
        late.result(timeout=0)
    assert _count(store) == 0


def test_otlp_partial_success_counts_quarantined_points(tmp_path, store):
    app = _app(tmp_path, store, StoreProvider(store))
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add()
    gauge = metrics.metrics.add(name="depth").gauge
    gauge.data_points.add(time_unix_nano=NOW_MS * 1_000_000, as_double=1.0)
    gauge.data_points.add(time_unix_nano=(NOW_MS - 7_200_000) * 1_000_000, as_double=2.0)  # 2 h old: skewed
    gauge.data_points.add(time_unix_nano=(NOW_MS + 1000) * 1_000_000, as_double=math.inf)  # not finite
    metrics.metrics.add(name="lat").exponential_histogram.data_points.add(time_unix_nano=NOW_MS * 1_000_000)
    token = create_token(store, "metrics-admin", user="otel").token
    with TestClient(app) as client:
        answer = client.post("/v1/metrics", content=request.SerializeToString(), headers={
            "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    partial = ExportMetricsServiceResponse.FromString(answer.content).partial_success
    # 1 exponential histogram point (not representable) + 2 quarantined (skew, infinite value) = 3
    assert partial.rejected_data_points == 3
    assert "exponential" in partial.error_message and "2 point(s) quarantined" in partial.error_message
    assert "not a finite number" in partial.error_message and "clock skew" in partial.error_message
    assert store.sql.execute("SELECT value FROM telemetry_samples").fetchall() == [(1.0,)]


def test_receipts_count_each_requests_own_quarantined_samples(store):
    receiver = TelemetryReceiver(StoreProvider(store), ReceiverSettings(), ClockPolicy())
    now = datetime.now(UTC)
    clean = receiver.offer(decode_write_request(_body("a", [1.0, 2.0])).samples, "s", now)
    dirty = receiver.offer(decode_write_request(_body("b", [math.nan, 3.0, math.inf])).samples, "s", now)
    empty = receiver.offer(decode_write_request(_body("c", [])).samples, "s", now)
    receiver.start()
    receiver.close()
    assert clean.result(timeout=0) == Receipt() and empty.result(timeout=0) == Receipt()
    receipt = dirty.result(timeout=0)
    # one batch: a's 2 samples stored, b's NaN and +Inf quarantined (one reason kind, given once), its 3.0 stored
    assert receipt.quarantined == 2 and len(receipt.reasons) == 1
    assert receipt.reasons[0].startswith("value is not a finite number")
    assert receiver.stats()["batches"] == 1 and _count(store) == 3


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.lists(st.sampled_from([1.0, 2.5, math.nan, math.inf]), max_size=6), max_size=6),
       failing=st.integers(0, 4), tries=st.integers(1, 3), batch=st.integers(1, 8))
def test_every_accepted_sample_is_accounted_for(requests, failing, tries, batch):
    """Invariant: accepted = stored + dropped + quarantined + lost + queued (no resends here: superseded is 0),
    and a request's future is resolved (a Receipt) exactly when its samples are in the store, else it fails
    with Unstored."""
    with Store.open("duckdb://") as store:
        stores = GatedStores(store, failing=failing)
        receiver = TelemetryReceiver(stores, ReceiverSettings(write_tries=tries, max_batch_samples=batch),
                                     ClockPolicy())
        now = datetime.now(UTC)
        futures = [receiver.offer(decode_write_request(_body(f"m{i}", values)).samples, "s", now)
                   for i, values in enumerate(requests)]
        receiver.start()
        receiver.close()
        stats = receiver.stats()
        assert stats["accepted"] == sum(len(v) for v in requests)
        assert stats["accepted"] == stats["stored"] + stats["dropped"] + stats["quarantined"] + stats["lost"] \
            + stats["queued"]
        stored = dict(store.sql.execute("SELECT series, count(*) FROM telemetry_samples GROUP BY 1").fetchall())
        for i, (values, done) in enumerate(zip(requests, futures, strict=True)):
            finite = sum(math.isfinite(v) for v in values)
            if done.exception(timeout=0) is None:
                assert (stored.get(f"m{i}", 0), done.result().quarantined) == (finite, len(values) - finite)
            else:
                assert f"m{i}" not in stored
