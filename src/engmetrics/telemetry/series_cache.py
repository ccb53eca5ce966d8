"""The texts of series seen before (`series`, `labels`, `metric`), keyed by the raw bytes they were made from.

A sender repeats the same series request after request with new samples only: Prometheus sends every active
series every scrape interval, an OTLP exporter every point of the same attribute sets. Making the series key
and the labels JSON is the per-series part of decoding; done once per distinct series instead of once per
request, a request of known series costs its wire parse and a few array takes. The key must determine the
texts completely (remote-write: the series' label fields, byte for byte, which include `__name__`), and a
row is remembered only once its series' labels were validated, so a hit is a series already validated (a
request refused later, e.g. for a timestamp out of range, may still have added its series).

The cache is bounded: when `capacity` series are held it starts afresh (the texts of a live series are made
again on its next request). Lookups are lock-free against a generation snapshot; additions take a lock.

>>> cache = SeriesCache(capacity=10)
>>> made = lambda miss: pa.table({"series": [f"s{i}" for i in miss], "labels": ["{}"] * len(miss),
...                                "metric": ["m"] * len(miss)})
>>> cache.resolve([b"a", b"b"], made).column("series").to_pylist()
['s0', 's1']
>>> cache.resolve([b"b", b"c", None], made).column("series").to_pylist()  # b is remembered as s1
['s1', 's1', 's2']
>>> len(cache)
3
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np
import pyarrow as pa

__all__ = ["COLUMNS", "SeriesCache"]

COLUMNS = ("series", "labels", "metric")
_MAX_CHUNKS = 8  # chunks of a generation before they are combined (a take over few chunks stays cheap)


class _Generation:
    """One filling of the cache: key -> row number in `chunks` (append-only: rows keep their numbers)."""

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {}
        self.chunks: tuple[pa.Table, ...] = ()
        self.rows = 0


class SeriesCache:
    """Series texts by key bytes, at most `capacity` series (see the module docstring)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._gen = _Generation()

    def __len__(self) -> int:
        return len(self._gen.ids)

    def clear(self) -> None:
        """Forget every series (benchmarks use it to time a cold decode)."""
        with self._lock:
            self._gen = _Generation()

    def resolve(self, keys: Sequence[bytes | None], make: Callable[[np.ndarray], pa.Table]) -> pa.Table:
        """A table of `COLUMNS`, one row per key: remembered rows for known keys; `make(indices)` gives the
        rows of the others (indices into `keys`, ascending), which are remembered unless their key is None
        (a series whose bytes do not determine its texts). Exceptions from `make` propagate, nothing kept."""
        gen = self._gen
        ids = np.fromiter(map(gen.ids.get, keys, repeat(-1)), dtype=np.int64, count=len(keys))
        miss = np.flatnonzero(ids < 0)
        known = pa.concat_tables(gen.chunks) if gen.chunks else None  # read after the lookup: holds every id
        if not miss.size:
            return known.take(pa.array(ids)) if known is not None else make(miss)
        made = make(miss).select(list(COLUMNS))
        self._remember([keys[i] for i in miss.tolist()], made)
        if miss.size == len(keys):
            return made
        hits = np.flatnonzero(ids >= 0)
        order = np.empty(len(keys), dtype=np.int64)
        order[hits], order[miss] = np.arange(hits.size), hits.size + np.arange(miss.size)
        return pa.concat_tables([known.take(pa.array(ids[hits])), made]).take(pa.array(order))

    def _remember(self, keys: list[bytes | None], made: pa.Table) -> None:
        keep = [i for i, key in enumerate(keys) if key is not None]
        if not keep:
            return
        if len(keep) < len(keys):
            made, keys = made.take(pa.array(keep, pa.int64())), [keys[i] for i in keep]
        with self._lock:
            gen = self._gen
            if gen.rows + len(keys) > self.capacity:
                gen = self._gen = _Generation()
                if len(keys) > self.capacity:
                    return
            chunks = (*gen.chunks, made)
            gen.chunks = (pa.concat_tables(chunks).combine_chunks(),) if len(chunks) > _MAX_CHUNKS else chunks
            gen.ids.update(zip(keys, range(gen.rows, gen.rows + len(keys)), strict=True))
            gen.rows += len(keys)
