"""Shared pieces of the demo generator: the period, per-topic random generators and array helpers.

Every topic draws from its own generator, seeded from the demo seed and the topic's name, so adding
or changing one topic never shifts the numbers of another.

>>> period = Period.ending(date(2026, 1, 4), days=7)
>>> str(period.start), str(period.end), period.hours
('2025-12-29T00:00:00', '2026-01-05T00:00:00', 168)
>>> bool(topic_rng(7, "org").integers(0, 100) == topic_rng(7, "org").integers(0, 100))
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

__all__ = [
    "HOUR", "MINUTE", "NAT", "Period", "after_end", "hex_ids", "local_times",
    "lognormal_seconds", "to_table", "topic_rng", "utc_offsets", "with_prefix",
]

MINUTE = np.timedelta64(60, "s")
HOUR = np.timedelta64(3600, "s")
NAT = np.datetime64("NaT", "s")


def topic_rng(seed: int, topic: str) -> np.random.Generator:
    """The random generator of one topic: independent of every other topic's draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(topic.encode())]))


@dataclass(frozen=True)
class Period:
    """Whole UTC days: `days` days up to and including the last one; `end` is the instant after."""

    start: np.datetime64
    days: int

    @classmethod
    def ending(cls, end: date, days: int) -> Period:
        if days < 1:
            raise ValueError("days must be at least 1")
        stop = np.datetime64((end + timedelta(days=1)).isoformat(), "s")
        return cls(stop - np.timedelta64(days, "D").astype("m8[s]"), days)

    @property
    def end(self) -> np.datetime64:
        return self.start + np.timedelta64(self.days, "D").astype("m8[s]")

    @property
    def hours(self) -> int:
        return self.days * 24

    def day_starts(self) -> np.ndarray:
        """Midnight UTC of every day, as datetime64[s]."""
        return self.start + np.arange(self.days) * np.timedelta64(1, "D").astype("m8[s]")

    def hour_starts(self) -> np.ndarray:
        return self.start + np.arange(self.hours) * HOUR

    def dates(self) -> list[date]:
        first = self.start.astype("M8[D]").item()
        return [first + timedelta(days=i) for i in range(self.days)]

    def weekdays(self) -> np.ndarray:
        """Monday = 0 ... Sunday = 6, per day."""
        return (self.start.astype("M8[D]").astype(np.int64) + np.arange(self.days) + 3) % 7


def utc_offsets(timezone: str, period: Period) -> np.ndarray:
    """Seconds east of UTC of `timezone` at noon of each day (daylight saving included)."""
    zone = ZoneInfo(timezone)
    from datetime import datetime, time

    offsets = [datetime.combine(d, time(12), zone).utcoffset() for d in period.dates()]
    return np.array([o.total_seconds() if o else 0 for o in offsets], dtype=np.int64)


def lognormal_seconds(rng: np.random.Generator, median_s: float, sigma: float, n: int) -> np.ndarray:
    """Lognormal durations (timedelta64[s]) with the given median; at least one second."""
    values = np.exp(np.log(median_s) + sigma * rng.standard_normal(n))
    return np.maximum(np.round(values), 1).astype(np.int64).astype("m8[s]")


_HEX = np.array([f"{i:02x}" for i in range(256)])


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 20) -> np.ndarray:
    """`n` random lower-case hex strings of `2 * nbytes` characters (e.g. git SHAs)."""
    raw = rng.integers(0, 256, size=(n, nbytes))
    pairs = np.ascontiguousarray(_HEX[raw].astype("<U2"))
    return pairs.view(f"<U{2 * nbytes}").reshape(n)


def with_prefix(prefix: str, numbers: np.ndarray, width: int = 5) -> np.ndarray:
    """`prefix` + zero-padded numbers, vectorised: with_prefix("INC-", [3]) -> ["INC-00003"]."""
    numbers = np.asarray(numbers)
    if numbers.size == 0:
        return np.array([], dtype=str)
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width))


def to_table(columns: dict[str, object]) -> pa.Table:
    """A pyarrow table from numpy columns: NaT and NaN become nulls, datetimes become UTC timestamps."""
    arrays: dict[str, pa.Array] = {}
    for name, values in columns.items():
        if isinstance(values, pa.Array | pa.ChunkedArray):
            arrays[name] = values
            continue
        array = np.asarray(values)
        if array.dtype.kind == "M":
            array = array.astype("M8[s]")
            arrays[name] = pa.array(array, type=pa.timestamp("s", tz="UTC"), mask=np.isnat(array))
        elif array.dtype.kind == "f":
            arrays[name] = pa.array(array, mask=np.isnan(array))
        elif array.dtype.kind in "UO":
            arrays[name] = pa.array(array.tolist() if array.dtype.kind == "O" else array, type=pa.string())
        else:
            arrays[name] = pa.array(array)
    return pa.table(arrays)


def after_end(values: np.ndarray, end: np.datetime64) -> np.ndarray:
    """`values` with every time at or after `end` (not yet happened) replaced by NaT."""
    return np.where(values >= end, NAT, values)


def local_times(rng: np.random.Generator, day_starts: np.ndarray, offsets: np.ndarray,
                start_hour: np.ndarray | int, end_hour: np.ndarray | int) -> np.ndarray:
    """UTC instants uniformly inside local hours `[start_hour, end_hour)` of the given days.

    `offsets` are the seconds east of UTC of the local zone on those days.
    """
    span = (np.asarray(end_hour) - np.asarray(start_hour)) * 3600
    seconds = np.asarray(start_hour) * 3600 + np.floor(rng.uniform(0, 1, len(day_starts)) * span)
    return day_starts + (seconds.astype(np.int64) - offsets).astype("m8[s]")
