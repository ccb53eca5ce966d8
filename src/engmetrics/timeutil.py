"""Instants in UTC: the one rule every module follows for datetimes given without a zone.

>>> from datetime import datetime
>>> as_utc(datetime(2026, 1, 1, 12)).isoformat()
'2026-01-01T12:00:00+00:00'
>>> from zoneinfo import ZoneInfo
>>> as_utc(datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))).isoformat()
'2026-01-01T11:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

__all__ = ["DEFAULT_WINDOW_DAYS", "UTC_TIMESTAMP", "as_utc", "default_window", "hours_between"]

UTC_TIMESTAMP = dt.Timestamp(timezone="UTC")  # the engine type of every stored instant
DEFAULT_WINDOW_DAYS = 28  # a report's default period: the four weeks before its end


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def default_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """A report's period: a missing end is now (to the minute), a missing start `DEFAULT_WINDOW_DAYS` before
    the end; raises ValueError when the end is not after the start.

    >>> [d.date().isoformat() for d in default_window(None, datetime(2026, 3, 1, tzinfo=UTC))]
    ['2026-02-01', '2026-03-01']
    """
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    start = start or end - timedelta(days=DEFAULT_WINDOW_DAYS)
    if end <= start:
        raise ValueError(f"the end ({end.isoformat()}) must be after the start ({start.isoformat()})")
    return start, end


def hours_between(end: ir.TimestampValue, start: ir.TimestampValue) -> ir.FloatingValue:
    """``end - start`` in hours as a float64 Ibis expression (null when either is null; whole seconds).

    >>> import ibis
    >>> hours_between(ibis.timestamp("2026-01-01 12:30:00"), ibis.timestamp("2026-01-01 10:00:00")).execute()
    2.5
    """
    return (end.epoch_seconds() - start.epoch_seconds()).cast("float64") / 3600.0
