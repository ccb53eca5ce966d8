"""Prometheus remote-write 1.0: decode a request body into a samples batch, and encode one (load generator, tests).

The body is a snappy block (not framed) holding a protobuf `prometheus.WriteRequest`. The message types are
built here from the public wire contract (field numbers and types), not from Prometheus' .proto files:

    WriteRequest { repeated TimeSeries timeseries = 1 }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2 }
    Label        { string name = 1; string value = 2 }
    Sample       { double value = 1; int64 timestamp = 2 }     (milliseconds since the epoch)

so protobuf's upb runtime parses and checks the whole body (wire format, UTF-8). The columns are then read
from the same checked bytes with numpy: upb hands over each series' bytes (a `repeated bytes` view of field
1), and the fields of all series, labels and samples are found a round at a time, every message at once,
with the common fixed shapes of Label and Sample read directly once each byte of the shape is verified. A
Python loop per series or label would cap decoding near 100k samples/s; this runs near 300k samples/s on
the project's 2-core machine (`benchmarks/telemetry_decode.py`). Other fields (metadata, exemplars, native
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
from .batch import Decoded, build_batch

__all__ = ["MAX_BODY_BYTES", "STALE_NAN_BITS", "decode_write_request", "encode_write_request"]

STALE_NAN_BITS = 0x7FF0000000000002  # Prometheus' staleness marker
MAX_BODY_BYTES = 64 << 20  # largest uncompressed request accepted (Prometheus sends a few MiB at most)
_MAX_MS = (2**63 - 1) // 1000  # the largest time in ms that microseconds still hold
_PAD = 32  # zero bytes after the series bytes: the fixed-shape reads below look at most 20 bytes ahead

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


def _varints(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values as uint64, sizes in bytes) of the varints starting at `pos`; one-byte varints take the short way.
    `buf` ends with `_PAD` zero bytes so reading a little past a message's end stays inside it."""
    value = buf[pos].astype(np.uint64)
    size = np.ones(pos.size, dtype=np.int64)
    long = np.flatnonzero(value >= 0x80)
    if long.size:
        digits = buf[pos[long, None] + np.arange(10)].astype(np.uint64)
        size[long] = np.argmin(digits >= 0x80, axis=1) + 1
        used = np.arange(10) < size[long, None]
        value[long] = np.bitwise_or.reduce(((digits & 0x7F) << (np.arange(10, dtype=np.uint64) * 7)) * used, axis=1)
    return value, size


def _fields(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every field of the (already validated) messages at [starts, ends): (message index, field number, wire
    type, payload start, payload length). Round k reads the k-th field of every message still unfinished, so
    the number of rounds is the largest number of fields in one message, not the number of messages."""
    found = []
    active = np.flatnonzero(starts < ends)
    pos = starts.astype(np.int64)
    while active.size:
        tag, size = _varints(buf, pos[active])
        kind = (tag & 7).astype(np.int64)
        if ((kind == 3) | (kind == 4)).any():
            raise InputError("remote-write body: protobuf groups are not supported in a WriteRequest")
        at = pos[active] + size
        head = np.zeros(at.size, dtype=np.int64)
        length = np.where(kind == 1, 8, np.where(kind == 5, 4, 0))
        varint, delimited = np.flatnonzero(kind == 0), np.flatnonzero(kind == 2)
        length[varint] = _varints(buf, at[varint])[1]
        value, head[delimited] = _varints(buf, at[delimited])
        length[delimited] = value.astype(np.int64)
        found.append((active, (tag >> 3).astype(np.int64), kind, at + head, length))
        pos[active] = at + head + length
        active = active[pos[active] < ends[active]]
    if not found:
        return tuple(np.zeros(0, dtype=np.int64) for _ in range(5))
    return tuple(np.concatenate(column) for column in zip(*found, strict=True))


def _pick(fields: tuple[np.ndarray, ...], number: int, kind: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(payload start, payload length) of field `number` in each of `count` messages ((0, 0) when absent)."""
    index, numbers, kinds, start, length = fields
    chosen = (numbers == number) & (kinds == kind)
    starts, lengths = np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64)
    starts[index[chosen]], lengths[index[chosen]] = start[chosen], length[chosen]
    return starts, lengths


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
        fields = _fields(buf, start[other], start[other] + length[other])
        for (starts, lengths), number in ((names, 1), (values, 2)):
            starts[other], lengths[other] = _pick(fields, number, 2, other.size)
    return names, values


def _samples(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, timestamps in ms) of Sample messages. Most are written `0x09 <8-byte double> 0x10 <varint>`:
    those are read directly once that shape is checked; the others (a zero value or time left out, fields in
    another order, unknown fields) go through `_fields`, where a missing field is 0."""
    value = buf[start[:, None] + np.arange(1, 9)].copy().view("<f8").ravel()
    stamp, size = _varints(buf, start + 10)
    times = stamp.view(np.int64)
    simple = (buf[start] == 0x09) & (buf[start + 9] == 0x10) & (10 + size == length)
    other = np.flatnonzero(~simple)
    if other.size:
        fields = _fields(buf, start[other], start[other] + length[other])
        value_at, has_value = _pick(fields, 1, 1, other.size)
        value[other] = np.where(has_value > 0, buf[value_at[:, None] + np.arange(8)].copy().view("<f8").ravel(), 0.0)
        time_at, has_time = _pick(fields, 2, 0, other.size)
        times[other] = np.where(has_time > 0, _varints(buf, time_at)[0].view(np.int64), 0)
    return value, times


def _strings(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> pa.Array:
    """The byte ranges as a string array (UTF-8 was checked by the protobuf parse)."""
    offsets = np.zeros(start.size + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    data = buf[np.repeat(start - offsets[:-1], length) + np.arange(offsets[-1])]
    return pa.StringArray.from_buffers(start.size, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


def _metric_names(texts: pa.Array, is_name: np.ndarray, label_series: np.ndarray, count: int) -> pa.Array:
    """The `__name__` of each of `count` series; InputError for the first series without exactly one, or
    with an empty one."""
    per_series = np.bincount(label_series[is_name], minlength=count)
    bad = np.flatnonzero(per_series != 1)
    metrics = texts.filter(pa.array(is_name)).take(pa.array(np.argsort(label_series[is_name], kind="stable")))
    if not bad.size:
        bad = np.flatnonzero(pc.equal(metrics, "").to_numpy(zero_copy_only=False))
    if bad.size:
        raise InputError(f"remote-write timeseries {int(bad[0])}: needs exactly one non-empty __name__ label "
                         f"(found {int(per_series[bad[0]])})")
    return metrics


def decode_write_request(body: bytes, *, compressed: bool = True, max_bytes: int = MAX_BODY_BYTES) -> Decoded:
    """The samples of a remote-write request body (snappy-compressed unless `compressed=False`).

    upb parses the body (every message, string and number checked); the columns are then read from the
    same bytes with array operations, a round per field of the longest message rather than a Python step
    per series or label. Raises InputError for a body that is not snappy, not a WriteRequest, or has a
    series without exactly one non-empty `__name__` label or with a label name twice (saying which series).
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
    buf = np.frombuffer(b"".join(segments) + bytes(_PAD), dtype=np.uint8)
    series_fields = _fields(buf, ends - lengths, ends)
    index, numbers, kinds, start, length = series_fields
    is_label = (numbers == 1) & (kinds == 2)
    is_sample = np.flatnonzero((numbers == 2) & (kinds == 2))
    is_sample = is_sample[np.argsort(start[is_sample], kind="stable")]  # rows in the order of the body
    label_series, sample_series = index[is_label], index[is_sample]
    name_arr, text_arr = (_strings(buf, *where) for where in _labels(buf, start[is_label], length[is_label]))
    value, times = _samples(buf, start[is_sample], length[is_sample])
    is_name = pc.equal(name_arr, "__name__").to_numpy(zero_copy_only=False)
    metrics = _metric_names(text_arr, is_name, label_series, ends.size)
    out_of_range = np.abs(times) > _MAX_MS
    if out_of_range.any():
        raise InputError(f"remote-write sample timestamp {int(times[out_of_range][0])} ms is out of range; "
                         "expected milliseconds since 1970-01-01 UTC")
    keep = value.view(np.uint64) != STALE_NAN_BITS
    rest = ~is_name
    batch = build_batch(metrics, label_series[rest], name_arr.filter(pa.array(rest)),
                        text_arr.filter(pa.array(rest)), sample_series[keep], times[keep] * 1000, value[keep])
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
