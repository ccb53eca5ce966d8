"""Instants in UTC: the one rule every module follows for datetimes given without a zone.

>>> from datetime import datetime
>>> as_utc(datetime(2026, 1, 1, 12)).isoformat()
'2026-01-01T12:00:00+00:00'
>>> from zoneinfo import ZoneInfo
>>> as_utc(datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))).isoformat()
'2026-01-01T11:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis.expr.datatypes as dt

__all__ = ["UTC_TIMESTAMP", "as_utc"]

UTC_TIMESTAMP = dt.Timestamp(timezone="UTC")  # the engine type of every stored instant


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
