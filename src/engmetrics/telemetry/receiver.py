"""The push receivers' queue and writer: decoded requests wait in a bounded queue, one writer thread stores
them in batches through the server's single write connection.

- `offer` accepts a request's samples while the queue holds fewer than `max_queued_samples` (an empty
  queue takes one request of any size) and returns False otherwise: the route answers 429 with Retry-After.
  Samples count as queued until they are stored, so the bound covers the batch being written too.
- The writer takes whole requests, up to `max_batch_samples` a batch, and in one transaction quarantines
  what `telemetry.admit.admit` refuses (NaN or infinite values, clock skew beyond the policy, dates before
  the retention horizon) — in `_quarantine` with `source_file` = the source and the reason — and upserts
  the rest by (series, ts) under the source priority (`telemetry.dedup.store_samples`).
- `close` stops taking requests and returns once every accepted sample is stored or its tries are spent.
  A failed write is retried (the batch stays queued), every `_RETRY_SECONDS`; on close, `_CLOSE_TRIES` times.
  A 2xx means queued, not yet stored: a crash of the process loses what is still queued (known gap, issue 10:
  answer after the commit or spool to disk).

>>> from engmetrics.api.state import StoreProvider
>>> from engmetrics.store import Store
>>> from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request
>>> receiver = TelemetryReceiver(StoreProvider(Store.open("duckdb://")), ReceiverSettings(), ClockPolicy())
>>> receiver.start()
>>> now = datetime.now(UTC)
>>> body = encode_write_request([({"__name__": "up", "job": "a"}, [(1.0, int(now.timestamp() * 1000))])])
>>> receiver.offer(decode_write_request(body).samples, "remote_write:test", now)
True
>>> receiver.close()
>>> receiver.stats()["stored"]
1
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from .admit import admit, quarantine_samples
from .batch import SCHEMA
from .config import ClockPolicy, ReceiverSettings
from .dedup import COLUMNS, store_samples

if TYPE_CHECKING:
    from ..api.state import StoreProvider

__all__ = ["TelemetryReceiver"]

log = logging.getLogger(__name__)
_RETRY_SECONDS, _CLOSE_TRIES = 1.0, 3
_TS = SCHEMA.field("ts").type


@dataclass(frozen=True)
class _Request:
    samples: pa.Table
    source: str
    received_at: datetime
    number: int


def _pushed(requests: list[_Request]) -> pa.Table:
    """The requests as one table: the samples plus source, received_at and `_req` (arrival number)."""
    sizes = np.array([r.samples.num_rows for r in requests], dtype=np.int64)
    which = pa.array(np.repeat(np.arange(len(requests)), sizes))
    samples = pa.concat_tables([r.samples.select(list(SCHEMA.names)) for r in requests])
    received = pa.array([r.received_at for r in requests], _TS)
    return samples.append_column("source", pa.array([r.source for r in requests], pa.string()).take(which)) \
        .append_column("received_at", received.take(which)) \
        .append_column("_req", pa.array([r.number for r in requests], pa.int64()).take(which))


class TelemetryReceiver:
    """A bounded queue of pushed samples and the thread that stores them (see the module docstring)."""

    def __init__(self, stores: StoreProvider, settings: ReceiverSettings, clocks: ClockPolicy) -> None:
        self._stores, self._settings, self._clocks = stores, settings, clocks
        self._cond = threading.Condition()
        self._requests: deque[_Request] = deque()
        self._queued = self._numbered = 0
        self._totals = dict(accepted=0, rejected_full=0, inserted=0, replaced=0, dropped=0, quarantined=0,
                            batches=0)
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="engmetrics-telemetry-writer", daemon=True)
        self._thread.start()

    def offer(self, samples: pa.Table, source: str, received_at: datetime) -> bool:
        """Queue a request's samples (a `telemetry.batch.SCHEMA` table) from `source`; False when full
        (or closing). An empty request is accepted without queueing."""
        n = samples.num_rows
        with self._cond:
            if self._closing or (self._queued and self._queued + n > self._settings.max_queued_samples):
                self._totals["rejected_full"] += n
                return False
            self._totals["accepted"] += n
            if n:
                self._numbered += 1
                self._requests.append(_Request(samples, source, received_at.astimezone(UTC), self._numbered))
                self._queued += n
                self._cond.notify_all()
        return True

    def stats(self) -> dict[str, int]:
        """`queued` (accepted, not yet stored), `accepted`, `rejected_full` (answered 429), `stored`
        (inserted + replaced), `inserted`, `replaced`, `dropped` (overlaps), `quarantined`, `batches`."""
        with self._cond:
            totals = dict(self._totals)
            queued = self._queued
        return dict(queued=queued, **totals, stored=totals["inserted"] + totals["replaced"])

    def close(self) -> None:
        """Refuse new requests and wait until every accepted sample is stored (or given up on)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _take(self) -> list[_Request] | None:
        with self._cond:
            while not self._requests and not self._closing:
                self._cond.wait()
            if not self._requests:
                return None
            taken, size = [], 0
            while self._requests and (not taken or size + self._requests[0].samples.num_rows
                                      <= self._settings.max_batch_samples):
                taken.append(self._requests.popleft())
                size += taken[-1].samples.num_rows
            return taken

    def _run(self) -> None:
        failures = 0
        while (taken := self._take()) is not None:
            try:
                self._write(taken)
                failures = 0
            except Exception:
                failures += 1
                log.exception("storing %d pushed request(s) failed (attempt %d)", len(taken), failures)
                if self._closing and failures >= _CLOSE_TRIES:
                    log.error("gave up storing %d pushed samples at shutdown",
                              sum(r.samples.num_rows for r in taken))
                else:
                    with self._cond:
                        self._requests.extendleft(reversed(taken))
                    time.sleep(_RETRY_SECONDS)
                    continue
            with self._cond:
                self._queued -= sum(r.samples.num_rows for r in taken)
                self._cond.notify_all()

    def _write(self, taken: list[_Request]) -> None:
        with self._stores.writer() as store:
            con = store.sql
            con.execute("BEGIN TRANSACTION")
            try:
                kept, refused = admit(store, _pushed(taken), self._clocks)
                quarantined = quarantine_samples(con, refused)
                stored = store_samples(store, kept.select([*COLUMNS, "_req"]), self._settings.source_priority)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        with self._cond:
            for name, value in (("inserted", stored.inserted), ("replaced", stored.replaced),
                                ("dropped", stored.dropped), ("quarantined", quarantined),
                                ("batches", 1)):
                self._totals[name] += value
