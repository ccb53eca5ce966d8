"""Prometheus remote-write 1.0: decode a request body into a samples batch, and encode one (load generator, tests).

The body is a snappy block (not framed) holding a protobuf `prometheus.WriteRequest`. The message types are
built here from the public wire contract (field numbers and types), not from Prometheus' .proto files:

    WriteRequest { repeated TimeSeries timeseries = 1 }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2 }
    Label        { string name = 1; string value = 2 }
    Sample       { double value = 1; int64 timestamp = 2 }     (milliseconds since the epoch)

so protobuf's upb runtime parses and checks the whole body (wire format, UTF-8). The columns are then read
from the same checked bytes with numpy: upb hands over each series' bytes (a `repeated bytes` view of field
1), and the fields of all series, labels and samples are found a round at a time, every message at once
(`telemetry.wire`), with the common fixed shapes of Label and Sample read directly once each byte of the
shape is verified. Prometheus sends every active series in every round with one new sample, so the texts
of a series (key, labels JSON, metric) are made once and kept in `SERIES_CACHE` under the series' label
bytes (`telemetry.series_cache`). A Python loop per series or label would cap decoding near 100k
samples/s; this runs near 250-330k samples/s for new series and 550-750k for series seen before on the
project's 2-core machine (CPU time, `benchmarks/telemetry_decode.py`). Other fields (metadata, exemplars, native
histograms) are skipped as unknown. Stale markers (the NaN with bits 0x7ff0000000000002 that Prometheus
writes when a series disappears) are dropped and counted in `Decoded.stale`.

>>> body = encode_write_request([({"__name__": "up", "job": "node"}, [(1.0, 1_700_000_000_000)])])
>>> decoded = decode_write_request(body)
>>> decoded.samples.column("series").to_pylist(), decoded.samples.column("value").to_pylist()
(['up{job="node"}'], [1.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cramjam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from ..errors import InputError
from . import wire
from .batch import SCHEMA, Decoded, series_texts
from .series_cache import SeriesCache

__all__ = ["MAX_BODY_BYTES", "SERIES_CACHE", "STALE_NAN_BITS", "decode_write_request", "encode_write_request"]

STALE_NAN_BITS = 0x7FF0000000000002  # Prometheus' staleness marker
MAX_BODY_BYTES = 64 << 20  # largest uncompressed request accepted (Prometheus sends a few MiB at most)
_MAX_MS = (2**63 - 1) // 1000  # the largest time in ms that microseconds still hold
SERIES_CACHE = SeriesCache()  # the texts of recently seen series, shared by every request

_F = descriptor_pb2.FieldDescriptorProto
_MESSAGES: dict[str, tuple[tuple[str, int, int, str], ...]] = {
    "WriteRequest": (("timeseries", 1, _F.TYPE_MESSAGE, ".prometheus.TimeSeries"),),
    "TimeSeries": (("labels", 1, _F.TYPE_MESSAGE, ".prometheus.Label"),
                   ("samples", 2, _F.TYPE_MESSAGE, ".prometheus.Sample")),
    "Label": (("name", 1, _F.TYPE_STRING, ""), ("value", 2, _F.TYPE_STRING, "")),
    "Sample": (("value", 1, _F.TYPE_DOUBLE, ""), ("timestamp", 2, _F.TYPE_INT64, "")),
    "WriteRequestSegments": (("timeseries", 1, _F.TYPE_BYTES, ""),),  # each series' bytes, unparsed
}


def _build_classes() -> dict[str, type]:
    """The message classes, in a private descriptor pool (no clash with other `prometheus` protos)."""
    proto = descriptor_pb2.FileDescriptorProto(name="engmetrics/remote_write.proto", package="prometheus",
                                               syntax="proto3")
    for message, fields in _MESSAGES.items():
        m = proto.message_type.add(name=message)
        for name, number, kind, type_name in fields:
            label = _F.LABEL_REPEATED if kind in (_F.TYPE_MESSAGE, _F.TYPE_BYTES) else _F.LABEL_OPTIONAL
            m.field.add(name=name, number=number, type=kind, label=label, type_name=type_name or None)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{name}"))
            for name in _MESSAGES}


_CLASSES = _build_classes()


def _uncompress(body: bytes, max_bytes: int) -> bytes:
    try:
        size = cramjam.snappy.decompress_raw_len(body)
        if size > max_bytes:
            raise InputError(f"remote-write body: uncompressed size {size:,} bytes is over the limit of "
                             f"{max_bytes:,}")
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as e:
        raise InputError(f"remote-write body: not a snappy block ({e}); expected a snappy-compressed "
                         "prometheus.WriteRequest") from None


def _labels(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """((name starts, name lengths), (value starts, value lengths)) of Label messages. Most are written
    `0x0a len name 0x12 len value` with both under 128 bytes: those are read directly once every byte of that
    shape is checked; the others go through `_fields`."""
    name_len = buf[start + 1].astype(np.int64)
    after = start + 2 + name_len
    value_len = buf[np.minimum(after + 1, buf.size - 1)].astype(np.int64)
    simple = ((buf[start] == 0x0A) & (name_len < 0x80) & (2 + name_len + 2 <= length)
              & (buf[np.minimum(after, buf.size - 1)] == 0x12)
              & (value_len < 0x80) & (2 + name_len + 2 + value_len == length))
    names, values = (start + 2, name_len), (after + 2, value_len)
    other = np.flatnonzero(~simple)
    if other.size:
        fields = wire.fields(buf, start[other], start[other] + length[other])
        for (starts, lengths), number in ((names, 1), (values, 2)):
            starts[other], lengths[other] = wire.pick(fields, number, 2, other.size)
    return names, values


def _samples(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, timestamps in ms) of Sample messages. Most are written `0x09 <8-byte double> 0x10 <varint>`:
    those are read directly once that shape is checked; the others (a zero value or time left out, fields in
    another order, unknown fields) go through `_fields`, where a missing field is 0."""
    value = buf[start[:, None] + np.arange(1, 9)].copy().view("<f8").ravel()
    stamp, size = wire.varints(buf, start + 10)
    times = stamp.view(np.int64)
    simple = (buf[start] == 0x09) & (buf[start + 9] == 0x10) & (10 + size == length)
    other = np.flatnonzero(~simple)
    if other.size:
        fields = wire.fields(buf, start[other], start[other] + length[other])
        value_at, has_value = wire.pick(fields, 1, 1, other.size)
        value[other] = np.where(has_value > 0, buf[value_at[:, None] + np.arange(8)].copy().view("<f8").ravel(), 0.0)
        time_at, has_time = wire.pick(fields, 2, 0, other.size)
        times[other] = np.where(has_time > 0, wire.varints(buf, time_at)[0].view(np.int64), 0)
    return value, times


def _metric_names(texts: pa.Array, is_name: np.ndarray, label_series: np.ndarray, numbers: np.ndarray) -> pa.Array:
    """The `__name__` of each series (`numbers`: their numbers in the request); InputError for the first
    series without exactly one, or with an empty one."""
    per_series = np.bincount(label_series[is_name], minlength=numbers.size)
    bad = np.flatnonzero(per_series != 1)
    metrics = texts.filter(pa.array(is_name)).take(pa.array(np.argsort(label_series[is_name], kind="stable")))
    if not bad.size:
        bad = np.flatnonzero(pc.equal(metrics, "").to_numpy(zero_copy_only=False))
    if bad.size:
        raise InputError(f"remote-write timeseries {int(numbers[bad[0]])}: needs exactly one non-empty __name__ "
                         f"label (found {int(per_series[bad[0]])})")
    return metrics


def _series_keys(joined: bytes, firsts: np.ndarray, series_fields: tuple[np.ndarray, ...],
                 is_label: np.ndarray) -> list[bytes | None]:
    """Each series' cache key: its bytes from its start to the end of its last label, when nothing but label
    fields lie there (as every encoder writes them: labels first); None for a series in another order."""
    index, _, _, start, length = series_fields
    label_end, other_start = firsts.copy(), np.full(firsts.size, len(joined), dtype=np.int64)
    np.maximum.at(label_end, index[is_label], start[is_label] + length[is_label])
    np.minimum.at(other_start, index[~is_label], start[~is_label])
    keys = list(map(joined.__getitem__, map(slice, firsts.tolist(), label_end.tolist())))
    for i in np.flatnonzero(other_start < label_end).tolist():
        keys[i] = None
    return keys


def _series_rows(buf: np.ndarray, series_fields: tuple[np.ndarray, ...], is_label: np.ndarray,
                 wanted: np.ndarray, count: int) -> pa.Table:
    """The texts (series key, labels JSON, metric) of the series numbered `wanted` (ascending) of `count`."""
    index, _, _, start, length = series_fields
    local = np.full(count, -1, dtype=np.int64)
    local[wanted] = np.arange(wanted.size)
    mine = is_label & (local[index] >= 0)
    label_series = local[index[mine]]
    name_arr, text_arr = (wire.strings(buf, *where) for where in _labels(buf, start[mine], length[mine]))
    is_name = pc.equal(name_arr, "__name__").to_numpy(zero_copy_only=False)
    metrics = _metric_names(text_arr, is_name, label_series, wanted)
    rest = pa.array(~is_name)
    keys, texts = series_texts(metrics, label_series[~is_name], name_arr.filter(rest), text_arr.filter(rest),
                               numbers=wanted)
    return pa.table({"series": keys, "labels": texts, "metric": metrics})


def decode_write_request(body: bytes, *, compressed: bool = True, max_bytes: int = MAX_BODY_BYTES,
                         cache: SeriesCache | None = None) -> Decoded:
    """The samples of a remote-write request body (snappy-compressed unless `compressed=False`).

    upb parses the body (every message, string and number checked); the columns are then read from the
    same bytes with array operations, a round per field of the longest message rather than a Python step
    per series or label. The texts of a series are made once and kept in `cache` (default: `SERIES_CACHE`,
    keyed by the series' label bytes), so a request of series seen before skips that work. Raises InputError
    for a body that is not snappy, not a WriteRequest, or has a series without exactly one non-empty
    `__name__` label or with a label name twice (saying which series).
    """
    raw = _uncompress(body, max_bytes) if compressed else body
    if len(raw) > max_bytes:
        raise InputError(f"remote-write body: {len(raw):,} bytes is over the limit of {max_bytes:,}")
    try:
        _CLASSES["WriteRequest"].FromString(raw)
        segments = _CLASSES["WriteRequestSegments"].FromString(raw).timeseries
    except DecodeError as e:
        raise InputError(f"remote-write body: not a valid prometheus.WriteRequest protobuf ({e})") from None
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    ends = np.cumsum(lengths)
    joined = b"".join(segments)
    buf = np.frombuffer(joined + bytes(wire.PAD), dtype=np.uint8)
    series_fields = wire.fields(buf, ends - lengths, ends, "remote-write body")
    index, numbers, kinds, start, length = series_fields
    is_label = (numbers == 1) & (kinds == 2)
    is_sample = np.flatnonzero((numbers == 2) & (kinds == 2))
    is_sample = is_sample[np.argsort(start[is_sample], kind="stable")]  # rows in the order of the body
    sample_series = index[is_sample]
    value, times = _samples(buf, start[is_sample], length[is_sample])
    texts = (SERIES_CACHE if cache is None else cache).resolve(
        _series_keys(joined, ends - lengths, series_fields, is_label),
        lambda wanted: _series_rows(buf, series_fields, is_label, wanted, ends.size))
    out_of_range = np.abs(times) > _MAX_MS
    if out_of_range.any():
        raise InputError(f"remote-write sample timestamp {int(times[out_of_range][0])} ms is out of range; "
                         "expected milliseconds since 1970-01-01 UTC")
    keep = value.view(np.uint64) != STALE_NAN_BITS
    rows = sample_series[keep]
    if rows.size != ends.size or np.any(rows != np.arange(rows.size)):  # else: a sample per series, in order
        texts = texts.take(pa.array(rows))
    batch = pa.table([texts.column("series"), pa.array(times[keep] * 1000).cast(SCHEMA.field("ts").type),
                      texts.column("metric"), texts.column("labels"), pa.array(value[keep])], schema=SCHEMA)
    return Decoded(batch, stale=int(keep.size - keep.sum()))


def encode_write_request(timeseries: Sequence[tuple[Mapping[str, str], Sequence[tuple[float, int]]]], *,
                         compress: bool = True) -> bytes:
    """A remote-write body: each series is (labels including `__name__`, [(value, timestamp ms), ...]);
    labels are written sorted by name, as Prometheus does."""
    request = _CLASSES["WriteRequest"]()
    for pairs, samples in timeseries:
        series = request.timeseries.add()
        for name in sorted(pairs):
            series.labels.add(name=name, value=pairs[name])
        for value, timestamp in samples:
            series.samples.add(value=value, timestamp=timestamp)
    raw = request.SerializeToString()
    return bytes(cramjam.snappy.compress_raw(raw)) if compress else raw
