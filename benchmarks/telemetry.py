"""End-to-end push ingestion: a load generator on 127.0.0.1 posts remote-write and OTLP payloads to a started
`engmetrics serve` and measures samples per second until every accepted sample is stored, beside the raw
decode rate of the same payloads (`benchmarks/telemetry_decode.py`), the ceiling.

Per protocol: `--requests` bodies of `--samples` samples each (the shapes of `telemetry_decode.py`, every
body with its own recent timestamps, so no two samples share a (series, ts)), posted by `--clients`
threads (a 429 is retried after its Retry-After). The clock stops when the server's queue is empty
(`GET /api/v1/receivers/status`); after the server has stopped, the samples in the store are counted and
must equal those sent (zero loss), else the script exits 1. Posting stops after `--max-seconds`.
Issue 10's targets (printed, not asserted): remote-write >= 200k samples/s, OTLP >= 100k samples/s.

    python benchmarks/telemetry.py [--samples 10000] [--requests 40] [--clients 4] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from telemetry_decode import decode_rate, otlp_request

from engmetrics.auth.tokens import create_token
from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.telemetry.batch import Decoded
from engmetrics.telemetry.otlp import decode_otlp_protobuf
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request
from engmetrics.workspace import init_workspace

TARGETS = {"remote-write": 200_000, "otlp": 100_000}


def remote_write_body(n: int, ts_ms: int, prefix: str) -> bytes:
    """`telemetry_decode.remote_write_body`'s shape (six labels, one sample per series) at `ts_ms`."""
    return encode_write_request([
        ({"__name__": f"{prefix}_{i % 50}", "instance": f"host-{i % 1000}:9100", "job": "node", "mode": "idle",
          "cpu": str(i % 8), "zone": "eu-1", "i": str(i)}, [(i * 1.5, ts_ms)]) for i in range(n)])


def otlp_body(n: int, ts_ms: int) -> bytes:
    """`telemetry_decode.otlp_request`'s shape with every point at `ts_ms` (+ its index in ns)."""
    request = otlp_request(n)
    for metric in request.resource_metrics[0].scope_metrics[0].metrics:
        for i, point in enumerate(metric.sum.data_points):
            point.time_unix_nano = ts_ms * 1_000_000 + i * 1000
    return request.SerializeToString()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(workspace: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("engmetrics")), "-w", str(workspace), "serve",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("engmetrics serve did not answer within 60 s")


def _push(url: str, path: str, headers: dict[str, str], bodies: list[bytes], clients: int, deadline: float) -> int:
    """Post every body (retrying 429s) until `deadline`; the number of bodies accepted."""
    def one(body: bytes) -> int:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                answer = client.post(url + path, content=body, headers=headers)
                if answer.status_code != 429:
                    answer.raise_for_status()
                    return 1
                time.sleep(float(answer.headers.get("retry-after", "1")))
        return 0

    with ThreadPoolExecutor(clients) as pool:
        return sum(pool.map(one, bodies))


def _drained(url: str, token: str) -> None:
    while httpx.get(f"{url}/api/v1/receivers/status", headers={"Authorization": f"Bearer {token}"},
                    timeout=30).json()["queued"]:
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="samples per request")
    parser.add_argument("--requests", type=int, default=40, help="requests per protocol")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop posting after this long")
    args = parser.parse_args()
    now_ms = int(time.time() * 1000) - 600_000  # ten minutes ago: well within the clock policy
    print(f"building {args.requests} x {args.samples:,} samples per protocol ...", flush=True)
    kinds: dict[str, tuple[str, dict[str, str], list[bytes], Callable[[bytes], Decoded]]] = {
        "remote-write": ("/api/v1/write", {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
                         [remote_write_body(args.samples, now_ms + k, "bench_rw") for k in range(args.requests)],
                         decode_write_request),
        "otlp": ("/v1/metrics", {"Content-Type": "application/x-protobuf"},
                 [otlp_body(args.samples, now_ms + k) for k in range(args.requests)], decode_otlp_protobuf),
    }
    with tempfile.TemporaryDirectory(prefix="engmetrics-bench-") as tmp:
        workspace = init_workspace(Path(tmp) / "ws")
        store_url = load_settings(workspace).store_url
        with Store.open(store_url) as store:
            token = create_token(store, "metrics-admin", user="bench").token
        server, url = _start(workspace)
        results = {}
        try:
            for name, (path, headers, bodies, _) in kinds.items():
                began = time.perf_counter()
                accepted = _push(url, path, {**headers, "Authorization": f"Bearer {token}"}, bodies, args.clients,
                                 time.monotonic() + args.max_seconds)
                _drained(url, token)
                results[name] = (accepted * args.samples, time.perf_counter() - began)
        finally:
            server.terminate()
            server.wait(timeout=120)
        with Store.open(store_url) as store:
            stored = dict(store.sql.execute("SELECT split_part(source, ':', 1), count(*) FROM telemetry_samples "
                                            "GROUP BY 1").fetchall())
    print(f"{'protocol':<14} {'sent':>9} {'stored':>9} {'seconds':>8} {'samples/s':>11} {'decode/s':>11} "
          f"{'target/s':>9}")
    lost = False
    for name, (sent, seconds) in results.items():
        _, _, bodies, decoder = kinds[name]
        ceiling, _ = decode_rate(bodies[0], decoder)
        got = stored.get(name.replace("-", "_"), 0)
        lost |= got != sent
        print(f"{name:<14} {sent:>9,} {got:>9,} {seconds:>8.2f} {sent / seconds:>11,.0f} {ceiling:>11,.0f} "
              f"{TARGETS[name]:>9,}")
    if lost:
        print("LOSS: stored differs from sent")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
