"""OTLP number points read as arrays (`telemetry.otlp_points`): hand-checked rows, bodies in unusual shapes,
and, for generated requests of every kind, the same answer as the object-by-object path the other OTLP
tests pin (`decode_request` on the parsed message), cold and with the series cache warm."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from engmetrics.telemetry.otlp import decode_otlp_protobuf, decode_request
from engmetrics.telemetry.otlp_points import MIRROR, OTLP_SERIES_CACHE, NumberPoints
from engmetrics.telemetry.series_cache import SeriesCache

T = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z in ns


def _bits(table) -> list[int]:
    """The values' bit patterns (NaN equals NaN, -0.0 differs from 0.0)."""
    return table.column("value").to_numpy().view(np.uint64).tolist()


def _same_as_object_path(body: bytes) -> None:
    reference = decode_request(ExportMetricsServiceRequest.FromString(body))
    OTLP_SERIES_CACHE.clear()
    for _ in range(2):  # cold, then every series from the cache
        got = decode_otlp_protobuf(body)
        assert got.samples.drop_columns(["value"]).equals(reference.samples.drop_columns(["value"]))
        assert _bits(got.samples) == _bits(reference.samples)
        assert (got.stale, got.rejected, got.reasons) == (reference.stale, reference.rejected, reference.reasons)
        assert got.metrics.equals(reference.metrics)


def test_hand_checked_rows_with_a_histogram_between_two_gauges():
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    first = scope.metrics.add(name="queue.depth")
    first.gauge.data_points.add(time_unix_nano=T, as_int=4).attributes.add(key="queue").value.string_value = "mail"
    first.gauge.data_points.add(time_unix_nano=T + 1500, as_double=2.5).attributes.add(
        key="queue").value.string_value = "sms"
    histogram = scope.metrics.add(name="lat")
    histogram.histogram.aggregation_temporality = 2
    histogram.histogram.data_points.add(time_unix_nano=T, count=3, explicit_bounds=[1.0], bucket_counts=[1, 2])
    last = scope.metrics.add(name="up")
    last.gauge.data_points.add(time_unix_nano=T, as_double=1.0, flags=1)  # no recorded value: stale
    last.gauge.data_points.add(as_double=1.0)  # no time: rejected
    last.gauge.data_points.add(time_unix_nano=T)  # no value: rejected
    decoded = decode_otlp_protobuf(request.SerializeToString())
    rows = decoded.samples.to_pylist()
    # order of the request: queue.depth's two points, the histogram's rows (bucket le=1: 1, le=+Inf: 1 + 2,
    # count 3; no sum), nothing of `up`; 1500 ns after T is 1 us after (floored)
    assert [(r["series"], r["value"]) for r in rows] == [
        ('queue_depth{queue="mail"}', 4.0), ('queue_depth{queue="sms"}', 2.5),
        ('lat_bucket{le="1"}', 1.0), ('lat_bucket{le="+Inf"}', 3.0), ("lat_count", 3.0)]
    assert rows[1]["ts"] == datetime(2023, 11, 14, 22, 13, 20, 1, tzinfo=UTC)
    assert rows[0]["labels"] == '{"queue": "mail"}'
    assert (decoded.stale, decoded.rejected) == (1, 2)
    assert decoded.reasons == ("1 points of up without a value", "1 points of up without timeUnixNano")


def _point(*fields: bytes) -> bytes:
    return b"".join(fields)


def _fixed(number: int, value: int) -> bytes:
    return bytes([number << 3 | 1]) + struct.pack("<Q", value)


def _attribute(key: bytes, value: bytes, long_length: bool = False) -> bytes:
    # KeyValue{key (1), value (2): AnyValue{string_value (1)}}
    any_value = b"\x0a" + bytes([len(value)]) + value
    kv = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(any_value)]) + any_value
    length = bytes([len(kv) | 0x80, 0x00]) if long_length else bytes([len(kv)])  # 2-byte varint: not minimal
    return b"\x3a" + length + kv


def _body(points: list[bytes]) -> bytes:
    # ExportMetricsServiceRequest{resource_metrics (1){scope_metrics (2){metrics (2){name (1), gauge (5){
    # data_points (1)}}}}}, every length under 128 here
    gauge = b"".join(b"\x0a" + bytes([len(p)]) + p for p in points)
    metric = b"\x0a\x01g" + b"\x2a" + bytes([len(gauge)]) + gauge
    scope = b"\x12" + bytes([len(metric)]) + metric
    resource = b"\x12" + bytes([len(scope)]) + scope
    return b"\x0a" + bytes([len(resource)]) + resource


@pytest.mark.parametrize("points", [
    # time written twice: the last one counts (the object path is taken for the whole body)
    [_point(_fixed(3, T), _fixed(3, T + 2000), _fixed(4, 0x3FF0000000000000), _attribute(b"a", b"x"))],
    # attributes on both sides of the value: not one run of bytes, so not kept in the cache
    [_point(_attribute(b"a", b"x"), _fixed(3, T), _fixed(4, 0x3FF0000000000000), _attribute(b"b", b"y"))],
    # an attribute length written in two bytes (valid protobuf, not the shortest form)
    [_point(_fixed(3, T), _fixed(4, 0x3FF0000000000000), _attribute(b"a", b"x", long_length=True))],
    # an exemplar (field 5, an empty message here) before the value: skipped, the point stays on the fast path
    [_point(_fixed(3, T), b"\x2a\x00", _fixed(4, 0x3FF0000000000000), _attribute(b"a", b"x"))],
    # an unknown field (number 15, varint)
    [_point(_fixed(3, T), _fixed(4, 0x3FF0000000000000), b"\x78\x01")],
])
def test_unusual_shapes_decode_as_the_message_says(points):
    _same_as_object_path(_body(points))


def test_a_non_shortest_length_is_not_a_cache_key():
    points = NumberPoints(SeriesCache())
    raw = [_point(_fixed(3, T), _fixed(4, 0x3FF0000000000000), _attribute(b"a", b"x", long_length=True)),
           _point(_fixed(3, T), _fixed(4, 0x3FF0000000000000), _attribute(b"a", b"x"))]
    points.add("g", "g", {}, raw)
    table, counts, _, _ = points.rows()
    # 1.0 is 0x3FF0000000000000; both points are g{a="x"}, only the second is remembered
    assert table.column("series").to_pylist() == ['g{a="x"}', 'g{a="x"}'] and counts.tolist() == [2]
    assert len(points.cache) == 1


def test_the_mirror_hands_over_the_point_bytes():
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="c")
    metric.sum.data_points.add(time_unix_nano=T, as_int=7)
    raw = MIRROR.FromString(request.SerializeToString()).resource_metrics[0].scope_metrics[0].metrics[0]
    # time_unix_nano (field 3, fixed64: 0x19) then as_int (field 6, sfixed64: 0x31)
    assert list(raw.sum.data_points) == [b"\x19" + struct.pack("<Q", T) + b"\x31" + struct.pack("<q", 7)]


# keys that map to one label name, need a prefix, or override the resource's `job` and the scope's name
_keys = st.sampled_from(["http.route", "http_route", "code", "9lives", "a.b", "a-b", "pod", "job", "otel_scope_name"])
_values = st.one_of(st.text(max_size=6), st.text(max_size=6), st.booleans(), st.integers(-5, 5),
                    st.floats(allow_nan=False), st.lists(st.integers(0, 3), max_size=2), st.binary(max_size=3))
_points = st.lists(st.tuples(st.dictionaries(_keys, _values, max_size=3), st.sampled_from([0, T, T + 999]),
                             st.sampled_from([None, 0, -3, 2.5, float("nan"), -0.0]), st.sampled_from([0, 1])),
                   max_size=4)
_metrics = st.lists(st.tuples(st.sampled_from(["gauge", "sum", "counter", "delta", "histogram"]),
                              st.sampled_from(["m.a", "m.b", "jobs"]), _points), min_size=1, max_size=4)


def _set(value, any_value) -> None:
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, bytes):
        any_value.bytes_value = value
    elif isinstance(value, list):
        for item in value:
            any_value.array_value.values.add().int_value = item
    else:
        any_value.string_value = value


@settings(max_examples=150, deadline=None)
@given(_metrics, st.booleans())
def test_generated_requests_decode_like_the_object_path(metrics, two_scopes):
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "svc"
    scopes = [resource.scope_metrics.add() for _ in range(1 + two_scopes)]
    scopes[-1].scope.name = "lib"
    for k, (kind, name, points) in enumerate(metrics):
        metric = scopes[k % len(scopes)].metrics.add(name=name)
        for attributes, t, value, flags in points:
            if kind == "histogram":
                metric.histogram.aggregation_temporality = 2
                point = metric.histogram.data_points.add(time_unix_nano=t, count=1, flags=flags)
            else:
                data = metric.gauge if kind == "gauge" else metric.sum
                if kind != "gauge":
                    data.aggregation_temporality = 1 if kind == "delta" else 2
                    data.is_monotonic = kind == "counter"
                point = data.data_points.add(time_unix_nano=t, flags=flags)
                if isinstance(value, int):
                    point.as_int = value
                elif value is not None:
                    point.as_double = value
            for key, attribute in attributes.items():
                _set(attribute, point.attributes.add(key=key).value)
    _same_as_object_path(request.SerializeToString())


def test_string_attributes_override_the_resource_and_colliding_keys_join():
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "checkout"  # job="checkout"
    metric = resource.scope_metrics.add().metrics.add(name="g")
    plain, override, collide, empty = (metric.gauge.data_points.add(time_unix_nano=T, as_double=1.0) for _ in range(4))
    plain.attributes.add(key="http.route").value.string_value = "/pay"
    override.attributes.add(key="job").value.string_value = "mine"
    collide.attributes.add(key="http_route").value.string_value = "/b"
    collide.attributes.add(key="http.route").value.string_value = "/a"
    empty.attributes.add(key="code").value.string_value = ""
    OTLP_SERIES_CACHE.clear()
    series = decode_otlp_protobuf(request.SerializeToString()).samples.column("series").to_pylist()
    # "http.route" and "http_route" both give http_route: values joined by ";" in the order of the original
    # keys ("http.route" < "http_route"); the point's job wins over the resource's
    assert series == ['g{http_route="/pay",job="checkout"}', 'g{job="mine"}',
                      'g{http_route="/a;/b",job="checkout"}', 'g{code="",job="checkout"}']
