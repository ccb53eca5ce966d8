"""The columnar batch every telemetry decoder returns: rows shaped like the `telemetry_samples` dataset.

A batch is a pyarrow Table with the columns of `SCHEMA`: `series` (the series key: metric name and sorted
labels in Prometheus text form, `name{a="x",b="y"}`, or just `name` without labels), `ts` (UTC, microseconds),
`metric`, `labels` (JSON object text, sorted keys, without `__name__`) and `value` (float64). `source` is
left to the writer. `series_key` and `labels_json` are the one definition of both texts, so the same series
arriving by scrape, remote-write or OTLP gets the same key.

>>> series_key("http_requests_total", {"code": "200", "a": 'say "hi"'})
'http_requests_total{a="say \\\\"hi\\\\"",code="200"}'
>>> labels_json({"code": "200", "a": "x"})
'{"a": "x", "code": "200"}'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError

__all__ = ["REASON", "SCHEMA", "Decoded", "build_batch", "labels_json", "series_key", "series_texts", "split_rows"]

SCHEMA = pa.schema([
    pa.field("series", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("labels", pa.string(), nullable=False),
    pa.field("value", pa.float64(), nullable=False),
])

REASON = "reason"
"""The column of a refused row saying why (`split_rows`)."""
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


def series_key(metric: str, labels: Mapping[str, str]) -> str:
    """`metric{k="v",...}` with keys sorted and values escaped as in the Prometheus text format."""
    if not labels:
        return metric
    inner = ",".join(f'{k}="{labels[k].translate(_ESCAPES)}"' for k in sorted(labels))
    return f"{metric}{{{inner}}}"


def labels_json(labels: Mapping[str, str]) -> str:
    """The labels as a JSON object with sorted keys (`json.dumps` separators, UTF-8 kept as is)."""
    return json.dumps(dict(labels), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Decoded:
    """A decoded request: the samples batch and what was left out of it, counted.

    `stale` counts Prometheus stale markers and OTLP points flagged "no recorded value" (dropped);
    `rejected` counts points that could not be represented (`reasons` says why, one line per kind);
    `metrics` (OTLP only) is a side table per metric name: kind, temporality, monotonic, unit.
    """

    samples: pa.Table
    stale: int = 0
    rejected: int = 0
    reasons: tuple[str, ...] = ()
    metrics: pa.Table | None = field(default=None)


def _json_strings(values: pa.Array) -> pa.Array:
    """JSON string literals (with quotes) of `values`: backslash and quote escaped by array ops; the rare
    value with a control character goes through `json.dumps`."""
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    control = pc.match_substring_regex(values, "[\\x00-\\x1f]").to_numpy(zero_copy_only=False)
    if not control.any():
        return quoted
    texts = quoted.to_pylist()
    for i in np.flatnonzero(control):
        texts[i] = json.dumps(values[int(i)].as_py(), ensure_ascii=False)
    return pa.array(texts, pa.string())


def _joined(pieces: pa.Array, offsets: np.ndarray, separator: str) -> pa.Array:
    """One text per series: its pieces (a run of `pieces` from `offsets[i]` to `offsets[i + 1]`) joined."""
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()).cast(pa.int32()), pieces)
    return pc.binary_join(lists, separator)


def _codes(strings: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(distinct strings, the code of each string): telemetry repeats the same few names and values."""
    encoded = pc.dictionary_encode(strings)
    return encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def series_texts(metrics: Sequence[str] | pa.Array, label_series: np.ndarray, names: Sequence[str] | pa.Array,
                 values: Sequence[str] | pa.Array, numbers: np.ndarray | None = None) -> tuple[pa.Array, pa.Array]:
    """(series keys, labels JSON) of many series at once, equal to `series_key` and `labels_json` of each.

    Label i belongs to series `label_series[i]` (no `__name__` among them; each name once per series);
    labels may come in any order. The texts of each distinct (name, value) pair are made once, then joined
    per series by array operations, whatever the number of series. An error names series i as `numbers[i]`
    (its number in the request) when given.
    """
    n = len(metrics)
    name_dict, name_code = _codes(pa.array(names, pa.string()))
    value_dict, value_code = _codes(pa.array(values, pa.string()))
    label_series = np.asarray(label_series, dtype=np.int64)
    rank = np.empty(len(name_dict), dtype=np.int64)
    rank[pc.sort_indices(name_dict).to_numpy()] = np.arange(len(name_dict))  # byte order = code point order
    name_rank = rank[name_code]
    if np.any((label_series[1:] < label_series[:-1]) | ((label_series[1:] == label_series[:-1])
                                                         & (name_rank[1:] < name_rank[:-1]))):
        order = np.lexsort((name_rank, label_series))  # Prometheus sends labels sorted; others may not
        label_series, name_code, value_code, name_rank = (a[order] for a in (label_series, name_code, value_code,
                                                                             name_rank))
    twice = (label_series[1:] == label_series[:-1]) & (name_rank[1:] == name_rank[:-1])
    if twice.any():
        i = int(np.flatnonzero(twice)[0])
        number = int(label_series[i] if numbers is None else numbers[label_series[i]])
        raise InputError(f"series {number} of metric {metrics[int(label_series[i])]}: label "
                         f"{name_dict[int(name_code[i])]} appears twice; a label name may appear once per series")
    width = max(len(value_dict), 1)
    pair_dict, pair_code = _codes(pa.array(name_code * width + value_code))
    pairs = pair_dict.to_numpy()
    pair_name, pair_value = name_dict.take(pa.array(pairs // width)), value_dict.take(pa.array(pairs % width))
    prom_values = pc.replace_substring(pc.replace_substring(pc.replace_substring(
        pair_value, "\\", "\\\\"), '"', '\\"'), "\n", "\\n")
    prom_pairs = pc.binary_join_element_wise(pair_name, '="', prom_values, '"', "")
    json_pairs = pc.binary_join_element_wise(_json_strings(pair_name), ": ", _json_strings(pair_value), "")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(label_series, minlength=n))])
    codes = pa.array(pair_code)
    prom = _joined(prom_pairs.take(codes), offsets, ",")
    empty = pa.array(offsets[1:] == offsets[:-1])
    metrics = pa.array(metrics, pa.string())
    keys = pc.if_else(empty, metrics, pc.binary_join_element_wise(metrics, "{", prom, "}", ""))
    texts = pc.binary_join_element_wise("{", _joined(json_pairs.take(codes), offsets, ", "), "}", "")
    return keys, texts


def build_batch(metrics: Sequence[str], label_series: np.ndarray, names: Sequence[str] | pa.Array,
                values: Sequence[str] | pa.Array, series_index: np.ndarray, ts_us: np.ndarray,
                samples: np.ndarray) -> pa.Table:
    """A batch from per-series metric names, flat labels (`label_series[i]` is the series of label i) and
    per-sample arrays: `series_index[j]` is the series of sample j, `ts_us` its time in microseconds since
    the epoch, `samples` its value. The series texts are made once per series and spread with one `take`.

    >>> t = build_batch(["up"], np.array([0]), ["job"], ["node"], np.array([0, 0]), np.array([0, 1_000_000]),
    ...                 np.array([1.0, 0.0]))
    >>> t.column("series").to_pylist(), t.column("labels").to_pylist()[0], t.column("value").to_pylist()
    (['up{job="node"}', 'up{job="node"}'], '{"job": "node"}', [1.0, 0.0])
    """
    keys, texts = series_texts(metrics, label_series, names, values)
    index = pa.array(np.asarray(series_index, dtype=np.int64))
    return pa.table([
        keys.take(index), pa.array(np.asarray(ts_us, dtype=np.int64), pa.int64()).cast(SCHEMA.field("ts").type),
        pa.array(metrics, pa.string()).take(index), texts.take(index),
        pa.array(np.asarray(samples, dtype=np.float64), pa.float64()),
    ], schema=SCHEMA)


def split_rows(table: pa.Table, refused: np.ndarray | pa.Array | pa.ChunkedArray,
               reason: str | pa.Array) -> tuple[pa.Table, pa.Table]:
    """(kept rows, refused rows with a `REASON` column): a row is refused where `refused` (a bool per row, no
    nulls) is true, for `reason` (one text, or one per refused row). Nothing is copied when no row is refused.

    >>> kept, bad = split_rows(pa.table({"v": [1, 2, 3]}), np.array([False, True, False]), "too big")
    >>> kept.column("v").to_pylist(), bad.to_pylist()
    ([1, 3], [{'v': 2, 'reason': 'too big'}])
    >>> table = pa.table({"v": [1]})
    >>> split_rows(table, np.array([False]), "too big")[0] is table
    True
    """
    mask = refused if isinstance(refused, pa.Array | pa.ChunkedArray) else pa.array(refused, pa.bool_())
    count = pc.sum(mask).as_py() or 0
    if isinstance(reason, str):
        reason = pa.array([reason] * count, pa.string())
    if not count:
        return table, table.slice(0, 0).append_column(REASON, reason)
    return table.filter(pc.invert(mask)), table.filter(mask).append_column(REASON, reason)
