"""OTLP/HTTP metrics: decode an `ExportMetricsServiceRequest` (protobuf or the OTLP JSON mapping) into a samples
batch with Prometheus names, as OpenTelemetry's Prometheus compatibility specification maps them.

Names. A metric name keeps `[a-zA-Z0-9_:]`; every other character becomes `_`, runs of `_` become one, and a
leading digit gets a `_` in front. A monotonic sum is a counter and gets `_total` (unless the name has it
already). Units are not appended as suffixes; the unit is kept in the `metrics` side table instead.

Labels. Data point attributes become labels: names keep `[a-zA-Z0-9_]` (others become `_`, runs of `_` one,
a leading digit gets `key_` in front); when two attributes map to the same label their values are joined with
`;` in the order of the original keys. Values: strings as they are, booleans `true`/`false`, numbers as
text, arrays and maps as JSON, bytes as base64. Of the resource, only `service.name` (with
`service.namespace/` before it when set) becomes `job` and `service.instance.id` becomes `instance`, as the
specification says; other resource attributes are labels only when named in `resource_labels` (sanitised the
same way). The scope adds `otel_scope_name` and `otel_scope_version` when set. On a clash a data point
attribute wins over a scope label, and a scope label over a resource label.

Points. Gauges and sums give one sample each (`asInt` and `asDouble` alike as float64). A histogram with
explicit buckets gives `<name>_bucket{le="..."}` with cumulative counts (`le` as the shortest decimal, last
`+Inf`), `<name>_count` and `<name>_sum` (when the point has a sum); a summary gives `<name>{quantile=...}`,
`_count` and `_sum`. Timestamps are `timeUnixNano` to the microsecond (floored). A point flagged "no
recorded value" is dropped and counted in `stale`; exponential histograms, points without a value or time,
and histograms whose bucket counts do not match their bounds are counted in `rejected` with a reason.
Sums and histograms with delta temporality are refused (counted in `rejected` with a reason, so the receiver
answers them in `partial_success`): everything downstream treats counters as cumulative. The `metrics` side
table records each metric's `metric`, `otlp_name`, `kind`, `temporality`, `monotonic`, `unit`.

Decoding. A protobuf body's gauge and sum points are read as arrays (`otlp_points`), their series texts
made once per distinct attribute set and kept in `otlp_points.OTLP_SERIES_CACHE`; the other kinds, JSON
bodies and points in unusual shapes go message by message (`decode_request`), with the same result.

>>> from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
>>> request = ExportMetricsServiceRequest()
>>> metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="http.server.requests")
>>> metric.sum.is_monotonic, metric.sum.aggregation_temporality = True, 2
>>> point = metric.sum.data_points.add(time_unix_nano=1_700_000_000_123_456_789, as_int=7)
>>> point.attributes.add(key="http.route").value.string_value = "/pay"
>>> decode_otlp_protobuf(request.SerializeToString()).samples.column("series").to_pylist()
['http_server_requests_total{http_route="/pay"}']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from ..errors import InputError
from .batch import Decoded, build_batch
from .otlp_labels import label_name, labels_of, labels_of_resource, le_text, metric_name
from .otlp_points import MIRROR, NO_RECORDED_VALUE, NumberPoints

__all__ = ["decode_otlp", "decode_otlp_json", "decode_otlp_protobuf", "decode_request", "label_name", "metric_name"]

_DELTA = 1
_TEMPORALITY = {_DELTA: "delta", 2: "cumulative"}


class _Rows:
    """Accumulates one-sample series: names, flat labels and the sample of each."""

    def __init__(self) -> None:
        self.metrics: list[str] = []
        self.names: list[str] = []
        self.texts: list[str] = []
        self.label_counts: list[int] = []
        self.times: list[int] = []
        self.values: list[float] = []
        self.stale = 0
        self.reasons: dict[str, int] = {}
        self.kinds: dict[str, tuple[str, str, str | None, bool | None, str]] = {}
        self.label_names: dict[str, str] = {}
        self.fast: NumberPoints | None = None  # gauge and sum points read as arrays (protobuf bodies)
        self.marks: list[int] = []  # for each metric in `fast`: the number of rows added before it

    def add(self, metric: str, labels: Mapping[str, str], ts_nano: int, value: float) -> None:
        self.metrics.append(metric)
        self.names += labels.keys()
        self.texts += labels.values()
        self.label_counts.append(len(labels))
        self.times.append(ts_nano // 1000)
        self.values.append(value)

    def reject(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    def numbers(self, name: str, metric, base: dict[str, str], points, raw) -> None:
        """A gauge's or sum's points: into `fast` when there are raw points (`raw`), else one by one."""
        if self.fast is None or raw is None:
            _numbers(self, metric, name, base, points)
        else:
            self.marks.append(len(self.metrics))
            self.fast.add(name, metric.name, base, raw, points)

    def _batch(self) -> pa.Table | None:
        """The rows in request order (None when a point of `fast` needs the object path)."""
        n = len(self.metrics)
        batch = None if self.marks and not n else build_batch(
            self.metrics, np.repeat(np.arange(n), self.label_counts), self.names, self.texts, np.arange(n),
            np.array(self.times, dtype=np.int64), np.array(self.values))
        if not self.marks:
            return batch
        fast, counts, stale, reasons = self.fast.rows()
        if not self.fast.regular:
            return None
        self.stale += stale
        for reason, count in reasons:
            self.reject(reason, count)
        if batch is None:
            return fast
        starts, order, done = np.cumsum(counts) - counts + n, [], 0
        for mark, start, count in zip(self.marks, starts.tolist(), counts.tolist(), strict=True):
            order += [np.arange(done, mark), np.arange(start, start + count)]
            done = mark
        order.append(np.arange(done, n))
        return pa.concat_tables([batch, fast]).take(pa.array(np.concatenate(order)))

    def decoded(self) -> Decoded | None:
        """The request's samples and counts; None when the object path must decode it instead."""
        batch = self._batch()
        if batch is None:
            return None
        kinds = list(self.kinds.values())
        side = pa.table({name: pa.array([k[i] for k in kinds], kind) for i, (name, kind) in enumerate(
            (("metric", pa.string()), ("otlp_name", pa.string()), ("kind", pa.string()),
             ("temporality", pa.string()), ("monotonic", pa.bool_()), ("unit", pa.string())))})
        reasons = tuple(f"{count} {reason}" for reason, count in sorted(self.reasons.items()))
        return Decoded(batch, stale=self.stale, rejected=sum(self.reasons.values()), reasons=reasons, metrics=side)


def _usable(rows: _Rows, point, name: str) -> bool:
    """False (and counted) for a point flagged "no recorded value" or without a time."""
    if point.flags & NO_RECORDED_VALUE:
        rows.stale += 1
        return False
    if not point.time_unix_nano:
        rows.reject(f"points of {name} without timeUnixNano")
        return False
    return True


def _numbers(rows: _Rows, metric, name: str, base: dict[str, str], points) -> None:
    for point in points:
        kind = point.WhichOneof("value")
        if not _usable(rows, point, metric.name):
            continue
        if kind is None:
            rows.reject(f"points of {metric.name} without a value")
            continue
        labels = {**base, **labels_of(point.attributes, rows.label_names)}
        rows.add(name, labels, point.time_unix_nano, float(getattr(point, kind)))


def _histogram(rows: _Rows, metric, name: str, base: dict[str, str]) -> None:
    for point in metric.histogram.data_points:
        if not _usable(rows, point, metric.name):
            continue
        bounds, counts = list(point.explicit_bounds), list(point.bucket_counts)
        if counts and (len(counts) != len(bounds) + 1 or bool(np.any(np.diff(bounds) <= 0))):
            rows.reject(f"points of {metric.name} whose bucket counts do not match increasing bounds")
            continue
        labels, at = {**base, **labels_of(point.attributes, rows.label_names)}, point.time_unix_nano
        for bound, total in zip([*bounds, np.inf], np.cumsum(counts, dtype=np.float64), strict=False):
            rows.add(f"{name}_bucket", {**labels, "le": le_text(bound)}, at, float(total))
        rows.add(f"{name}_count", labels, at, float(point.count))
        if point.HasField("sum"):
            rows.add(f"{name}_sum", labels, at, point.sum)


def _summary(rows: _Rows, metric, name: str, base: dict[str, str]) -> None:
    for point in metric.summary.data_points:
        if not _usable(rows, point, metric.name):
            continue
        labels, at = {**base, **labels_of(point.attributes, rows.label_names)}, point.time_unix_nano
        for q in point.quantile_values:
            rows.add(name, {**labels, "quantile": le_text(q.quantile)}, at, q.value)
        rows.add(f"{name}_count", labels, at, float(point.count))
        rows.add(f"{name}_sum", labels, at, point.sum)


_DELTA_REFUSED = ("points of {name}: delta temporality is not supported (the store keeps cumulative counters; "
                  "configure the exporter for cumulative temporality)")


def _metric(rows: _Rows, metric, base: dict[str, str], raw) -> None:
    """One metric's rows; `raw` is the same metric in the `MIRROR` parse (or None)."""
    kind = metric.WhichOneof("data")
    if kind in ("sum", "histogram") and getattr(metric, kind).aggregation_temporality == _DELTA:
        rows.reject(_DELTA_REFUSED.format(name=metric.name), max(len(getattr(metric, kind).data_points), 1))
    elif kind == "gauge":
        name = metric_name(metric.name)
        rows.numbers(name, metric, base, metric.gauge.data_points, raw and raw.gauge.data_points)
        rows.kinds[name] = (name, metric.name, "gauge", None, None, metric.unit)
    elif kind == "sum":
        monotonic = metric.sum.is_monotonic
        name = metric_name(metric.name, counter=monotonic)
        rows.numbers(name, metric, base, metric.sum.data_points, raw and raw.sum.data_points)
        rows.kinds[name] = (name, metric.name, "sum", _TEMPORALITY.get(metric.sum.aggregation_temporality),
                            monotonic, metric.unit)
    elif kind == "histogram":
        name = metric_name(metric.name)
        _histogram(rows, metric, name, base)
        rows.kinds[name] = (name, metric.name, "histogram",
                            _TEMPORALITY.get(metric.histogram.aggregation_temporality), None, metric.unit)
    elif kind == "summary":
        name = metric_name(metric.name)
        _summary(rows, metric, name, base)
        rows.kinds[name] = (name, metric.name, "summary", "cumulative", None, metric.unit)
    else:
        points = len(getattr(metric, kind).data_points) if kind else 0
        rows.reject(f"points of {metric.name}: {kind or 'no data'} is not supported", max(points, 1))


def decode_request(request: ExportMetricsServiceRequest, resource_labels: Iterable[str] = (),
                   mirror=None) -> Decoded:
    """The samples of a parsed request (see the module docstring for names, labels and points). `mirror` is
    the same body parsed as `otlp_points.MIRROR`: the number points are then read as arrays."""
    rows, promoted = _Rows(), frozenset(resource_labels)
    rows.fast = None if mirror is None else NumberPoints()
    for r, resource_metrics in enumerate(request.resource_metrics):
        resource = labels_of_resource(resource_metrics.resource.attributes, promoted)
        for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
            scope = {k: v for k, v in (("otel_scope_name", scope_metrics.scope.name),
                                       ("otel_scope_version", scope_metrics.scope.version)) if v}
            base = {**resource, **scope}
            raws = None if mirror is None else mirror.resource_metrics[r].scope_metrics[s].metrics
            for m, metric in enumerate(scope_metrics.metrics):
                _metric(rows, metric, base, None if raws is None else raws[m])
    decoded = rows.decoded()
    return decode_request(request, resource_labels) if decoded is None else decoded


def decode_otlp_protobuf(body: bytes, resource_labels: Iterable[str] = ()) -> Decoded:
    """Decode an OTLP/HTTP protobuf body (`application/x-protobuf`); gauge and sum points are read as
    arrays (`otlp_points`), with the texts of series seen before taken from `OTLP_SERIES_CACHE`."""
    try:
        request = ExportMetricsServiceRequest.FromString(body)
        mirror = MIRROR.FromString(body)
    except DecodeError as e:
        raise InputError(f"OTLP body: not a valid ExportMetricsServiceRequest protobuf ({e})") from None
    return decode_request(request, resource_labels, mirror)


def _drop_exemplars(data: object) -> None:
    """Exemplars are not decoded; dropping them also spares their hex trace ids the protobuf JSON parser,
    which would read them as base64."""
    for resource_metrics in data.get("resourceMetrics", data.get("resource_metrics", [])) or []:
        for scope in resource_metrics.get("scopeMetrics", resource_metrics.get("scope_metrics", [])) or []:
            for metric in scope.get("metrics", []) or []:
                for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram"):
                    points = (metric.get(kind) or {}).get("dataPoints", (metric.get(kind) or {}).get("data_points"))
                    for point in points or []:
                        point.pop("exemplars", None)


def decode_otlp_json(body: bytes | str, resource_labels: Iterable[str] = ()) -> Decoded:
    """Decode an OTLP/HTTP JSON body (`application/json`: camelCase keys, int64 as strings, enums as numbers)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = dict(line=e.lineno, column=e.colno) if isinstance(e, json.JSONDecodeError) else {}
        raise InputError(f"OTLP JSON body: not JSON ({e})", file="request body", **where) from None
    if not isinstance(data, dict):
        raise InputError("OTLP JSON body: expected an object with resourceMetrics", file="request body")
    try:
        _drop_exemplars(data)
        request = json_format.ParseDict(data, ExportMetricsServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, AttributeError, TypeError) as e:
        raise InputError(f"OTLP JSON body: not an ExportMetricsServiceRequest ({e})", file="request body") from None
    return decode_request(request, resource_labels)


def decode_otlp(body: bytes, content_type: str, resource_labels: Iterable[str] = ()) -> Decoded:
    """Decode by content type: `application/x-protobuf` or `application/json` (parameters ignored)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/x-protobuf":
        return decode_otlp_protobuf(body, resource_labels)
    if media == "application/json":
        return decode_otlp_json(body, resource_labels)
    raise InputError(f"OTLP content type {content_type!r}: expected application/x-protobuf or application/json")
