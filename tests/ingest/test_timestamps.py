"""Timestamps are stored in UTC; naive values need --assume-tz (or a format that fixes UTC); DST
gaps and overlaps are refused, not guessed. Expected UTC values are worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engmetrics.errors import InputError

SLI = "service,indicator,ts,good,total"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def load(write, ingest, values: list[str], **options):
    lines = [f"s,i{n},{v},1,2" for n, v in enumerate(values)]
    return ingest("sli_events", write("t.csv", "\n".join([SLI, *lines]) + "\n"), **options)


def stored(rows) -> dict[str, datetime]:
    return {i: ts.astimezone(UTC) for i, ts in rows("SELECT indicator, ts FROM sli_events")}


def test_offsets_z_and_epochs_are_accepted(write, ingest, rows, quarantined):
    result = load(write, ingest, [
        "2026-01-01T10:00:00Z",            # i0
        "2026-01-01T10:00:00+02:00",       # i1: 10:00 at +02 is 08:00 UTC
        "2026-01-01T10:00:00-05:00",       # i2: 15:00 UTC
        "2026-01-01 23:30:00+05:30",       # i3: 18:00 UTC
        "1767225600",                      # i4: 20454 days (56 years + 14 leap days) * 86400 -> 2026-01-01 00:00
        "1767225600123",                   # i5: the same in milliseconds, plus 123 ms
        "2026-06-30T23:59:59.5Z",          # i6
    ])
    assert quarantined() == []
    assert result.inserted == 7
    assert stored(rows) == {
        "i0": utc(2026, 1, 1, 10), "i1": utc(2026, 1, 1, 8), "i2": utc(2026, 1, 1, 15),
        "i3": utc(2026, 1, 1, 18), "i4": utc(2026, 1, 1), "i5": utc(2026, 1, 1, 0, 0, 0, 123000),
        "i6": utc(2026, 6, 30, 23, 59, 59, 500000),
    }


def test_naive_timestamp_is_refused_without_a_zone(write, ingest, quarantined, store):
    result = load(write, ingest, ["2026-01-01T10:00:00Z", "2026-01-01 10:00:00"])
    assert (result.inserted, result.quarantined) == (1, 1)
    [q] = quarantined()
    assert (q["line"], q["column"]) == (3, "ts")
    assert q["reason"] == "ts: 2026-01-01 10:00:00 has no UTC offset; give one or pass --assume-tz"


@pytest.mark.parametrize(("zone", "local", "expected"), [
    ("Europe/Berlin", "2026-01-15 12:00:00", utc(2026, 1, 15, 11)),       # CET, UTC+1
    ("Europe/Berlin", "2026-07-01 12:00:00", utc(2026, 7, 1, 10)),        # CEST, UTC+2
    ("Europe/Berlin", "2026-03-29 01:59:00", utc(2026, 3, 29, 0, 59)),    # last minute before the gap
    ("Europe/Berlin", "2026-03-29 03:00:00", utc(2026, 3, 29, 1)),        # first minute after the gap
    ("Europe/Berlin", "2026-10-25 03:00:00", utc(2026, 10, 25, 2)),       # after the overlap, CET again
    ("Europe/Berlin", "2026-10-25 01:59:00", utc(2026, 10, 24, 23, 59)),  # before the overlap, CEST
    ("America/New_York", "2026-01-15 09:00:00", utc(2026, 1, 15, 14)),    # EST, UTC-5
    ("America/New_York", "2026-07-04 09:00:00", utc(2026, 7, 4, 13)),     # EDT, UTC-4
    ("Asia/Kolkata", "2026-01-01 05:30:00", utc(2026, 1, 1)),             # UTC+5:30, no DST
])
def test_assume_tz_converts_local_time(zone, local, expected, write, ingest, rows, quarantined):
    load(write, ingest, [local], assume_tz=zone)
    assert quarantined() == []
    assert stored(rows) == {"i0": expected}


@pytest.mark.parametrize(("zone", "local", "why"), [
    ("Europe/Berlin", "2026-03-29 02:30:00", "does not exist in Europe/Berlin (DST gap)"),
    ("Europe/Berlin", "2026-10-25 02:30:00", "is ambiguous in Europe/Berlin (DST overlap)"),
    ("America/New_York", "2026-03-08 02:30:00", "does not exist in America/New_York (DST gap)"),
    ("America/New_York", "2026-11-01 01:30:00", "is ambiguous in America/New_York (DST overlap)"),
])
def test_dst_gaps_and_overlaps_are_quarantined(zone, local, why, write, ingest, quarantined, store):
    result = load(write, ingest, ["2026-05-05 12:00:00", local], assume_tz=zone)
    assert (result.inserted, result.quarantined) == (1, 1)
    [q] = quarantined()
    assert (q["line"], q["column"], q["reason"]) == (3, "ts", f"ts: {local} {why}")


def test_assume_tz_does_not_change_values_with_an_offset(write, ingest, rows):
    load(write, ingest, ["2026-07-01T12:00:00Z", "1767225600"], assume_tz="Europe/Berlin")
    assert stored(rows) == {"i0": utc(2026, 7, 1, 12), "i1": utc(2026, 1, 1)}


def test_unknown_zone_is_an_input_error(write, ingest):
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        load(write, ingest, ["2026-01-01 00:00:00"], assume_tz="Mars/Olympus")


def test_cost_naive_timestamps_are_utc(write, ingest, rows, quarantined):
    head = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
            "BilledCost,EffectiveCost")
    ingest("cost", write("c.csv", f"{head}\n"
                                  "2026-01-01 00:00:00,2026-02-01 00:00:00,2026-01-05 10:00:00,"
                                  "2026-01-05T12:00:00+01:00,Usage,2,2\n"))
    assert quarantined() == []
    [(start, end)] = rows('SELECT "ChargePeriodStart", "ChargePeriodEnd" FROM cost')
    assert (start, end) == (utc(2026, 1, 5, 10), utc(2026, 1, 5, 11))


def test_parquet_timestamp_types(tmp_path, ingest, rows, quarantined):
    naive = datetime(2026, 7, 1, 12)
    aware = datetime(2026, 7, 1, 12, tzinfo=UTC)
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({
        "service": ["s", "s"], "indicator": ["aware", "naive"],
        "ts": pa.array([aware, aware], pa.timestamp("us", tz="UTC")),
        "good": [1.0, 1.0], "total": [2.0, 2.0]}), path)
    ingest("sli_events", path)
    assert stored(rows) == {"aware": utc(2026, 7, 1, 12), "naive": utc(2026, 7, 1, 12)}
    path2 = tmp_path / "n.parquet"
    pq.write_table(pa.table({"service": ["s"], "indicator": ["local"], "ts": pa.array([naive], pa.timestamp("us")),
                             "good": [1.0], "total": [2.0]}), path2)
    result = ingest("sli_events", path2)
    assert result.quarantined == 1
    assert quarantined()[0]["reason"].endswith("has no UTC offset; give one or pass --assume-tz")
    result = ingest("sli_events", path2, assume_tz="Europe/Berlin")
    assert result.inserted == 1
    assert stored(rows)["local"] == utc(2026, 7, 1, 10)
