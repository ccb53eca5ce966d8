"""OTLP decoding: the OpenTelemetry SDK's OTLP/HTTP exporter pushing to a capture server, the same request as
OTLP JSON, a hand-written OTLP JSON document, name mapping and bad bodies."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from engmetrics.errors import InputError
from engmetrics.telemetry.otlp import decode_otlp, decode_otlp_json, decode_otlp_protobuf, label_name, metric_name


def _sdk_body(capture) -> bytes:
    """Record known values with the SDK and export them once over OTLP/HTTP (protobuf) to `capture`."""
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{capture.url}/v1/metrics"),
                                           export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "checkout", "service.namespace": "shop",
                                "service.instance.id": "i-1", "host.name": "box"})
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("engmetrics.test", "1.2")
    requests = meter.create_counter("http.server.requests")
    requests.add(5, {"http.route": "/pay", "code": 200})
    requests.add(3, {"http.route": "/pay", "code": 200})
    requests.add(2, {"http.route": "/cart", "code": 500})
    depth = meter.create_up_down_counter("queue.depth")
    depth.add(4)
    depth.add(-1)
    duration = meter.create_histogram("http.server.duration", unit="ms",
                                      explicit_bucket_boundaries_advisory=[10, 100, 1000])
    for ms in (3, 7, 7, 120, 20000):
        duration.record(ms, {"http.route": "/pay"})
    provider.force_flush()
    provider.shutdown()
    assert capture.wait_for(lambda r: len(r) >= 1, timeout=10)
    path, headers, body = capture.requests[0]
    assert (path, headers["content-type"]) == ("/v1/metrics", "application/x-protobuf")
    return gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body


def test_sdk_export_decodes_to_the_recorded_values(capture):
    body = _sdk_body(capture)
    decoded = decode_otlp(body, "application/x-protobuf")
    assert (decoded.stale, decoded.rejected) == (0, 0)
    common = 'instance="i-1",job="shop/checkout",otel_scope_name="engmetrics.test",otel_scope_version="1.2"'
    pay = f'http_route="/pay",{common}'
    scope = 'otel_scope_name="engmetrics.test",otel_scope_version="1.2"'

    def bucket(le: str) -> str:  # labels sorted by name: `le` sits between `job` and `otel_scope_name`
        return f'http_server_duration_bucket{{http_route="/pay",instance="i-1",job="shop/checkout",le="{le}",{scope}}}'

    values = dict(zip(decoded.samples.column("series").to_pylist(), decoded.samples.column("value").to_pylist(),
                      strict=True))
    # counter: 5 + 3 on /pay, 2 on /cart; up-down counter 4 - 1; histogram of 3, 7, 7, 120, 20000 ms:
    # <= 10: 3 points, <= 100: 3, <= 1000: 4, +Inf: 5; sum 3 + 7 + 7 + 120 + 20000 = 20137
    assert values == {
        f'http_server_requests_total{{code="200",{pay}}}': 8.0,
        f'http_server_requests_total{{code="500",http_route="/cart",{common}}}': 2.0,
        f"queue_depth{{{common}}}": 3.0,
        bucket("10"): 3.0,
        bucket("100"): 3.0,
        bucket("1000"): 4.0,
        bucket("+Inf"): 5.0,
        f"http_server_duration_count{{{pay}}}": 5.0,
        f"http_server_duration_sum{{{pay}}}": 20137.0,
    }
    assert json.loads(decoded.samples.column("labels")[0].as_py())["job"] == "shop/checkout"
    kinds = {row["metric"]: row for row in decoded.metrics.to_pylist()}
    assert kinds["http_server_requests_total"] == {
        "metric": "http_server_requests_total", "otlp_name": "http.server.requests", "kind": "sum",
        "temporality": "cumulative", "monotonic": True, "unit": ""}
    assert (kinds["queue_depth"]["kind"], kinds["queue_depth"]["monotonic"]) == ("sum", False)
    assert (kinds["http_server_duration"]["kind"], kinds["http_server_duration"]["unit"]) == ("histogram", "ms")
    assert len(set(decoded.samples.column("ts").to_pylist())) == 1  # one collection, one time

    request = ExportMetricsServiceRequest.FromString(body)
    as_json = json_format.MessageToJson(request, use_integers_for_enums=True)
    assert '"timeUnixNano": "' in as_json  # the OTLP JSON mapping: camelCase, int64 as strings
    assert decode_otlp(as_json.encode(), "application/json; charset=utf-8").samples.equals(decoded.samples)

    promoted = decode_otlp_protobuf(body, resource_labels=["host.name"]).samples
    assert 'host_name="box"' in promoted.column("series")[0].as_py()


SPEC_STYLE_JSON = """{"resourceMetrics": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
  "scopeMetrics": [{"scope": {"name": "s"}, "metrics": [
    {"name": "my.counter", "unit": "1", "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
      {"asInt": "5", "startTimeUnixNano": "1544712600000000000", "timeUnixNano": "1544712660300000000",
       "attributes": [{"key": "my.label", "value": {"stringValue": "x"}},
                      {"key": "ok", "value": {"boolValue": true}},
                      {"key": "tags", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "b"}]}}}],
       "exemplars": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                      "asDouble": 1, "timeUnixNano": "1544712660300000000"}]},
      {"asDouble": 1.5, "timeUnixNano": "1544712660300000000", "flags": 1}]}},
    {"name": "my.exp", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
      {"timeUnixNano": "1544712660300000000", "count": "1"}]}}
  ]}]}]}"""


def test_hand_written_otlp_json():
    decoded = decode_otlp_json(SPEC_STYLE_JSON)
    rows = decoded.samples.to_pylist()
    # 1544712660.3 s after the epoch is 2018-12-13T14:51:00.3Z (date -u -d @1544712660.3)
    assert rows == [{
        "series": 'my_counter_total{job="api",my_label="x",ok="true",otel_scope_name="s",tags="[1, \\"b\\"]"}',
        "ts": datetime(2018, 12, 13, 14, 51, 0, 300000, tzinfo=UTC), "metric": "my_counter_total",
        "labels": '{"job": "api", "my_label": "x", "ok": "true", "otel_scope_name": "s", "tags": "[1, \\"b\\"]"}',
        "value": 5.0,
    }]
    assert decoded.stale == 1  # the point flagged "no recorded value"
    assert decoded.rejected == 1 and "exponential_histogram is not supported" in decoded.reasons[0]
    assert decoded.metrics.to_pylist()[0]["temporality"] == "cumulative"


def test_delta_temporality_is_refused_with_a_reason():
    # the same counter sent as delta (aggregationTemporality 1): both points refused, nothing stored
    decoded = decode_otlp_json(SPEC_STYLE_JSON.replace('"aggregationTemporality": 2, "isMonotonic"',
                                                       '"aggregationTemporality": 1, "isMonotonic"'))
    assert decoded.samples.num_rows == 0
    assert decoded.rejected == 3  # 2 delta points + the exponential histogram
    assert any("my.counter: delta temporality is not supported" in reason for reason in decoded.reasons)


def test_an_empty_request_gives_an_empty_batch():
    for decoded in (decode_otlp_protobuf(b""), decode_otlp_json("{}")):
        assert (decoded.samples.num_rows, decoded.metrics.num_rows, decoded.rejected) == (0, 0, 0)


def test_histogram_points_that_do_not_add_up_are_rejected():
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="lat")
    metric.histogram.data_points.add(time_unix_nano=1, explicit_bounds=[1, 2], bucket_counts=[1, 1], count=2)
    metric.histogram.data_points.add(time_unix_nano=1, explicit_bounds=[2, 1], bucket_counts=[1, 1, 0], count=2)
    metric.histogram.data_points.add(time_unix_nano=0, explicit_bounds=[1], bucket_counts=[1, 1], count=2)
    decoded = decode_otlp_protobuf(request.SerializeToString())
    assert (decoded.samples.num_rows, decoded.rejected) == (0, 3)


@pytest.mark.parametrize(("name", "expected"), [
    ("http.server.duration", "http_server_duration"), ("a-b/c", "a_b_c"), ("a__b", "a_b"), ("1x", "_1x"),
    ("ns:sub.metric", "ns:sub_metric"), ("ünits", "_nits"),
])
def test_metric_names(name, expected):
    assert metric_name(name) == expected


def test_counter_suffix_and_label_collisions():
    assert metric_name("requests_total", counter=True) == "requests_total"
    assert metric_name("requests", counter=True) == "requests_total"
    assert label_name("0a.b") == "key_0a_b"
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="g")
    point = metric.gauge.data_points.add(time_unix_nano=1_000, as_double=1.0)
    point.attributes.add(key="a.b").value.string_value = "second"
    point.attributes.add(key="a-b").value.string_value = "first"  # "a-b" < "a.b": its value comes first
    assert decode_otlp_protobuf(request.SerializeToString()).samples.column("series").to_pylist() == [
        'g{a_b="first;second"}']


@pytest.mark.parametrize(("body", "kind", "message"), [
    (b"\xff\xff", "application/x-protobuf", "not a valid ExportMetricsServiceRequest"),
    (b'{"resourceMetrics": [', "application/json", "request body:1:22: OTLP JSON body: not JSON"),
    (b"[1]", "application/json", "expected an object"),
    (b'{"resourceMetrics": [{"scopeMetrics": 3}]}', "application/json", "not an ExportMetricsServiceRequest"),
    (b"{}", "text/plain", "expected application/x-protobuf or application/json"),
])
def test_bad_bodies(body, kind, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        decode_otlp(body, kind)
