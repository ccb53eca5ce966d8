"""The fast path of OTLP protobuf decoding: the number points of gauges and sums read as arrays.

A second parse of the body with a mirror of the OTLP messages in which `Gauge.data_points` and
`Sum.data_points` are `repeated bytes` hands over each point's bytes (upb has already checked the whole
body with the real messages). The fields of every point are then read at once (`telemetry.wire`): time,
value, flags and where the attributes lie. The texts of a point's series depend only on its metric, the
resource and scope labels and its attribute bytes, so they are kept in `OTLP_SERIES_CACHE` under those
bytes: an exporter sends the same attribute sets export after export, and only the new ones are turned into
labels (string attributes as arrays by `otlp_attributes`, others by `otlp_labels.labels_of`). The rows,
counts and reasons are the object path's exactly; a body with a point in an unusual shape (a field twice,
both value kinds, unknown fields) is left to the object path (`NumberPoints.regular` is False).

>>> from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
>>> request = ExportMetricsServiceRequest()
>>> metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="jobs")
>>> point = metric.gauge.data_points.add(time_unix_nano=1_000_000_000, as_int=3)
>>> point.attributes.add(key="queue").value.string_value = "mail"
>>> mirror = MIRROR.FromString(request.SerializeToString())
>>> points = NumberPoints()
>>> points.add("jobs", "jobs", {"job": "w"}, mirror.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points)
>>> table, counts, stale, reasons = points.rows()
>>> table.column("series").to_pylist(), table.column("value").to_pylist(), counts.tolist(), stale, reasons
(['jobs{job="w",queue="mail"}'], [3.0], [1], 0, [])
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint

from . import wire
from .batch import SCHEMA, series_texts
from .otlp_attributes import label_rows, string_attributes
from .otlp_labels import labels_of
from .series_cache import SeriesCache

__all__ = ["MIRROR", "OTLP_SERIES_CACHE", "NumberPoints"]

OTLP_SERIES_CACHE = SeriesCache()
NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE: a staleness marker, no value
# NumberDataPoint: field number -> wire type (2 start time, 3 time, 4 asDouble, 6 asInt: fixed 64-bit;
# 5 exemplars, 7 attributes: length-delimited; 8 flags: varint)
_WIRE = np.array([-1, -1, 1, 1, 1, 2, 1, 2, 0], dtype=np.int64)
_ONCE = (2, 3, 4, 6, 8)
_ATTRIBUTES, _TIME, _DOUBLE, _INT, _FLAGS = 7, 3, 4, 6, 8


def _mirror() -> type:
    """ExportMetricsServiceRequest with the number points of gauges and sums as unparsed bytes, in a private
    descriptor pool (the real classes keep theirs)."""
    files, pending = [], [ExportMetricsServiceRequest.DESCRIPTOR.file]
    while pending:  # dependencies first
        file = pending.pop()
        files.insert(0, file)
        pending.extend(file.dependencies)
    pool, added = descriptor_pool.DescriptorPool(), set()
    for file in files:
        if file.name in added:
            continue
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        for message in proto.message_type:
            if message.name in ("Gauge", "Sum"):
                points = next(f for f in message.field if f.name == "data_points")
                points.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                points.ClearField("type_name")
        pool.Add(proto)
        added.add(file.name)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName(ExportMetricsServiceRequest.DESCRIPTOR.full_name))


MIRROR = _mirror()


def _fixed64(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return buf[at[:, None] + np.arange(8)].copy().view("<u8").ravel()


def _header_size(length: np.ndarray) -> np.ndarray:
    """Bytes of a one-byte tag plus the varint of `length`."""
    return 2 + sum((length >= 128**k).astype(np.int64) for k in range(1, 5))


class NumberPoints:
    """The gauge and sum points of one request, metric by metric (`add`), read together (`rows`)."""

    def __init__(self, cache: SeriesCache | None = None) -> None:
        self.cache = OTLP_SERIES_CACHE if cache is None else cache
        self.jobs: list[tuple[str, str, dict[str, str], bytes, Sequence]] = []
        self.points: list[bytes] = []
        self.counts: list[int] = []
        self.regular = True

    def add(self, name: str, otlp_name: str, base: dict[str, str], points: Sequence[bytes],
            parsed: Sequence | None = None) -> None:
        """The raw points of one metric with its Prometheus name, OTLP name and resource + scope labels;
        `parsed`, the same points as messages when at hand, spares parsing them again for their labels."""
        prefix = json.dumps([name, base], sort_keys=True, ensure_ascii=False).encode() + b"\x00"
        self.jobs.append((name, otlp_name, base, prefix, parsed))
        self.points.extend(points)
        self.counts.append(len(points))

    def rows(self) -> tuple[pa.Table, np.ndarray, int, list[tuple[str, int]]]:
        """(samples table, rows per metric, stale points, [(reason, points)]); `regular` is False after
        it when a point needs the object path (the table is then empty and not to be used)."""
        lengths = np.fromiter(map(len, self.points), dtype=np.int64, count=len(self.points))
        ends = np.cumsum(lengths)
        joined = b"".join(self.points)
        buf = np.frombuffer(joined + bytes(wire.PAD), dtype=np.uint8)
        index, number, kind, start, length = wire.fields(buf, ends - lengths, ends, "OTLP body")
        n = lengths.size
        known = number < _WIRE.size
        seen = np.zeros((n, _WIRE.size), dtype=np.int64)
        np.add.at(seen, (index[known], number[known]), 1)
        if (~known).any() or (kind != _WIRE[np.where(known, number, 0)]).any() or (seen[:, _ONCE] > 1).any() \
                or ((seen[:, _DOUBLE] > 0) & (seen[:, _INT] > 0)).any():
            self.regular = False
            return SCHEMA.empty_table(), np.zeros(len(self.jobs), np.int64), 0, []
        at = {f: wire.pick((index, number, kind, start, length), f, kind_of, n)[0]
              for f, kind_of in ((_TIME, 1), (_DOUBLE, 1), (_INT, 1), (_FLAGS, 0))}
        flags = np.where(seen[:, _FLAGS] > 0, wire.varints(buf, at[_FLAGS])[0], 0)
        times = np.where(seen[:, _TIME] > 0, _fixed64(buf, at[_TIME]), 0)
        values = np.where(seen[:, _DOUBLE] > 0, _fixed64(buf, at[_DOUBLE]).view(np.float64),
                          _fixed64(buf, at[_INT]).view(np.int64).astype(np.float64))
        job = np.repeat(np.arange(len(self.jobs)), self.counts)
        stale = (flags & NO_RECORDED_VALUE) > 0
        untimed = ~stale & (times == 0)
        valueless = ~stale & ~untimed & (seen[:, _DOUBLE] + seen[:, _INT] == 0)
        usable = np.flatnonzero(~(stale | untimed | valueless))
        reasons = [(f"points of {self.jobs[j][1]} without {what}", int(count))
                   for mask, what in ((untimed, "timeUnixNano"), (valueless, "a value"))
                   for j, count in enumerate(np.bincount(job[mask], minlength=len(self.jobs))) if count]
        is_attr = number == _ATTRIBUTES
        keys = self._keys(joined, buf, ends - lengths, (index, start, length), is_attr, usable)
        where = (buf, ends - lengths, ends, index, start, length)
        texts = self.cache.resolve(keys, lambda miss: self._texts(joined, where, is_attr, job, usable[miss]))
        ts = pa.array((times[usable] // 1000).astype(np.int64)).cast(SCHEMA.field("ts").type)
        batch = pa.table([texts.column("series"), ts, texts.column("metric"), texts.column("labels"),
                          pa.array(values[usable])], schema=SCHEMA)
        return batch, np.bincount(job[usable], minlength=len(self.jobs)), int(stale.sum()), reasons

    def _keys(self, joined: bytes, buf: np.ndarray, firsts: np.ndarray, where: tuple[np.ndarray, ...],
              is_attr: np.ndarray, usable: np.ndarray) -> list[bytes | None]:
        """Each usable point's cache key: its metric's prefix and the bytes of its attribute fields (from the
        first one's tag), when nothing else lies between them and every length is written in the fewest
        bytes (None otherwise: such a point's texts are made, not kept)."""
        index, start, length = where
        n = firsts.size
        first, last = np.full(n, len(joined), dtype=np.int64), firsts.copy()
        np.minimum.at(first, index[is_attr], start[is_attr] - _header_size(length[is_attr]))
        np.maximum.at(last, index[is_attr], start[is_attr] + length[is_attr])
        first = np.minimum(first, last)  # no attributes: an empty key part
        between = np.zeros(n, dtype=bool)
        np.logical_or.at(between, index[~is_attr], (start[~is_attr] > first[index[~is_attr]])
                         & (start[~is_attr] < last[index[~is_attr]]))
        head = start[is_attr] - _header_size(length[is_attr])  # where the tag is, if the length is minimal
        size_of, value_of = wire.varints(buf, head + 1)[::-1]
        np.logical_or.at(between, index[is_attr], (buf[head] != _ATTRIBUTES << 3 | 2)
                         | (size_of != _header_size(length[is_attr]) - 1) | (value_of != length[is_attr]))
        job = np.repeat(np.arange(len(self.jobs)), self.counts)[usable]
        prefixes = [self.jobs[j][3] for j in job.tolist()]
        return [None if bad else prefix + joined[a:b] for prefix, a, b, bad in
                zip(prefixes, first[usable].tolist(), last[usable].tolist(), between[usable].tolist(), strict=True)]

    def _texts(self, joined: bytes, where: tuple[np.ndarray, ...], is_attr: np.ndarray, job: np.ndarray,
               wanted: np.ndarray) -> pa.Table:
        """Series texts of the points numbered `wanted`: string attributes read as arrays
        (`otlp_attributes`), the points with other attributes through `labels_of` one by one."""
        buf, firsts, ends, index, start, length = where
        local = np.full(firsts.size, -1, dtype=np.int64)
        local[wanted] = np.arange(wanted.size)
        mine = is_attr & (local[index] >= 0)
        owner, keys, values, other = string_attributes(buf, local[index[mine]], start[mine], length[mine],
                                                       wanted.size)
        bases = [base for _, _, base, _, _ in self.jobs]
        label_series, names, texts = label_rows(owner, keys, values, bases, job[wanted], other)
        extra_series, extra_names, extra_texts, label_names = [], [], [], {}
        in_job = wanted - (np.cumsum(self.counts) - self.counts)[job[wanted]]
        for i in np.flatnonzero(other).tolist():
            _, _, base, _, parsed = self.jobs[job[wanted[i]]]
            point = NumberDataPoint.FromString(joined[firsts[wanted[i]]:ends[wanted[i]]]) if parsed is None \
                else parsed[int(in_job[i])]
            labels = {**base, **labels_of(point.attributes, label_names)}
            extra_series += [i] * len(labels)
            extra_names += labels.keys()
            extra_texts += labels.values()
        metrics = pa.array([name for name, *_ in self.jobs], pa.string()).take(pa.array(job[wanted]))
        keys, texts = series_texts(metrics, np.concatenate([label_series, np.array(extra_series, dtype=np.int64)]),
                                   pa.concat_arrays([names, pa.array(extra_names, pa.string())]),
                                   pa.concat_arrays([texts, pa.array(extra_texts, pa.string())]))
        return pa.table({"series": keys, "labels": texts, "metric": metrics})
