"""The receiver's counters add up for a resend within one batch, and one request the store cannot take does not
fail the requests sharing its batch (hand-checked)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import engmetrics.telemetry.receiver as receiver_module
from engmetrics.api.state import StoreProvider
from engmetrics.telemetry.config import ClockPolicy, ReceiverSettings
from engmetrics.telemetry.receiver import Receipt, TelemetryReceiver, Unstored
from engmetrics.telemetry.remote_write import decode_write_request, encode_write_request


def _samples(job: str, points: list[tuple[float, int]]):
    return decode_write_request(encode_write_request([({"__name__": "up", "job": job}, points)])).samples


def _accounted(stats: dict[str, int]) -> int:
    return sum(stats[k] for k in ("stored", "dropped", "quarantined", "superseded", "lost", "queued"))


def test_a_resend_within_one_batch_is_counted_as_superseded(store):
    receiver = TelemetryReceiver(StoreProvider(store), ReceiverSettings(), ClockPolicy())
    now = datetime.now(UTC)
    ms = int(now.timestamp() * 1000)
    points = [(1.0, ms), (2.0, ms + 1000)]
    # queued before the writer starts: both requests (the second a resend after a client timeout) share a batch
    first = receiver.offer(_samples("a", points), "remote_write:p", now)
    again = receiver.offer(_samples("a", points), "remote_write:p", now)
    receiver.start()
    receiver.close()
    assert first.result() == again.result() == Receipt()
    stats = receiver.stats()
    # 4 accepted: the 2 newest values stored, the 2 older copies superseded
    assert (stats["accepted"], stats["stored"], stats["superseded"], stats["batches"]) == (4, 2, 2, 1)
    assert _accounted(stats) == stats["accepted"]


def test_one_request_the_store_cannot_take_fails_alone(store, monkeypatch):
    monkeypatch.setattr(receiver_module, "_RETRY_SECONDS", 0.01)
    # a skew limit so large that a sample dated in the year 10000 is admitted, and the store's write of it fails
    receiver = TelemetryReceiver(StoreProvider(store), ReceiverSettings(write_tries=2),
                                 ClockPolicy(max_skew_seconds=10**13))
    now = datetime.now(UTC)
    good = receiver.offer(_samples("a", [(1.0, int(now.timestamp() * 1000))]), "remote_write:a", now)
    bad = receiver.offer(_samples("b", [(1.0, 253_402_300_800_000)]), "remote_write:b", now)
    receiver.start()
    receiver.close()
    assert good.result() == Receipt()
    with pytest.raises(Unstored):
        bad.result()
    stats = receiver.stats()
    assert (stats["accepted"], stats["stored"], stats["lost"]) == (2, 1, 1)
    assert _accounted(stats) == stats["accepted"]
    assert store.sql.execute("SELECT series FROM telemetry_samples").fetchall() == [('up{job="a"}',)]
