"""The push receivers' queue and writer: decoded requests wait in a bounded queue, one writer thread stores
them in batches through the server's single write connection, and each request learns when its samples are
committed.

- `offer` accepts a request's samples while the queue holds fewer than `max_queued_samples` (an empty
  queue takes one request of any size) and returns a `concurrent.futures.Future` of its `Receipt`; None when
  the queue is full (the route answers 429 with Retry-After). Samples count as queued until their
  transaction ends, so the bound covers the batch being written too.
- The writer takes whole requests, up to `max_batch_samples` a batch. Once it is free and holds a request,
  it lingers up to `batch_linger_ms` while fewer samples are queued, so concurrent senders share a commit:
  a request waits at most that long more than it would without lingering. In one transaction it quarantines
  what `telemetry.admit.admit` refuses (NaN or infinite values, clock skew beyond the policy, dates before
  the retention horizon) — in `_quarantine` with `source_file` = the source and the reason — and upserts
  the rest by (series, ts) under the source priority (`telemetry.dedup.store_samples`). Only after COMMIT
  are the batch's futures resolved: a 2xx answer means stored (or quarantined), never merely queued. Many
  requests share one commit.
- A failed transaction is tried again after `_RETRY_SECONDS`, `write_tries` times in all; then each of its
  requests is tried once alone (one bad request, e.g. a timestamp the engine cannot handle, must not fail the
  others sharing its batch), and a request that fails alone too gets `Unstored` (the route answers 503 with
  Retry-After: the sender retries) and its samples count as `lost` (not stored here). `failures` counts
  consecutive failed transactions and returns to 0 after a success.
- `close` refuses new requests (their futures fail with `Unstored`) and returns once every accepted
  request is stored or given up; once a batch has failed all its tries while closing, the rest of the queue
  is given up at once (counted in `lost`, answered 503).

>>> from engmetrics.api.state import StoreProvider
>>> from engmetrics.store import Store
>>> from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request
>>> receiver = TelemetryReceiver(StoreProvider(Store.open("duckdb://")), ReceiverSettings(), ClockPolicy())
>>> receiver.start()
>>> now = datetime.now(UTC)
>>> body = encode_write_request([({"__name__": "up", "job": "a"}, [(1.0, int(now.timestamp() * 1000))])])
>>> receiver.offer(decode_write_request(body).samples, "remote_write:test", now).result(timeout=30)
Receipt(quarantined=0, reasons=())
>>> receiver.close()
>>> receiver.stats()["stored"]
1
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from .admit import admit, quarantine_samples
from .batch import REASON, SCHEMA
from .config import ClockPolicy, ReceiverSettings
from .dedup import COLUMNS, Stored, store_samples

if TYPE_CHECKING:
    from ..api.state import StoreProvider

__all__ = ["Receipt", "TelemetryReceiver", "Unstored"]

log = logging.getLogger(__name__)
_RETRY_SECONDS = 1.0
_TS = SCHEMA.field("ts").type


class Unstored(Exception):
    """A request's samples were not stored: their write failed after every try, or the receiver is closing."""


@dataclass(frozen=True)
class Receipt:
    """A request's samples are committed: all stored except `quarantined` of them (refused by
    `telemetry.admit`, kept in the quarantine), with the first `reasons` of each kind of refusal."""

    quarantined: int = 0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Request:
    samples: pa.Table
    source: str
    received_at: datetime
    number: int
    done: Future[Receipt]


@dataclass(frozen=True)
class _Written:
    stored: Stored
    receipts: list[Receipt]


def _pushed(requests: list[_Request]) -> pa.Table:
    """The requests as one table: the samples plus source, received_at and `_req` (arrival number)."""
    sizes = np.array([r.samples.num_rows for r in requests], dtype=np.int64)
    which = pa.array(np.repeat(np.arange(len(requests)), sizes))
    samples = pa.concat_tables([r.samples.select(list(SCHEMA.names)) for r in requests])
    received = pa.array([r.received_at for r in requests], _TS)
    return samples.append_column("source", pa.array([r.source for r in requests], pa.string()).take(which)) \
        .append_column("received_at", received.take(which)) \
        .append_column("_req", pa.array([r.number for r in requests], pa.int64()).take(which))


def _receipts(requests: list[_Request], refused: list[tuple[pa.Table, str]]) -> list[Receipt]:
    """Each request's quarantined count and first reason per kind of refusal (`refused` as `admit` gives it,
    its rows carrying `_req`); the requests are in arrival order."""
    numbers = np.array([r.number for r in requests], dtype=np.int64)
    counts = np.zeros(len(requests), dtype=np.int64)
    reasons: list[list[str]] = [[] for _ in requests]
    for bad, _column in refused:
        if not bad.num_rows:
            continue
        at = np.searchsorted(numbers, bad.column("_req").to_numpy())
        counts += np.bincount(at, minlength=len(requests))
        first, rows = np.unique(at, return_index=True)
        for i, text in zip(first.tolist(), bad.column(REASON).take(pa.array(rows)).to_pylist(), strict=True):
            reasons[i].append(text)
    return [Receipt(int(n), tuple(texts)) for n, texts in zip(counts, reasons, strict=True)]


def _settled(outcome: Receipt | Unstored) -> Future[Receipt]:
    """A future already holding `outcome` (a receipt, or the exception it raises)."""
    done: Future[Receipt] = Future()
    done.set_running_or_notify_cancel()
    if isinstance(outcome, Unstored):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
    return done


class TelemetryReceiver:
    """A bounded queue of pushed samples and the thread that stores them (see the module docstring)."""

    def __init__(self, stores: StoreProvider, settings: ReceiverSettings, clocks: ClockPolicy) -> None:
        self._stores, self._settings, self._clocks = stores, settings, clocks
        self._cond = threading.Condition()
        self._requests: deque[_Request] = deque()
        self._queued = self._numbered = 0
        self._totals = dict(accepted=0, rejected_full=0, inserted=0, replaced=0, dropped=0, quarantined=0,
                            superseded=0, batches=0, lost=0, failures=0)
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread, after setting the store's checkpoint threshold (`checkpoint_mb`)."""
        if self._stores.store.is_duckdb:  # a setting of the whole database: its own connection will do
            self._stores.store.sql.execute(f"SET checkpoint_threshold = '{self._settings.checkpoint_mb}MiB'")
        self._thread = threading.Thread(target=self._run, name="engmetrics-telemetry-writer", daemon=True)
        self._thread.start()

    def offer(self, samples: pa.Table, source: str, received_at: datetime) -> Future[Receipt] | None:
        """Queue a request's samples (a `telemetry.batch.SCHEMA` table) from `source`: the future of its
        `Receipt`, resolved once they are committed (or failing with `Unstored`); None when the queue is
        full. An empty request is settled at once; a closing receiver fails the future at once."""
        n = samples.num_rows
        with self._cond:
            if self._closing:
                return _settled(Unstored("the server is stopping; send the samples again"))
            if self._queued and self._queued + n > self._settings.max_queued_samples:
                self._totals["rejected_full"] += n
                return None
            self._totals["accepted"] += n
            if not n:
                return _settled(Receipt())
            done: Future[Receipt] = Future()
            done.set_running_or_notify_cancel()  # running: an awaiting route that goes away cannot cancel it
            self._numbered += 1
            self._requests.append(_Request(samples, source, received_at.astimezone(UTC), self._numbered, done))
            self._queued += n
            self._cond.notify_all()
        return done

    def stats(self) -> dict[str, int]:
        """`queued` (accepted, not yet committed), `accepted`, `rejected_full` (answered 429), `stored`
        (inserted + replaced), `inserted`, `replaced`, `dropped` (overlaps), `quarantined`, `superseded` (a
        resend of a (series, ts) of the same source within one batch: the newer value is stored, the older
        is not), `batches` (committed transactions), `lost` (accepted, then given up after failed writes:
        answered 503) and `failures` (consecutive failed transactions; 0 after a success)."""
        with self._cond:
            totals = dict(self._totals)
            queued = self._queued
        return dict(queued=queued, **totals, stored=totals["inserted"] + totals["replaced"])

    def close(self) -> None:
        """Refuse new requests and wait until every accepted request is stored or given up."""
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
            self._linger()
            taken, size = [], 0
            while self._requests and (not taken or size + self._requests[0].samples.num_rows
                                      <= self._settings.max_batch_samples):
                taken.append(self._requests.popleft())
                size += taken[-1].samples.num_rows
            return taken

    def _linger(self) -> None:
        """Wait (holding the condition, a request queued) until a full batch is queued, `batch_linger_ms` has
        passed, or the receiver closes."""
        until = time.monotonic() + self._settings.batch_linger_ms / 1000
        while (not self._closing and self._queued < self._settings.max_batch_samples
               and (left := until - time.monotonic()) > 0):
            self._cond.wait(left)

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            written = self._try(taken, self._settings.write_tries)
            if written is None and len(taken) > 1:  # one bad request must not fail the others: each alone, once
                outcomes = [([request], self._try([request], 1)) for request in taken]
            else:
                outcomes = [(taken, written)]
            for requests, outcome in outcomes:
                self._settle(requests, outcome)
            if self._closing and any(outcome is None for _, outcome in outcomes):
                with self._cond:
                    rest = list(self._requests)
                    self._requests.clear()
                if rest:
                    log.error("gave up %d queued pushed request(s) at shutdown after a failed write", len(rest))
                    self._settle(rest, None)

    def _try(self, taken: list[_Request], tries: int) -> _Written | None:
        """The batch written, trying `tries` times; None when every try failed."""
        for attempt in range(1, tries + 1):
            try:
                return self._write(taken)
            except Exception:
                log.exception("storing %d pushed request(s) failed (try %d of %d)", len(taken), attempt, tries)
                with self._cond:
                    self._totals["failures"] += 1
                if attempt < tries:
                    time.sleep(_RETRY_SECONDS)
        return None

    def _settle(self, taken: list[_Request], written: _Written | None) -> None:
        """Count the batch's outcome, then answer its requests (resolve or fail their futures)."""
        n = sum(r.samples.num_rows for r in taken)
        with self._cond:
            self._queued -= n
            if written is None:
                self._totals["lost"] += n
            else:
                for name in ("inserted", "replaced", "dropped", "superseded"):
                    self._totals[name] += getattr(written.stored, name)
                self._totals["quarantined"] += sum(r.quarantined for r in written.receipts)
                self._totals["batches"] += 1
                self._totals["failures"] = 0
            self._cond.notify_all()
        if written is None:
            for request in taken:
                request.done.set_exception(Unstored(f"storing the samples failed {self._settings.write_tries} "
                                                    "times; send them again"))
        else:
            for request, receipt in zip(taken, written.receipts, strict=True):
                request.done.set_result(receipt)

    def _write(self, taken: list[_Request]) -> _Written:
        with self._stores.writer(tokens=False) as store:
            con = store.sql
            con.execute("BEGIN TRANSACTION")
            try:
                kept, refused = admit(store, _pushed(taken), self._clocks)
                quarantine_samples(con, refused)
                stored = store_samples(store, kept.select([*COLUMNS, "_req"]), self._settings.source_priority,
                                       self._settings.overlap_window_seconds)
                receipts = _receipts(taken, refused)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return _Written(stored, receipts)
