"""Remote-write decoding: hand-encoded wire bytes, hand-checked rows, bad bodies, properties of the series texts."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

import cramjam
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.errors import InputError
from engmetrics.telemetry.batch import labels_json, series_key, series_texts
from engmetrics.telemetry.remote_write import STALE_NAN_BITS, decode_write_request, encode_write_request

STALE = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def _snappy(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


def test_hand_encoded_wire_bytes_decode():
    # Written from the protobuf encoding rules, not with the encoder under test:
    # Label{name="__name__" (field 1: 0x0a, len 8), value="up" (field 2: 0x12, len 2)} = 2+8+2+2 = 14 bytes
    label = b"\x0a\x08__name__\x12\x02up"
    # Sample{value=1.0 (field 1, fixed64: 0x09 + 8 bytes LE), timestamp=1000 (field 2, varint: 0x10, 0xe8 0x07)}
    sample = b"\x09" + struct.pack("<d", 1.0) + b"\x10\xe8\x07"  # 1 + 8 + 1 + 2 = 12 bytes
    series = b"\x0a\x0e" + label + b"\x12\x0c" + sample  # 2 + 14 + 2 + 12 = 30 = 0x1e
    body = _snappy(b"\x0a\x1e" + series)
    rows = decode_write_request(body).samples.to_pylist()
    assert rows == [{"series": "up", "ts": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), "metric": "up",
                     "labels": "{}", "value": 1.0}]


def test_rows_sorted_labels_escapes_and_stale_markers():
    body = encode_write_request([
        ({"job": "api", "__name__": "http_requests_total", "code": "200"},
         [(10.0, 1_700_000_000_123), (STALE, 1_700_000_015_123), (12.0, 1_700_000_030_123)]),
        ({"__name__": "note", "text": 'say "hi"\\\n'}, [(0.0, 1_700_000_000_000)]),
        ({"__name__": "empty"}, []),  # a series without samples gives no rows
    ])
    decoded = decode_write_request(body)
    assert decoded.stale == 1
    t = decoded.samples
    assert t.column("series").to_pylist() == [
        'http_requests_total{code="200",job="api"}', 'http_requests_total{code="200",job="api"}',
        # the value 'say "hi"\<newline>' in the text format: quote -> \", backslash -> \\, newline -> \n
        'note{text="say \\"hi\\"\\\\\\n"}',
    ]
    assert t.column("labels").to_pylist() == [
        '{"code": "200", "job": "api"}', '{"code": "200", "job": "api"}', '{"text": "say \\"hi\\"\\\\\\n"}',
    ]
    assert json.loads(t.column("labels")[2].as_py()) == {"text": 'say "hi"\\\n'}
    # 1_700_000_000 s is 2023-11-14T22:13:20Z; the 123 ms stay as 123000 us; 30 s later for the third sample
    assert t.column("ts").to_pylist() == [
        datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), datetime(2023, 11, 14, 22, 13, 50, 123000, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
    ]
    assert t.column("value").to_pylist() == [10.0, 12.0, 0.0]
    assert t.column("metric").to_pylist() == ["http_requests_total", "http_requests_total", "note"]


def test_empty_requests_give_an_empty_batch():
    for body in (encode_write_request([]), encode_write_request([({"__name__": "x"}, [])])):
        decoded = decode_write_request(body)
        assert (decoded.samples.num_rows, decoded.stale) == (0, 0)


def test_an_ordinary_nan_is_kept_only_the_stale_marker_is_dropped():
    decoded = decode_write_request(encode_write_request([({"__name__": "g"}, [(float("nan"), 1), (STALE, 2)])]))
    assert decoded.stale == 1
    assert np.isnan(decoded.samples.column("value").to_pylist()).tolist() == [True]


@pytest.mark.parametrize(("body", "message"), [
    (b"not snappy at all \xff\xff", "not a snappy block"),
    (_snappy(b"\x0a\xff\xff\xff\x0f"), "not a valid prometheus.WriteRequest"),
    (encode_write_request([({"job": "x"}, [(1.0, 1)])]), "timeseries 0: needs exactly one non-empty __name__"),
    (encode_write_request([({"__name__": "a"}, [(1.0, 1)]), ({"__name__": "", "job": "x"}, [(1.0, 1)])]),
     "timeseries 1: needs exactly one non-empty __name__"),
])
def test_bad_bodies_say_what_is_wrong(body, message):
    with pytest.raises(InputError, match=message):
        decode_write_request(body)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2) with a payload under 128 bytes."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_a_label_twice_and_an_oversized_body_are_refused():
    labels = b"".join(_field(1, _field(1, n) + _field(2, v)) for n, v in
                      [(b"__name__", b"up"), (b"job", b"a"), (b"job", b"b")])
    sample = _field(2, b"\x09" + struct.pack("<d", 1.0) + b"\x10\x01")
    with pytest.raises(InputError, match="label job appears twice"):
        decode_write_request(_field(1, labels + sample), compressed=False)
    with pytest.raises(InputError, match="timestamp 9223372036854776 ms is out of range"):
        decode_write_request(encode_write_request([({"__name__": "up"}, [(1.0, 2**63 // 1000 + 1)])]))
    with pytest.raises(InputError, match="over the limit of 10"):
        decode_write_request(_snappy(b"x" * 100), max_bytes=10)
    with pytest.raises(InputError, match="100 bytes is over the limit of 10"):
        decode_write_request(b"x" * 100, compressed=False, max_bytes=10)


_names = st.text(alphabet="abcxyz_ABC019", min_size=1, max_size=6).filter(lambda s: s != "__name__")
_values = st.text(max_size=8)  # any unicode, quotes, backslashes, control characters


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b:c", "up"]), st.dictionaries(_names, _values, max_size=4)),
                min_size=1, max_size=6))
def test_vectorised_texts_equal_the_reference_definitions(series):
    metrics = [m for m, _ in series]
    label_series = np.array([i for i, (_, labels) in enumerate(series) for _ in labels], dtype=np.int64)
    names = [k for _, labels in series for k in labels]
    values = [v for _, labels in series for v in labels.values()]
    keys, texts = series_texts(metrics, label_series, names, values)
    assert keys.to_pylist() == [series_key(m, labels) for m, labels in series]
    assert texts.to_pylist() == [labels_json(labels) for _, labels in series]
    assert [json.loads(t) for t in texts.to_pylist()] == [labels for _, labels in series]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=False), st.integers(-2**40, 2**42)), min_size=1, max_size=20))
def test_values_and_times_round_trip(samples):
    t = decode_write_request(encode_write_request([({"__name__": "m"}, samples)])).samples
    assert t.column("value").to_pylist() == [v for v, _ in samples]
    assert t.column("ts").cast("int64").to_pylist() == [ms * 1000 for _, ms in samples]


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as ten bytes, as protobuf writes it
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _ld(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


_label_values = st.text(max_size=200)  # over 127 bytes needs a two-byte length
_MAX_MS = 2**63 // 1000  # microseconds of int64 hold this many milliseconds
_sample = st.tuples(st.sampled_from([0.0, -1.5, 1e300, 7.0]), st.integers(-_MAX_MS, _MAX_MS), st.booleans(),
                    st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["up", "a:b", "ü"]),
                          st.dictionaries(_names, _label_values, max_size=4),
                          st.lists(_sample, min_size=1, max_size=3), st.booleans(), st.booleans()),
                min_size=1, max_size=5))
def test_any_valid_encoding_decodes_like_the_message_says(series):
    """Bodies written by hand in every shape protobuf allows: defaults left out or written, fields reordered,
    unknown fields, long lengths; the rows must be what the generated series say."""
    body, expected = b"", []
    for metric, labels, samples, reverse, unknown in series:
        pairs = [("__name__", metric), *labels.items()]
        written = [_ld(1, (_ld(1, n.encode()) if n else b"") + (_ld(2, v.encode()) if v else b"")) for n, v in pairs]
        for value, ms, explicit, extra in samples:
            fields = [b"\x09" + struct.pack("<d", value) if value or explicit else b"",
                      b"\x10" + _varint(ms) if ms or explicit else b"", b"\x38\x05" if extra else b""]
            written.append(_ld(2, b"".join(reversed(fields) if reverse else fields)))
            expected.append((series_key(metric, labels), labels_json(labels), ms * 1000, value))
        if unknown:
            written.append(_ld(3, b"\x0a\x00"))  # an exemplar: unknown here, skipped
        body += _ld(1, b"".join(reversed(written) if reverse else written))
    body += _ld(3, b"\x08\x01")  # request metadata: unknown here, skipped
    t = decode_write_request(_snappy(body)).samples
    got = list(zip(t.column("series").to_pylist(), t.column("labels").to_pylist(),
                   t.column("ts").cast("int64").to_pylist(), t.column("value").to_pylist(), strict=True))
    assert sorted(got) == sorted(expected)
