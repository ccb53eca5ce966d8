"""SLO time windows resolved at an instant: which [start, end) an objective is judged over.

- **Rolling** (`isRolling: true`): the `duration` before `at`, `[at - duration, at)`. Months, quarters and
  years step by the calendar in the window's time zone (`1M` before 31 March is 28 or 29 February).
- **Calendar** (`isRolling: false`): periods of `duration` laid end to end from `calendar.startTime` in
  `calendar.timeZone` (without `calendar`: from 2000-01-03, a Monday, midnight in the default time zone).
  The budget resets at each boundary; the status covers the current period so far, `[period start, at)`,
  and `period_end` is where it ends. `1w` periods that start on a Monday are ISO weeks; `1M` periods that
  start on the 1st are calendar months, `1Q` quarters (from a quarter's first day).

>>> from datetime import datetime, UTC
>>> w = resolve_window(TimeWindow(duration="28d", isRolling=True), datetime(2026, 3, 1, tzinfo=UTC))
>>> w.start.isoformat(), w.end.isoformat(), w.label
('2026-02-01T00:00:00+00:00', '2026-03-01T00:00:00+00:00', '28d')
>>> cal = TimeWindow(duration="1M", isRolling=False,
...                  calendar={"startTime": "2026-01-01 00:00:00", "timeZone": "Europe/Berlin"})
>>> w = resolve_window(cal, datetime(2026, 3, 15, 12, tzinfo=UTC))
>>> w.start.isoformat(), w.period_end.isoformat(), w.label
('2026-02-28T23:00:00+00:00', '2026-03-31T22:00:00+00:00', '1M calendar')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from ..durations import SINGLE_UNIT, duration_seconds
from .openslo import TimeWindow

__all__ = ["Window", "resolve_window", "step"]

_CALENDAR_UNITS = {"M": 1, "Q": 3, "Y": 12}  # months per unit
_DEFAULT_ANCHOR = datetime(2000, 1, 3)  # a Monday


@dataclass(frozen=True)
class Window:
    """One resolved window: events in [start, end) count; a calendar period runs on to `period_end`."""

    label: str
    start: datetime
    end: datetime
    period_end: datetime
    rolling: bool

    @property
    def period_seconds(self) -> float:
        """The length of the whole window (for a calendar window, of the whole period)."""
        return (self.period_end - self.start).total_seconds()


def step(value: datetime, duration: str, count: int = 1) -> datetime:
    """`value` moved by `count` durations; calendar units keep the wall-clock time in `value`'s zone.

    >>> step(datetime(2026, 1, 31), "1M"), step(datetime(2026, 1, 1), "1Q", -1)
    (datetime.datetime(2026, 2, 28, 0, 0), datetime.datetime(2025, 10, 1, 0, 0))
    """
    match = SINGLE_UNIT.match(duration)
    if match and match[2] in _CALENDAR_UNITS:
        return value + relativedelta(months=int(match[1]) * _CALENDAR_UNITS[match[2]] * count)
    if match and match[2] in "dw":  # days keep the local time across a DST change
        days = int(match[1]) * (7 if match[2] == "w" else 1) * count
        return value + timedelta(days=days)
    return value + timedelta(seconds=duration_seconds(duration) * count)


def _anchor(window: TimeWindow, default_zone: str) -> datetime:
    """The calendar's start as an aware local datetime."""
    if window.calendar is None:
        return _DEFAULT_ANCHOR.replace(tzinfo=ZoneInfo(default_zone))
    start = window.calendar.startTime
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    elif isinstance(start, date) and not isinstance(start, datetime):
        start = datetime(start.year, start.month, start.day)
    zone = ZoneInfo(window.calendar.timeZone)
    return start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock arithmetic: a naive local time, re-attached to the zone after stepping."""
    return value.astimezone(zone).replace(tzinfo=None)


def _calendar(window: TimeWindow, at: datetime, default_zone: str) -> Window:
    anchor = _anchor(window, default_zone)
    zone = anchor.tzinfo
    assert isinstance(zone, ZoneInfo)
    origin, now = _local(anchor, zone), _local(at, zone)
    length = step(origin, window.duration) - origin
    k = int((now - origin) / length) if length.total_seconds() > 0 else 0
    start = step(origin, window.duration, k)
    while start > now:  # calendar units are uneven: settle k exactly
        k -= 1
        start = step(origin, window.duration, k)
    while step(origin, window.duration, k + 1) <= now:
        k += 1
        start = step(origin, window.duration, k)
    end = step(origin, window.duration, k + 1)
    utc = [t.replace(tzinfo=zone).astimezone(UTC) for t in (start, end)]
    return Window(f"{window.duration} calendar", utc[0], at, utc[1], rolling=False)


def resolve_window(window: TimeWindow, at: datetime, default_zone: str = "UTC") -> Window:
    """The [start, end) of `window` at the instant `at` (a naive `at` is UTC)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if not window.isRolling:
        return _calendar(window, at, default_zone)
    match = SINGLE_UNIT.match(window.duration)
    if match and match[2] in _CALENDAR_UNITS:
        zone = ZoneInfo(default_zone)
        start = step(_local(at, zone), window.duration, -1).replace(tzinfo=zone).astimezone(UTC)
    else:
        start = at - timedelta(seconds=duration_seconds(window.duration))
    return Window(window.duration, start, at, at, rolling=True)
