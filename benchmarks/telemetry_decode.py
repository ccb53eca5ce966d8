"""Raw decode rate of telemetry payloads: remote-write (snappy + protobuf) and OTLP (protobuf and JSON).

Builds payloads shaped like real traffic (remote-write: one sample per series with six labels, as Prometheus
sends them; OTLP: one resource and scope, counter data points with three attributes), then times the
decoders alone, best of `--repeat`, in CPU seconds of this process (steadier than the wall clock on a
machine shared with other work; the decoders are single-threaded), two ways: `cold` with the series caches
emptied before every body (every series new: the first request of a sender) and `warm` with every series
seen before (what a sender that repeats its series, as Prometheus and OTLP exporters do, costs from its
second request on). This is the ceiling an end-to-end receiver can reach; `benchmarks/telemetry.py`
imports `decode_rate` to time the very bodies it posts. Issue 10's end-to-end targets: 200k samples/s
remote-write, 100k samples/s OTLP.

    python benchmarks/telemetry_decode.py [--samples 10000 100000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from engmetrics.telemetry.batch import Decoded
from engmetrics.telemetry.otlp import decode_otlp_json, decode_otlp_protobuf
from engmetrics.telemetry.otlp_points import OTLP_SERIES_CACHE
from engmetrics.telemetry.remote_write import SERIES_CACHE, decode_write_request, encode_write_request

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def remote_write_body(n: int) -> bytes:
    """n series with one sample each: 50 metrics x 1000 instances x 8 CPUs, like node_exporter traffic."""
    return encode_write_request([
        ({"__name__": f"node_metric_{i % 50}", "instance": f"host-{i % 1000}:9100", "job": "node",
          "mode": "idle", "cpu": str(i % 8), "zone": "eu-1"}, [(i * 1.5, T0_MS + i % 1000)])
        for i in range(n)
    ])


def otlp_request(n: int) -> ExportMetricsServiceRequest:
    """n counter data points: 20 metrics, each with n / 20 points of three attributes."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "checkout"
    scope = resource.scope_metrics.add()
    scope.scope.name = "bench"
    per_metric = max(n // 20, 1)
    for m in range(-(-n // per_metric)):
        metric = scope.metrics.add(name=f"http.server.requests.{m}")
        metric.sum.is_monotonic, metric.sum.aggregation_temporality = True, 2
        for i in range(min(per_metric, n - m * per_metric)):
            point = metric.sum.data_points.add(time_unix_nano=T0_MS * 1_000_000 + i, as_int=i)
            for key, value in (("http.route", f"/r{i % 97}"), ("code", str(200 + i % 5)), ("pod", f"p{i}")):
                point.attributes.add(key=key).value.string_value = value
    return request


def payloads(n: int) -> dict[str, tuple[bytes, Callable[[bytes], Decoded]]]:
    """Name -> (body, decoder) for a payload of n samples of each kind."""
    request = otlp_request(n)
    as_json = json_format.MessageToJson(request, use_integers_for_enums=True, indent=None).encode()
    return {
        "remote-write": (remote_write_body(n), decode_write_request),
        "otlp protobuf": (request.SerializeToString(), decode_otlp_protobuf),
        "otlp json": (as_json, decode_otlp_json),
    }


def clear_caches() -> None:
    """Forget every series the decoders have seen (a cold start)."""
    SERIES_CACHE.clear()
    OTLP_SERIES_CACHE.clear()


def decode_rate(bodies: Sequence[bytes], decoder: Callable[[bytes], Decoded], repeat: int = 3,
                mode: str = "warm") -> tuple[float, int]:
    """(samples per CPU second of the best of `repeat` runs over every body in order, samples decoded per run).
    `mode`: "cold" empties the caches before every body, "warm" decodes the bodies once untimed first,
    "first" empties them once before the run (as a server that has just started sees the bodies)."""
    if mode == "warm":
        for body in bodies:
            decoder(body)
    best, rows = float("inf"), 0
    for _ in range(repeat):
        seconds, rows = 0.0, 0
        if mode == "first":
            clear_caches()
        for body in bodies:
            if mode == "cold":
                clear_caches()
            began = time.process_time()
            rows += decoder(body).samples.num_rows
            seconds += time.process_time() - began
        best = min(best, seconds)
    return rows / best, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[10_000, 100_000], help="samples per body")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one body of 10,000 samples, best of 2")
    args = parser.parse_args()
    sizes, repeat = ([10_000], 2) if args.quick else (args.samples, args.repeat)
    print(f"{'payload':<16} {'samples':>9} {'body MiB':>9} {'cold/s':>12} {'warm/s':>12}")
    for n in sizes:
        for name, (body, decoder) in payloads(n).items():
            cold, rows = decode_rate([body], decoder, repeat, "cold")
            warm, _ = decode_rate([body], decoder, repeat, "warm")
            if rows != n:
                raise SystemExit(f"{name}: decoded {rows} samples, expected {n}")
            print(f"{name:<16} {n:>9,} {len(body) / 2**20:>9.2f} {cold:>12,.0f} {warm:>12,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
