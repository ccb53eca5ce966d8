"""`engmetrics serve` as a real process on a free loopback port: /healthz, a token, a clean stop."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from engmetrics.auth.tokens import create_token
from engmetrics.store import Store
from ports import free_port

pytestmark = pytest.mark.slow




def test_serve_answers_healthz_and_holds_the_store(workspace):
    with Store.open(f"duckdb://{workspace / '.engmetrics' / 'store.duckdb'}") as store:
        token = create_token(store, "viewer").token
    port = free_port()
    command = [str(Path(sys.executable).with_name("engmetrics")), "-w", str(workspace), "serve",
               "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200, "server did not answer within 30 s"
        assert health.json()["status"] == "ok"
        assert httpx.get(f"{base}/api/v1/me", timeout=5).status_code == 401
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert me.json()["role"] == "viewer"
        assert httpx.get(f"{base}/api/v1/datasets", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).status_code == 200
    finally:
        server.terminate()
        try:
            output = server.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            server.kill()
            output = server.communicate()[0]
    assert f"http://127.0.0.1:{port}" in output
