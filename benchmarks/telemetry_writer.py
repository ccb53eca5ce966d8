"""The push receivers' writer without HTTP: `--senders` threads each decode remote-write bodies (the shape of
`benchmarks/telemetry.py`, the same series in every body, new timestamps) and offer them to a
`telemetry.receiver.TelemetryReceiver` over a fresh DuckDB file, waiting for each answer (the commit) before
decoding the next, as a sender waiting for its 2xx does. Per `--linger` value (`batch_linger_ms`): samples/s
from the first offer to the last answer, CPU seconds of the process, the writer's transactions, and the
latency of a request from its offer to its answer (median, 95th percentile, maximum; ms), which the linger
bounds: a request waits at most the linger more than it would without it.

    python benchmarks/telemetry_writer.py [--samples 10000] [--requests 40] [--senders 4] [--linger 0 5 20 50]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from engmetrics.api.state import StoreProvider
from engmetrics.quantiles import percentile
from engmetrics.store import Store
from engmetrics.telemetry.config import ClockPolicy, ReceiverSettings
from engmetrics.telemetry.receiver import TelemetryReceiver
from engmetrics.telemetry.remote_write import SERIES_CACHE, decode_write_request
from telemetry import remote_write_body


def run(bodies: list[bytes], senders: int, linger: float) -> tuple[float, float, int, list[float]]:
    """(samples/s, CPU seconds, transactions, latencies in ms) of one run into a fresh store."""
    SERIES_CACHE.clear()
    with tempfile.TemporaryDirectory(prefix="engmetrics-bench-") as tmp, \
            Store.open(f"duckdb:///{Path(tmp) / 'store.duckdb'}") as store:
        receiver = TelemetryReceiver(StoreProvider(store), ReceiverSettings(batch_linger_ms=linger), ClockPolicy())
        receiver.start()
        todo, latencies, lock = list(reversed(bodies)), [], threading.Lock()

        def sender() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                samples = decode_write_request(body).samples
                began = time.perf_counter()
                receiver.offer(samples, "remote_write:bench", datetime.now(UTC)).result(timeout=120)
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)

        threads = [threading.Thread(target=sender) for _ in range(senders)]
        cpu, began = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        receiver.close()
        stats = receiver.stats()
        if stats["stored"] != stats["accepted"]:
            raise SystemExit(f"stored {stats['stored']:,} of {stats['accepted']:,} samples")
        return stats["stored"] / seconds, cpu, stats["batches"], latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="samples per request")
    parser.add_argument("--requests", type=int, default=40, help="requests per run")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders")
    parser.add_argument("--linger", type=float, nargs="+", default=[0, 5, 20, 50], help="batch_linger_ms values")
    args = parser.parse_args()
    now_ms = int(time.time() * 1000) - 600_000
    bodies = [remote_write_body(args.samples, now_ms + k, "bench_rw") for k in range(args.requests)]
    print(f"{args.requests} x {args.samples:,} samples, {args.senders} senders")
    print(f"{'linger ms':>9} {'samples/s':>10} {'CPU s':>6} {'batches':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for linger in args.linger:
        rate, cpu, batches, latencies = run(bodies, args.senders, linger)
        print(f"{linger:>9g} {rate:>10,.0f} {cpu:>6.2f} {batches:>7} {percentile(latencies, 0.5):>7.1f} "
              f"{percentile(latencies, 0.95):>7.1f} {max(latencies):>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
