"""Window resolution: rolling and calendar windows, in the calendar's time zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engmetrics.slo.openslo import TimeWindow
from engmetrics.slo.windows import resolve_window


def calendar(duration: str, start: str, zone: str) -> TimeWindow:
    return TimeWindow(duration=duration, isRolling=False, calendar={"startTime": start, "timeZone": zone})


@pytest.mark.parametrize(("window", "at", "start", "period_end"), [
    # ISO weeks in Berlin: Monday 00:00 local is Sunday 23:00 UTC in winter
    (calendar("1w", "2026-01-05 00:00:00", "Europe/Berlin"), datetime(2026, 1, 14, 12, tzinfo=UTC),
     "2026-01-11T23:00:00+00:00", "2026-01-18T23:00:00+00:00"),
    # the week of the spring DST change is 167 hours long
    (calendar("1w", "2026-01-05 00:00:00", "Europe/Berlin"), datetime(2026, 3, 25, tzinfo=UTC),
     "2026-03-22T23:00:00+00:00", "2026-03-29T22:00:00+00:00"),
    # quarters from 1 January in New York: Q2 starts 1 April 04:00 UTC (EDT)
    (calendar("1Q", "2026-01-01 00:00:00", "America/New_York"), datetime(2026, 5, 10, tzinfo=UTC),
     "2026-04-01T04:00:00+00:00", "2026-07-01T04:00:00+00:00"),
    # an instant before the anchor falls in an earlier period
    (calendar("1M", "2026-01-01 00:00:00", "UTC"), datetime(2025, 12, 31, 23, 59, tzinfo=UTC),
     "2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
    # exactly on a boundary: the new period starts, empty
    (calendar("1M", "2026-01-01 00:00:00", "UTC"), datetime(2026, 2, 1, tzinfo=UTC),
     "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
])
def test_calendar_windows(window, at, start, period_end):
    w = resolve_window(window, at)
    assert (w.start.isoformat(), w.period_end.isoformat(), w.end) == (start, period_end, at)


def test_rolling_windows():
    at = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert resolve_window(TimeWindow(duration="7d", isRolling=True), at).start == datetime(2026, 3, 24, 12, tzinfo=UTC)
    month = resolve_window(TimeWindow(duration="1M", isRolling=True), at)
    assert month.start == datetime(2026, 2, 28, 12, tzinfo=UTC)  # 31 March less a month: the end of February
    assert month.period_seconds == 31 * 86400
