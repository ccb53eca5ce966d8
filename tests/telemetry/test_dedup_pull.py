"""`pull_write.write_samples`, the telemetry_samples write of `scrape` and `import-prometheus`: admit + quarantine +
dedup in one transaction, and its accounting `read = inserted + updated + unchanged + quarantined` (`dropped`
within `unchanged`) (hand-checked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from engmetrics.store import Store
from engmetrics.telemetry.batch import SCHEMA
from engmetrics.telemetry.horizon import raise_horizon
from engmetrics.telemetry.pull_write import write_samples

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
_TS = SCHEMA.field("ts").type


def _part(source: str, points: list[tuple[int, float]], received: bool = False) -> tuple[str, pa.Table]:
    """Samples of series `m` from `source` at T0 + seconds; imported history (no received_at) unless `received`."""
    n = len(points)
    ts = [T0 + timedelta(seconds=s) for s, _ in points]
    return source, pa.table({"series": ["m"] * n, "ts": pa.array(ts, _TS), "metric": ["m"] * n, "labels": ["{}"] * n,
                             "value": pa.array([v for _, v in points], pa.float64()), "source": [source] * n,
                             "received_at": pa.array(ts if received else [None] * n, _TS)})


@pytest.fixture
def store():
    with Store.open("duckdb://") as opened:
        raise_horizon(opened.sql, "telemetry_samples", T0 - timedelta(hours=1), T0)
        yield opened


def _accounted(result) -> bool:
    return result.read == result.inserted + result.updated + result.unchanged + result.quarantined


def test_import_then_reimport_then_an_overlapping_push(store):
    imported = [(-7200, 5.0), (0, 1.0), (60, 2.0), (120, 3.0), (180, float("nan"))]
    first = write_samples(store, [_part("prometheus:p", imported)], priority=["prometheus:"])
    # 5 read: -2 h is behind the horizon (T0 - 1 h) and 180 s is NaN: 2 quarantined; 3 inserted
    assert (first.read, first.inserted, first.quarantined, first.dropped) == (5, 3, 2, 0) and _accounted(first)
    again = write_samples(store, [_part("prometheus:p", [*imported[:3], (120, 4.0), imported[4]])],
                          priority=["prometheus:"])
    # the same range again: 0 s and 60 s unchanged, 120 s updated (3 -> 4), the same 2 quarantined
    assert (again.inserted, again.updated, again.unchanged, again.quarantined) == (0, 1, 2, 2) and _accounted(again)
    pushed = write_samples(store, [_part("remote_write:x", [(30, 9.0), (400, 9.0)], received=True)],
                           priority=["prometheus:"])
    # 30 s lies within 60 s of the imported 0 s and 60 s (better source): dropped; 400 s is 280 s from 120 s: kept
    assert (pushed.read, pushed.inserted, pushed.unchanged, pushed.dropped) == (2, 1, 1, 1) and _accounted(pushed)
    rows = store.sql.execute("SELECT epoch(ts)::BIGINT - epoch(?::TIMESTAMPTZ)::BIGINT, value, source "
                             "FROM telemetry_samples ORDER BY ts", [T0]).fetchall()
    assert rows == [(0, 1.0, "prometheus:p"), (60, 2.0, "prometheus:p"), (120, 4.0, "prometheus:p"),
                    (400, 9.0, "remote_write:x")]
    quarantined = store.sql.execute('SELECT source_file, "column", count(*) FROM _quarantine GROUP BY ALL '
                                    "ORDER BY ALL").fetchall()
    assert quarantined == [("prometheus:p", "ts", 2), ("prometheus:p", "value", 2)]


def test_later_parts_count_as_later_requests(store):
    """Two parts of one source with the same (series, ts): the later part's value is stored, the earlier one is
    superseded within the batch (counted as updated, as a second write would have updated it)."""
    result = write_samples(store, [_part("scrape:a", [(0, 1.0)], True), _part("scrape:a", [(0, 2.0)], True)])
    assert (result.read, result.inserted, result.updated, result.files) == (2, 1, 1, ["scrape:a", "scrape:a"])
    assert store.sql.execute("SELECT value FROM telemetry_samples").fetchall() == [(2.0,)]


def test_no_rows_write_nothing(store):
    result = write_samples(store, [("scrape:a", _part("scrape:a", [])[1])])
    assert result.as_dict() == {"dataset": "telemetry_samples", "files": [], "read": 0, "inserted": 0, "updated": 0,
                                "unchanged": 0, "quarantined": 0, "dropped": 0, "evicted": 0}
