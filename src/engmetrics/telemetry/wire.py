"""Reading protobuf wire format with numpy: every field of many messages at once.

The decoders let upb parse and check a body first, then read columns from the same bytes here: a round per
field of the longest message instead of a Python step per message. `buf` is the messages' bytes followed by
`PAD` zero bytes (so reading a fixed shape a little past a message's end stays inside the buffer).

>>> buf = np.frombuffer(b"\\x08\\x96\\x01\\x12\\x02hi" + bytes(PAD), dtype=np.uint8)  # {1: 150, 2: "hi"}
>>> index, number, kind, start, length = fields(buf, np.array([0]), np.array([7]))
>>> number.tolist(), kind.tolist(), varints(buf, start[:1])[0].tolist(), strings(buf, start[1:], length[1:])
([1, 2], [0, 2], [150], <pyarrow.lib.StringArray object at ...>
[
  "hi"
])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..errors import InputError

__all__ = ["PAD", "fields", "pick", "strings", "varints"]

PAD = 32  # zero bytes after the messages: the fixed-shape reads look at most 20 bytes ahead


def varints(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values as uint64, sizes in bytes) of the varints starting at `pos`; one-byte varints take the short way.
    `buf` ends with `PAD` zero bytes so reading a little past a message's end stays inside it."""
    value = buf[pos].astype(np.uint64)
    size = np.ones(pos.size, dtype=np.int64)
    long = np.flatnonzero(value >= 0x80)
    if long.size:
        digits = buf[pos[long, None] + np.arange(10)].astype(np.uint64)
        size[long] = np.argmin(digits >= 0x80, axis=1) + 1
        used = np.arange(10) < size[long, None]
        value[long] = np.bitwise_or.reduce(((digits & 0x7F) << (np.arange(10, dtype=np.uint64) * 7)) * used, axis=1)
    return value, size


def fields(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           what: str = "protobuf body") -> tuple[np.ndarray, ...]:
    """Every field of the (already validated) messages at [starts, ends): (message index, field number, wire
    type, payload start, payload length). Round k reads the k-th field of every message still unfinished, so
    the number of rounds is the largest number of fields in one message, not the number of messages."""
    found = []
    active = np.flatnonzero(starts < ends)
    pos = starts.astype(np.int64)
    while active.size:
        tag, size = varints(buf, pos[active])
        kind = (tag & 7).astype(np.int64)
        if ((kind == 3) | (kind == 4)).any():
            raise InputError(f"{what}: protobuf groups are not supported")
        at = pos[active] + size
        head = np.zeros(at.size, dtype=np.int64)
        length = np.where(kind == 1, 8, np.where(kind == 5, 4, 0))
        varint, delimited = np.flatnonzero(kind == 0), np.flatnonzero(kind == 2)
        length[varint] = varints(buf, at[varint])[1]
        value, head[delimited] = varints(buf, at[delimited])
        length[delimited] = value.astype(np.int64)
        found.append((active, (tag >> 3).astype(np.int64), kind, at + head, length))
        pos[active] = at + head + length
        active = active[pos[active] < ends[active]]
    if not found:
        return tuple(np.zeros(0, dtype=np.int64) for _ in range(5))
    return tuple(np.concatenate(column) for column in zip(*found, strict=True))


def pick(fields: tuple[np.ndarray, ...], number: int, kind: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(payload start, payload length) of field `number` in each of `count` messages ((0, 0) when absent)."""
    index, numbers, kinds, start, length = fields
    chosen = (numbers == number) & (kinds == kind)
    starts, lengths = np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64)
    starts[index[chosen]], lengths[index[chosen]] = start[chosen], length[chosen]
    return starts, lengths


def strings(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> pa.Array:
    """The byte ranges as a string array (UTF-8 was checked by the protobuf parse)."""
    offsets = np.zeros(start.size + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    data = buf[np.repeat(start - offsets[:-1], length) + np.arange(offsets[-1])]
    return pa.StringArray.from_buffers(start.size, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
