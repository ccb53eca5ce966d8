"""OTLP point attributes as labels, read as arrays: the string-valued ones (nearly all in practice) without a
Python step per attribute. Points with any other attribute (a boolean, number, array, map or bytes value,
a key or value missing or written twice) or with two keys that map to one label name are left to
`otlp_labels.labels_of`, whose rules these follow: the label name of a key is `label_name(key)`, a string
value is the label value as it is, and a point's attribute wins over a resource or scope label.

>>> from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint
>>> a, b = NumberDataPoint(), NumberDataPoint()
>>> a.attributes.add(key="http.route").value.string_value = "/pay"
>>> b.attributes.add(key="retry").value.bool_value = True
>>> raw_a, raw_b = a.SerializeToString(), b.SerializeToString()
>>> buf = np.frombuffer(raw_a + raw_b + bytes(wire.PAD), dtype=np.uint8)
>>> ends = np.cumsum([len(raw_a), len(raw_b)])
>>> index, _, _, start, length = wire.fields(buf, ends - [len(raw_a), len(raw_b)], ends)  # both: field 7
>>> owner, keys, values, other = string_attributes(buf, index, start, length, 2)
>>> owner.tolist(), keys.to_pylist(), values.to_pylist(), other.tolist()
([0], ['http.route'], ['/pay'], [False, True])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import wire
from .otlp_labels import label_name

__all__ = ["label_rows", "string_attributes"]


def string_attributes(buf: np.ndarray, owner: np.ndarray, start: np.ndarray, length: np.ndarray,
                      count: int) -> tuple[np.ndarray, pa.Array, pa.Array, np.ndarray]:
    """The KeyValue messages at [start, start + length) (`owner[i]`: the point of attribute i, of `count`):
    (owner, key, value) of every string attribute of the points whose attributes are all strings, and a
    mask of the other points (for `labels_of`)."""
    m = start.size
    kv = wire.fields(buf, start, start + length, "OTLP attribute")
    kv_of, number, kind = kv[0], kv[1], kv[2]
    key_at, key_len = wire.pick(kv, 1, 2, m)
    value_at, value_len = wire.pick(kv, 2, 2, m)
    ok = ((np.bincount(kv_of, minlength=m) == 2) & (np.bincount(kv_of[(number == 1) & (kind == 2)], minlength=m) == 1)
          & (np.bincount(kv_of[(number == 2) & (kind == 2)], minlength=m) == 1))
    value_at, value_len = np.where(ok, value_at, 0), np.where(ok, value_len, 0)
    av = wire.fields(buf, value_at, value_at + value_len, "OTLP attribute value")
    text_at, text_len = wire.pick(av, 1, 2, m)  # AnyValue.string_value
    ok &= (np.bincount(av[0], minlength=m) == 1) & (np.bincount(av[0][(av[1] == 1) & (av[2] == 2)], minlength=m) == 1)
    other = np.zeros(count, dtype=bool)
    other[owner[~ok]] = True
    keep = ~other[owner]
    return (owner[keep], wire.strings(buf, key_at[keep], key_len[keep]),
            wire.strings(buf, text_at[keep], text_len[keep]), other)


def label_rows(owner: np.ndarray, keys: pa.Array, values: pa.Array, bases: Sequence[Mapping[str, str]],
               base_of: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Labels (point, name, value) of the points not marked in `other`: their string attributes under their
    label names, and the labels `bases[base_of[p]]` of point p that no attribute overrides. Points with two
    keys of one label name are marked in `other` (in place) and left out."""
    encoded = pc.dictionary_encode(keys)
    names = pa.array([label_name(k) for k in encoded.dictionary.to_pylist()], pa.string()).take(encoded.indices)
    base_names = pa.array([k for base in bases for k in base], pa.string())
    base_values = pa.array([v for base in bases for v in base.values()], pa.string())
    sizes = np.array([len(base) for base in bases], dtype=np.int64)
    per_point = sizes[base_of]
    base_point = np.repeat(np.arange(base_of.size), per_point)
    base_row = np.repeat(np.cumsum(sizes)[base_of] - per_point - np.cumsum(per_point) + per_point, per_point) \
        + np.arange(per_point.sum())
    both = pc.dictionary_encode(pa.concat_arrays([names, base_names.take(pa.array(base_row, pa.int64()))]))
    codes = both.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    width = max(len(both.dictionary), 1)
    attr_key, base_key = owner * width + codes[:owner.size], base_point * width + codes[owner.size:]
    ordered = np.sort(attr_key)
    other[ordered[1:][ordered[1:] == ordered[:-1]] // width] = True  # two keys, one label name
    keep, base_keep = ~other[owner], ~other[base_point] & ~np.isin(base_key, attr_key)
    take = pa.array(base_row[base_keep], pa.int64())
    return (np.concatenate([owner[keep], base_point[base_keep]]),
            pa.concat_arrays([names.filter(pa.array(keep)), base_names.take(take)]),
            pa.concat_arrays([values.filter(pa.array(keep)), base_values.take(take)]))
