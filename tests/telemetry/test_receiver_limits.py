"""Limits and permissions of the push receivers: a body beyond `max_request_bytes` is answered 413 before it
is read (Content-Length) or as soon as the bytes read pass the limit (chunked), over a real socket; the
`telemetry-pusher` role pushes and reads the status and nothing else; every receiver setting is documented in
the workspace template."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from importlib import resources

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.settings import Settings
from engmetrics.store import Store
from engmetrics.telemetry.config import ReceiverSettings, TelemetrySettings
from engmetrics.telemetry.remote_write import encode_write_request
from ports import free_port

NOW_MS = int(time.time() * 1000) // 1000 * 1000
RW_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


def _app(tmp_path, store: Store, **receivers):
    (tmp_path / "ws").mkdir(exist_ok=True)
    return create_app(Settings(workspace=tmp_path / "ws",
                               telemetry=TelemetrySettings(receivers=ReceiverSettings(**receivers))), store=store)


@pytest.fixture
def served(tmp_path, store) -> Iterator[tuple[int, str]]:
    """The app on a real socket (uvicorn in a thread) with `max_request_bytes: 1000`; yields (port, token)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(tmp_path, store, max_request_bytes=1000), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port, create_token(store, "telemetry-pusher", user="prom").token
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _exchange(port: int, head: str, body: bytes = b"") -> str:
    """Send `head` (and `body`) on a fresh connection, without closing our side, and return the status line
    of the answer: an answer to a body never sent proves the server did not wait to read it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n")[0].decode()


def test_a_long_content_length_is_answered_413_before_the_body_is_read(served):
    port, token = served
    # headers only: 10^9 bytes announced, none sent. Reading the body would wait (until the 10 s timeout)
    head = (f"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            f"Content-Encoding: snappy\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000000000\r\n\r\n")
    began = time.monotonic()
    assert _exchange(port, head) == "HTTP/1.1 413 Request Entity Too Large"
    assert time.monotonic() - began < 5


def test_a_chunked_body_is_cut_at_the_limit(served):
    port, token = served
    head = (f"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n")
    # two chunks of 600 bytes (1200 > 1000) and no terminating chunk: the answer comes once 1200 are read
    chunk = b"258\r\n" + b"\x00" * 600 + b"\r\n"
    assert _exchange(port, head, chunk * 2) == "HTTP/1.1 413 Request Entity Too Large"


def test_a_body_within_the_limit_is_stored(served, store):
    port, token = served
    body = encode_write_request([({"__name__": "up"}, [(1.0, NOW_MS)])])
    head = (f"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            f"Content-Encoding: snappy\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n")
    assert _exchange(port, head, body) == "HTTP/1.1 204 No Content"
    assert store.sql.execute("SELECT series, value FROM telemetry_samples").fetchall() == [("up", 1.0)]


def test_the_pusher_role_pushes_and_reads_the_status_only(tmp_path, store):
    pusher = {"Authorization": f"Bearer {create_token(store, 'telemetry-pusher', user='agent').token}"}
    body = encode_write_request([({"__name__": "up"}, [(1.0, NOW_MS)])])
    with TestClient(_app(tmp_path, store)) as client:
        assert client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **pusher}).status_code == 204
        otlp = client.post("/v1/metrics", content=b"{}", headers={"Content-Type": "application/json", **pusher})
        assert (otlp.status_code, otlp.json()) == (200, {})
        assert client.get("/api/v1/receivers/status", headers=pusher).json()["stored"] == 1
        ingest = client.post("/api/v1/datasets/deployments/ingest", files={"file": ("d.csv", b"x\n")},
                             headers=pusher)
        assert ingest.status_code == 403 and "telemetry-pusher" in ingest.json()["detail"]
        for path in ("/api/v1/datasets", "/api/v1/indicators", "/api/v1/quarantine", "/api/v1/me"):
            assert client.get(path, headers=pusher).status_code == 403, path
    assert store.sql.execute("SELECT source FROM telemetry_samples").fetchall() == [("remote_write:agent",)]


def test_token_create_accepts_the_pusher_role(cli):
    created = cli("token", "create", "--role", "telemetry-pusher", "--user", "prom-eu", "--json")
    assert created.exit_code == 0, created.output
    assert "telemetry-pusher" in created.output
    assert "telemetry-pusher" in cli("token", "create", "--help").output


def test_every_receiver_setting_is_documented_in_the_template():
    text = (resources.files("engmetrics") / "templates" / "workspace" / "engmetrics.yaml").read_text()
    assert set(yaml.safe_load(text)["telemetry"]["receivers"]) == set(ReceiverSettings.model_fields)
    lines = text.splitlines()
    block = lines[lines.index("  receivers:"):]
    for name in ReceiverSettings.model_fields:
        at = next(i for i, line in enumerate(block) if line.startswith(f"    {name}:"))
        assert block[at - 1].lstrip().startswith("#"), f"{name} has no comment above it in the template"
