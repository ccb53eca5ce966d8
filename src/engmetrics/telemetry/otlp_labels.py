"""OTLP names and attributes as Prometheus names and label values (the rules are in `telemetry.otlp`'s
docstring): metric and label names, attribute values as label text, the resource's labels.

>>> from opentelemetry.proto.common.v1.common_pb2 import KeyValue
>>> pairs = [KeyValue(key="http.route"), KeyValue(key="http-route"), KeyValue(key="ok")]
>>> pairs[0].value.string_value, pairs[1].value.string_value, pairs[2].value.bool_value = "/a", "/b", True
>>> labels_of(pairs, {})
{'http_route': '/b;/a', 'ok': 'true'}
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

import numpy as np

__all__ = ["label_name", "labels_of", "labels_of_resource", "le_text", "metric_name"]

_NOT_METRIC = re.compile(r"[^a-zA-Z0-9_:]")
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_RUNS = re.compile(r"__+")

def metric_name(name: str, *, counter: bool = False) -> str:
    """The Prometheus name of an OTLP metric name; `counter` adds `_total`.

    >>> metric_name("http.server.duration"), metric_name("2xx..rate"), metric_name("jobs", counter=True)
    ('http_server_duration', '_2xx_rate', 'jobs_total')
    """
    out = _RUNS.sub("_", _NOT_METRIC.sub("_", name))
    if out[:1].isdigit():
        out = "_" + out
    if counter and not out.endswith("_total"):
        out += "_total"
    return out


def label_name(key: str) -> str:
    """The Prometheus label name of an attribute key.

    >>> label_name("http.route"), label_name("9lives"), label_name("k8s.pod--name")
    ('http_route', 'key_9lives', 'k8s_pod_name')
    """
    out = _RUNS.sub("_", _NOT_LABEL.sub("_", key))
    return "key_" + out if out[:1].isdigit() else out


def _plain(value) -> object:
    """An AnyValue as a plain Python value (for JSON)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind) if kind else None


def _text(value) -> str:
    """An AnyValue as a label value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    plain = _plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False, sort_keys=True)


def labels_of(attributes: Iterable, names: dict[str, str]) -> dict[str, str]:
    """Attributes as labels; keys that sanitise alike join their values with `;` by original key order.
    `names` caches the label name of each key seen in this request."""
    pairs = [(kv.key, _text(kv.value)) for kv in attributes]
    out: dict[str, str] = {}
    for key, text in pairs:
        name = names.get(key)
        if name is None:
            name = names[key] = label_name(key)
        if name in out:
            return _colliding(pairs)
        out[name] = text
    return out


def _colliding(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, text in sorted(pairs):
        name = label_name(key)
        out[name] = f"{out[name]};{text}" if name in out else text
    return out


def labels_of_resource(attributes: Iterable, promoted: frozenset[str]) -> dict[str, str]:
    values = {kv.key: _text(kv.value) for kv in attributes}
    out = {label_name(k): v for k, v in sorted(values.items()) if k in promoted}
    if "service.name" in values:
        namespace = values.get("service.namespace")
        out["job"] = f"{namespace}/{values['service.name']}" if namespace else values["service.name"]
    if "service.instance.id" in values:
        out["instance"] = values["service.instance.id"]
    return out


def le_text(bound: float) -> str:
    """A bucket bound or quantile as label text: the shortest decimal, `+Inf` for infinity."""
    return "+Inf" if bound == np.inf else np.format_float_positional(bound, trim="-")
