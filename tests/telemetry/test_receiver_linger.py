"""The writer's linger (`batch_linger_ms`): requests that arrive while the writer waits share one commit; a full
batch, or closing, ends the wait at once; without a linger every request is written as soon as the writer is free;
the linger delays a request by at most its length more than the write."""

from __future__ import annotations

import time
from concurrent.futures import Future
from datetime import UTC, datetime

from test_receiver_durable import GatedStores

from engmetrics.api.state import StoreProvider
from engmetrics.telemetry.config import ClockPolicy, ReceiverSettings
from engmetrics.telemetry.receiver import Receipt, TelemetryReceiver
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request

NOW = datetime.now(UTC).replace(microsecond=0)


def _samples(name: str, n: int = 1):
    ts = int(NOW.timestamp() * 1000)
    return decode_write_request(encode_write_request([({"__name__": name}, [(float(i), ts + i) for i in range(n)])
                                                      ])).samples


def _receiver(stores: StoreProvider, **settings) -> TelemetryReceiver:
    receiver = TelemetryReceiver(stores, ReceiverSettings(**settings), ClockPolicy())
    receiver.start()
    return receiver


def _offer(receiver: TelemetryReceiver, name: str, n: int = 1) -> Future[Receipt]:
    done = receiver.offer(_samples(name, n), "remote_write:test", NOW)
    assert done is not None
    return done


def test_requests_arriving_while_the_writer_lingers_share_one_commit(store):
    receiver = _receiver(StoreProvider(store), batch_linger_ms=400)
    began = time.monotonic()
    first = _offer(receiver, "a")
    time.sleep(0.1)  # the writer holds "a" and lingers: the next two arrive within the 400 ms
    rest = [_offer(receiver, "b"), _offer(receiver, "c")]
    assert first.result(timeout=30) == Receipt()
    waited = time.monotonic() - began
    assert [f.result(timeout=30) for f in rest] == [Receipt(), Receipt()]
    receiver.close()
    assert receiver.stats()["batches"] == 1 and receiver.stats()["stored"] == 3
    assert waited >= 0.4  # the writer waited out the linger: the queue stayed below max_batch_samples


def test_a_full_batch_ends_the_linger_and_closing_does_too(store):
    receiver = _receiver(StoreProvider(store), batch_linger_ms=1000, max_batch_samples=5)
    began = time.monotonic()
    futures = [_offer(receiver, "a", 2), _offer(receiver, "b", 3)]  # 2 + 3 = max_batch_samples: written at once
    assert [f.result(timeout=30) for f in futures] == [Receipt(), Receipt()]
    assert time.monotonic() - began < 0.9
    lingering = _offer(receiver, "c")
    time.sleep(0.05)
    began = time.monotonic()
    receiver.close()  # the writer stops lingering and stores "c" before close returns
    assert time.monotonic() - began < 0.9
    assert lingering.result(timeout=0) == Receipt()
    assert (receiver.stats()["batches"], receiver.stats()["stored"]) == (2, 6)


def test_without_a_linger_the_writer_takes_what_is_queued_at_once(store):
    stores = GatedStores(store)
    receiver = _receiver(stores, batch_linger_ms=0)
    stores.gate.clear()
    first = _offer(receiver, "a")
    assert stores.entered.wait(10)  # the writer holds "a" (blocked before its transaction)
    queued = [_offer(receiver, "b"), _offer(receiver, "c")]
    stores.gate.set()
    assert [f.result(timeout=30) for f in (first, *queued)] == [Receipt()] * 3
    receiver.close()
    # "a" alone, then "b" and "c" (queued meanwhile) together
    assert receiver.stats()["batches"] == 2


def test_a_request_waits_at_most_the_linger_more_than_the_write(store):
    """After a batch, the writer lingers at most `batch_linger_ms` before the next: the request queued during
    the write is answered within the linger (plus its own write) after the batch before it."""
    stores = GatedStores(store)
    receiver = _receiver(stores, batch_linger_ms=300)
    stores.gate.clear()
    first = _offer(receiver, "a")
    assert stores.entered.wait(10)
    second = _offer(receiver, "b")
    time.sleep(0.5)
    stores.gate.set()
    first.result(timeout=30)
    answered = time.monotonic()
    second.result(timeout=30)
    receiver.close()
    assert 0.25 <= time.monotonic() - answered < 0.3 + 2.0  # 300 ms of linger, then one small write
    assert receiver.stats()["batches"] == 2
