"""Latency of `engmetrics serve` under concurrent clients: the overview API and the overview page.

Builds the demo organisation (`engmetrics demo DIR --days 180 --end END`) in a temporary directory,
creates a viewer token, starts `engmetrics serve` on a free port of 127.0.0.1, then runs one phase per
endpoint: `--clients` threads, each with its own keep-alive connection, send requests back to back (no
think time) for `--seconds` or until the phase's share of `--requests-cap` is used. Each request is timed
from sending to the last byte of the body; any non-200 answer or transport error counts as an error.

Endpoints: `/api/v1/scorecard?as_of=END` (the overview API) and `/?as_of=END` (the overview page; skipped
with a note while the app answers it with 404). `as_of` is the demo's last day, so the numbers are real
ones rather than `no_data` for a period after the demo ends.

Targets (issue 3): p95 <= 100 ms for the API, <= 250 ms for the page, zero errors. Load goes to 127.0.0.1
only and is bounded in time and requests. Results are in docs/performance.md.

    python benchmarks/api.py [--clients 50] [--seconds 30] [--requests-cap 200000] [--end 2026-06-30]
                             [--endpoints api,page]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ENGMETRICS = Path(sys.executable).with_name("engmetrics")
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    target_p95_ms: float


@dataclass
class Phase:
    """What one endpoint's phase measured."""

    endpoint: Endpoint
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    skipped: str | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _run(*args: str) -> str:
    done = subprocess.run([str(ENGMETRICS), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"engmetrics {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def _get(port: int, path: str, headers: dict[str, str], timeout: float = 60.0) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read(), dict(answer.getheaders())
    finally:
        conn.close()


def _wait_healthy(port: int, server: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before answering /healthz")
        try:
            if _get(port, "/healthz", {}, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {seconds:.0f} s")


def _session_cookie(port: int, token: str) -> str | None:
    """The session cookie `POST /login` sets for `token`, for pages that want a web session."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", "/login", body=urlencode({"token": token, "next": "/"}),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        answer.read()
        cookie = answer.getheader("set-cookie")
        return cookie.split(";", 1)[0] if cookie else None
    finally:
        conn.close()


def _client(port: int, path: str, headers: dict[str, str], phase: Phase, lock: threading.Lock,
            stop_at: float, budget: list[int]) -> None:
    """One client: requests back to back on a keep-alive connection until time or budget runs out."""
    conn: http.client.HTTPConnection | None = None
    latencies: list[float] = []
    errors: dict[str, int] = {}
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        if conn is None:
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
        start = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            answer.read()
            took = time.perf_counter() - start
            if answer.status == 200:
                latencies.append(took)
            else:
                errors[f"HTTP {answer.status}"] = errors.get(f"HTTP {answer.status}", 0) + 1
            if answer.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            kind = type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
    with lock:
        phase.latencies.extend(latencies)
        for kind, count in errors.items():
            phase.errors += count
            phase.error_kinds[kind] = phase.error_kinds.get(kind, 0) + count


def run_phase(port: int, endpoint: Endpoint, headers: dict[str, str], clients: int, seconds: float,
              cap: int) -> Phase:
    """`clients` threads against `endpoint` for `seconds` or `cap` requests, whichever ends first."""
    phase, lock, budget = Phase(endpoint), threading.Lock(), [cap]
    start = time.monotonic()
    threads = [threading.Thread(target=_client, args=(port, endpoint.path, headers, phase, lock,
                                                      start + seconds, budget), daemon=True)
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    phase.elapsed = time.monotonic() - start
    return phase


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values` (not empty)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def report(phases: list[Phase], clients: int, cold: dict[str, float]) -> bool:
    """Print the table and verdicts; True when every measured endpoint meets its targets."""
    cores = os.cpu_count()
    print(f"\n{clients} concurrent clients, back to back (no think time). The machine has {cores} cores, shared "
          "by the server and this load generator (same machine, 127.0.0.1).")
    print(f"{'endpoint':<34} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7} {'cold ms':>8}  verdict")
    ok = True
    for p in phases:
        if p.skipped:
            print(f"{p.endpoint.path:<34} skipped: {p.skipped}")
            continue
        n = len(p.latencies)
        if not n:
            print(f"{p.endpoint.path:<34} {p.errors:>8} {p.errors:>6}  no successful request: {p.error_kinds}; "
                  f"a single request before the load took {cold.get(p.endpoint.name, float('nan')):.0f} ms")
            ok = False
            continue
        p50, p95, p99 = (percentile(p.latencies, q) * 1000 for q in (50, 95, 99))
        worst = max(p.latencies) * 1000
        rate = (n + p.errors) / p.elapsed
        met = p95 <= p.endpoint.target_p95_ms and p.errors == 0
        ok &= met
        verdict = (f"{'met' if met else 'MISSED'} (p95 <= {p.endpoint.target_p95_ms:.0f} ms, zero errors)"
                   + (f"; errors: {p.error_kinds}" if p.errors else ""))
        print(f"{p.endpoint.path:<34} {n + p.errors:>8} {p.errors:>6} {rate:>7.1f} {p50:>7.1f} {p95:>7.1f} "
              f"{p99:>7.1f} {worst:>7.1f} {cold.get(p.endpoint.name, float('nan')):>8.0f}  {verdict}")
    print("cold = the first request after the server started (evaluates the catalog; later ones hit the cache).")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each endpoint's phase (default 30)")
    parser.add_argument("--requests-cap", type=int, default=200_000,
                        help="at most this many requests in all, shared equally by the phases (default 200000)")
    parser.add_argument("--days", type=int, default=180, help="days of demo history (default 180)")
    parser.add_argument("--endpoints", default="api,page", help="which phases to run: api, page or both (default)")
    parser.add_argument("--end", default="2026-06-30", help="last day of the demo data and the as-of date")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.requests_cap < 1:
        parser.error("--clients, --seconds and --requests-cap must be positive")
    chosen = set(args.endpoints.split(","))
    if not chosen or not chosen <= {"api", "page"}:
        parser.error("--endpoints takes api, page or api,page")

    with tempfile.TemporaryDirectory(prefix="engmetrics-bench-api-") as tmp:
        workspace = Path(tmp) / "demo"
        print(f"building the demo organisation ({args.days} days to {args.end}) ...", flush=True)
        _run("demo", str(workspace), "--days", str(args.days), "--end", args.end, "--json")
        token = json.loads(_run("-w", str(workspace), "token", "create", "--role", "viewer", "--json",
                                "--description", "benchmarks/api.py"))["token"]
        port = _free_port()
        log = (Path(tmp) / "server.log").open("wb")
        server = subprocess.Popen([str(ENGMETRICS), "-w", str(workspace), "serve", "--host", HOST,
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(port, server)
            print(f"server on http://{HOST}:{port} (pid {server.pid})", flush=True)
            query = "?" + urlencode({"as_of": args.end})
            endpoints = [e for e in (Endpoint("api", f"/api/v1/scorecard{query}", 100.0),
                                     Endpoint("page", f"/{query}", 250.0)) if e.name in chosen]
            bearer = {"Authorization": f"Bearer {token}"}
            phases, cold = [], {}
            for endpoint in endpoints:
                headers = dict(bearer)
                start = time.perf_counter()
                status = _get(port, endpoint.path, headers)[0]
                cold[endpoint.name] = (time.perf_counter() - start) * 1000
                if status in (301, 302, 303, 307, 401) and endpoint.name == "page":
                    cookie = _session_cookie(port, token)  # a page that wants a web session
                    if cookie:
                        headers = {"Cookie": cookie}
                        status = _get(port, endpoint.path, headers)[0]
                if status == 404:
                    phases.append(Phase(endpoint, skipped="404: the app does not serve this page yet"))
                    print(f"note: {endpoint.path} answers 404 (not built yet); skipping it", flush=True)
                    continue
                if status != 200:
                    print(f"note: {endpoint.path} answers {status} before the load; measuring anyway", flush=True)
                print(f"{endpoint.path}: {args.clients} clients for {args.seconds:.0f} s ...", flush=True)
                phases.append(run_phase(port, endpoint, headers, args.clients, args.seconds,
                                        max(1, args.requests_cap // len(endpoints))))
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
        ok = report(phases, args.clients, cold)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
