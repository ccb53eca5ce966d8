"""Raw decode rate of telemetry payloads: remote-write (snappy + protobuf) and OTLP (protobuf and JSON).

Builds payloads shaped like real traffic (remote-write: one sample per series with six labels, as Prometheus
sends them; OTLP: one resource and scope, counter data points with three attributes), then times the
decoders alone, best of `--repeat`. This is the ceiling an end-to-end receiver can reach; the receiver
benchmark (`benchmarks/telemetry.py`) imports `payloads` and `decode_rate` to print it beside its own rate.
Issue 10's end-to-end targets: 200k samples/s remote-write, 100k samples/s OTLP.

    python benchmarks/telemetry_decode.py [--samples 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from common import best_of
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from engmetrics.telemetry.batch import Decoded
from engmetrics.telemetry.otlp import decode_otlp_json, decode_otlp_protobuf
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request

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


def decode_rate(body: bytes, decoder: Callable[[bytes], Decoded], repeat: int = 3) -> tuple[float, int]:
    """(samples per second of the best run, samples decoded)."""
    best, _, decoded = best_of(repeat, lambda: decoder(body))
    return decoded.samples.num_rows / best, decoded.samples.num_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'payload':<16} {'samples':>9} {'body MiB':>9} {'samples/s':>12}")
    for n in args.samples:
        for name, (body, decoder) in payloads(n).items():
            rate, rows = decode_rate(body, decoder, args.repeat)
            if rows != n:
                raise SystemExit(f"{name}: decoded {rows} samples, expected {n}")
            print(f"{name:<16} {n:>9,} {len(body) / 2**20:>9.2f} {rate:>12,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
