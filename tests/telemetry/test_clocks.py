"""Clock checks per source on DuckDB: skew quantiles, future and out-of-order samples, timezone offsets,
verdicts, and the skew quarantine. `test_clocks_spark.py` runs the same samples on PySpark."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from engmetrics.errors import InputError
from engmetrics.telemetry.clocks import ClockPolicy, SourceClock, clock_aggregate, clock_report, split_skewed

B = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def sample_rows() -> list[tuple[str, str, dt.datetime, dt.datetime | None]]:
    """(source, series, ts, received_at); the comments give each source's hand-checked figures."""
    rows = []
    # q: skews 1..9 and 100 s, taken 10 s apart (received in ts order). Sorted skews x_0..x_9:
    # median h = 9 * .5 = 4.5: 5 + .5 * (6 - 5) = 5.5; p99 h = 9 * .99 = 8.91: 9 + .91 * (100 - 9) = 91.81
    rows += [("q", "s", B + 10 * i * S, B + (10 * i + skew) * S) for i, skew in enumerate([*range(1, 10), 100])]
    # behind: writes UTC-2 local time as UTC: skews 7200 + 0..11 s, median 7205.5 -> offset 2
    rows += [("behind", "s", B + 60 * i * S, B + (60 * i + 7200 + i) * S) for i in range(12)]
    # ahead: UTC+2 as UTC: skew -7197 s, every sample from the future -> offset -2
    rows += [("ahead", "s", B + 60 * i * S, B + (60 * i - 7197) * S) for i in range(12)]
    # future: one series per sample; skew 5 s except three at -120 s (future) and one at -30 s (within 60 s)
    skews = [5] * 8 + [-120, -120, -120, -30]
    rows += [("future", f"s{i}", B, B + skew * S) for i, skew in enumerate(skews)]
    # late: series o1 taken every 10 s, each received 5 s later, except the one at 30 s, received at 60 s, after
    # those at 40 s and 50 s: receive order ts 0, 10, 20, 40, 50, 30, 60, ... -> 1 out of order.
    rows += [("late", "o1", B + 10 * i * S, B + (60 if i == 3 else 10 * i + 5) * S) for i in range(10)]
    # o2: ts 90 s and 100 s both received at 200 s (a tie is ordered by ts: not late), then ts 0 received at
    # 300 s, after o2's 100 s -> late. late: 13 samples, 2 out of order (o1's samples never judge o2's)
    rows += [("late", "o2", B + 90 * S, B + 200 * S), ("late", "o2", B + 100 * S, B + 200 * S),
             ("late", "o2", B, B + 300 * S)]
    # half: 1.5 h is no whole-hour offset; every sample is beyond the 3600 s maximum -> skewed
    rows += [("half", "s", B + 60 * i * S, B + (60 * i + 5400) * S) for i in range(12)]
    # few: 2 h behind but only 3 samples (+ one without received_at, which is no sample)
    rows += [("few", "s", B + i * S, B + (i + 7200) * S) for i in range(3)] + [("few", "s", B, None)]
    # subsecond: 12:00:00.900 received 12:00:01.100 floors to 1 s; ten of them
    rows += [("subsecond", f"s{i}", B + 0.9 * S, B + 1.1 * S) for i in range(10)]
    return rows


def samples() -> pa.Table:
    rows = sample_rows()
    stamp = pa.timestamp("us", tz="UTC")
    return pa.table({"source": [r[0] for r in rows], "series": [r[1] for r in rows],
                     "ts": pa.array([r[2] for r in rows], stamp), "received_at": pa.array([r[3] for r in rows], stamp)})


EXPECTED = {
    "q": SourceClock("q", 10, 5.5, 91.81, 0, 0, None, "ok"),
    # behind p99: h = 11 * .99 = 10.89: 7210 + .89 * 1 = 7210.89
    "behind": SourceClock("behind", 12, 7205.5, 7210.89, 0, 0, 2, "timezone_offset"),
    "ahead": SourceClock("ahead", 12, -7197.0, -7197.0, 12, 0, -2, "timezone_offset"),
    # future: sorted skews -120 x3, -30, 5 x8: median h = 5.5 between x_5 = 5 and x_6 = 5; p99 = 5
    "future": SourceClock("future", 12, 5.0, 5.0, 3, 0, None, "future"),
    # late skews: o1 5 x9 and 30 (the sample at 30 s received at 60 s); o2 110, 100, 300. Sorted:
    # 5 x9, 30, 100, 110, 300; median x_6 = 5; p99 h = 12 * .99 = 11.88: 110 + .88 * 190 = 277.2
    "late": SourceClock("late", 13, 5.0, 277.2, 0, 2, None, "out_of_order"),
    "half": SourceClock("half", 12, 5400.0, 5400.0, 0, 0, None, "skewed"),
    "few": SourceClock("few", 3, 7200.0, 7200.0, 0, 0, None, "insufficient_data"),
    "subsecond": SourceClock("subsecond", 10, 1.0, 1.0, 0, 0, None, "ok"),
}


@pytest.fixture(scope="module")
def report() -> dict[str, SourceClock]:
    return {r.source: r for r in clock_report(ibis.memtable(samples()))}


@pytest.mark.parametrize("source", list(EXPECTED))
def test_clock_report_by_hand(report, source):
    got, want = report[source], EXPECTED[source]
    assert got.skew_median_seconds == pytest.approx(want.skew_median_seconds)
    assert got.skew_p99_seconds == pytest.approx(want.skew_p99_seconds)
    assert got == SourceClock(**{**want.to_json(), "skew_median_seconds": got.skew_median_seconds,
                                 "skew_p99_seconds": got.skew_p99_seconds})


def test_report_is_sorted_and_json_fields_are_the_contract(report):
    assert list(report) == sorted(EXPECTED)
    assert list(report["behind"].to_json()) == ["source", "samples", "skew_median_seconds", "skew_p99_seconds",
                                                "future", "out_of_order", "timezone_offset_hours", "verdict"]


def test_policy_changes_the_verdicts():
    loose = ClockPolicy(max_skew_seconds=6000, future_tolerance_seconds=200, timezone_tolerance_seconds=0,
                        min_samples=1)
    got = {r.source: r for r in clock_report(ibis.memtable(samples()), loose)}
    assert (got["half"].verdict, got["future"].future, got["future"].verdict) == ("ok", 0, "ok")
    # 7205.5 is 5.5 s from 2 h: no offset with zero tolerance, and beyond 6000 s -> skewed
    assert (got["behind"].timezone_offset_hours, got["behind"].verdict) == (None, "skewed")
    assert (got["few"].timezone_offset_hours, got["few"].verdict) == (2, "timezone_offset")


def test_without_series_a_source_is_one_series():
    got = {r["source"]: r for r in clock_aggregate(ibis.memtable(samples()), series=None).to_pyarrow().to_pylist()}
    # future: all received at B + 5 or earlier with ts B: by receive order (ties by ts) none is late
    assert got["future"]["out_of_order"] == 0
    # late as one series: o1 receive order as before plus o2's 90 s and 100 s (at 200 s) and 0 s (at 300 s):
    # 30 s (at 60) after 50 -> late; 90 and 100 (at 200) follow 90 s of o1 (at 95): not late; 0 (at 300) -> late
    assert got["late"]["out_of_order"] == 2


def test_missing_columns_are_named():
    with pytest.raises(InputError, match=r"need column\(s\) \['received_at'\]"):
        clock_aggregate(ibis.memtable(samples().drop_columns(["received_at"])))


def test_split_skewed_by_hand():
    naive = pa.timestamp("ms")
    table = pa.table({
        "series": ["a", "b", "c", "d"],
        "ts": pa.array([dt.datetime(2026, 1, 1, 10), dt.datetime(2026, 1, 1, 12),
                        dt.datetime(2026, 1, 1, 14, 0, 0, 500_000), dt.datetime(2026, 1, 1, 11)], naive),
        "received_at": pa.array([dt.datetime(2026, 1, 1, 12)] * 4, naive)})
    kept, bad = split_skewed(table, ClockPolicy(max_skew_seconds=3600))
    # skews: 7200, 0, 12:00:00 - 14:00:00 (.5 floored) = -7200, 3600 (not beyond 3600)
    assert kept.column("series").to_pylist() == ["b", "d"]
    assert bad.column("series").to_pylist() == ["a", "c"]
    assert bad.column("reason").to_pylist() == [
        "clock skew 7200 s (received_at - ts) beyond the maximum of 3600 s",
        "clock skew -7200 s (received_at - ts) beyond the maximum of 3600 s"]
    assert kept.schema == table.schema


def test_split_skewed_refuses_bad_input():
    good = pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us", tz="UTC"))
    with pytest.raises(InputError, match="needs column 'received_at'"):
        split_skewed(pa.table({"ts": good}))
    with pytest.raises(InputError, match="'ts' has type string; expected a timestamp"):
        split_skewed(pa.table({"ts": ["2026-01-01"], "received_at": good}))
    with pytest.raises(InputError, match="'ts' has 1 null"):
        split_skewed(pa.table({"ts": pa.array([None], good.type), "received_at": good}))


def test_split_skewed_keeps_samples_without_a_receive_time():
    """Imported history has no received_at: nothing to judge, kept (as the file ingestion's skew rule does);
    the sample taken 2 h before its receive time is still refused."""
    stamp = pa.timestamp("us", tz="UTC")
    ts = pa.array([dt.datetime(2026, 1, 1, 10), dt.datetime(2026, 1, 1, 10)], stamp)
    received = pa.array([None, dt.datetime(2026, 1, 1, 12)], stamp)
    kept, bad = split_skewed(pa.table({"n": [1, 2], "ts": ts, "received_at": received}))
    assert kept.column("n").to_pylist() == [1] and bad.column("n").to_pylist() == [2]
