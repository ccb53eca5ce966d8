"""Evaluation periods: trailing windows that end on the as-of date, inclusive.

daily = 1 day, weekly = 7 days, monthly = one calendar month, quarterly = three calendar months. A
monthly window ending on D starts one calendar month before D + 1 day (the day of month clamped to the
month's length): the window ending 2026-03-31 is 2026-03-01..2026-03-31, the one ending 2026-03-15 is
2026-02-16..2026-03-15, the one ending 2026-03-30 is 2026-02-28..2026-03-30. The previous period is
the window of the same cadence ending the day before the current one starts.

>>> current_and_previous("monthly", date(2026, 3, 31))
(Period(start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 31)), \
Period(start=datetime.date(2026, 2, 1), end=datetime.date(2026, 2, 28)))
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["Period", "add_months", "current_and_previous", "default_as_of", "period_ending"]


@dataclass(frozen=True)
class Period:
    """Dates `start..end`, both inclusive (UTC days)."""

    start: date
    end: date

    @property
    def start_ts(self) -> datetime:
        """The first instant of the period (UTC)."""
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def end_ts(self) -> datetime:
        """The first instant after the period (UTC): rows have `start_ts <= t < end_ts`."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def add_months(day: date, months: int) -> date:
    """`day` moved by `months`, the day of month clamped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def period_ending(cadence: str, end: date) -> Period:
    """The trailing window of `cadence` ending on `end` (inclusive)."""
    after = end + timedelta(days=1)
    if cadence == "daily":
        start = end
    elif cadence == "weekly":
        start = end - timedelta(days=6)
    elif cadence in ("monthly", "quarterly"):
        start = add_months(after, -1 if cadence == "monthly" else -3)
    else:
        raise ValueError(f"unknown cadence {cadence!r}")
    return Period(start, end)


def current_and_previous(cadence: str, as_of: date) -> tuple[Period, Period]:
    """The period ending on `as_of` and the one just before it."""
    current = period_ending(cadence, as_of)
    return current, period_ending(cadence, current.start - timedelta(days=1))


def default_as_of(now: datetime | None = None) -> date:
    """Yesterday in UTC (the last complete day)."""
    return ((now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=1)).date()
