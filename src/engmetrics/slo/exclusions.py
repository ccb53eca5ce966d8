"""Periods excluded from error budgets: the `maintenance_windows` dataset and an SLO's `corrections`.

A maintenance window applies to every SLO of its service (`*`: every service). One-off windows cover
[start_at, end_at). A window with an `rrule` (RFC 5545) repeats that period: each occurrence starts at a
time the rule yields from `start_at` and lasts `end_at - start_at`. Write `DTSTART;TZID=Europe/Berlin:...`
in the rule to repeat in local time (03:00 stays 03:00 across DST, as below); otherwise the rule repeats in UTC.
Spec corrections are the same, with `start` local to their `timeZone`.

Events whose bucket starts inside an excluded period are removed from good and total.

>>> from datetime import datetime, UTC
>>> from engmetrics.slo.openslo import Correction
>>> c = Correction(start=datetime(2026, 3, 22, 3), duration="2h", rrule="FREQ=WEEKLY;BYDAY=SU",
...                timeZone="Europe/Berlin", reason="patching")
>>> [(e.start.isoformat(), e.end.isoformat()) for e in
...  correction_periods(c, "spec", datetime(2026, 3, 21, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))]
[('2026-03-22T02:00:00+00:00', '2026-03-22T04:00:00+00:00'), ('2026-03-29T01:00:00+00:00', '2026-03-29T03:00:00+00:00')]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import ibis

from ..durations import duration_seconds
from .openslo import Correction
from .rrules import parse_rule

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["ALL_SERVICES", "Exclusion", "correction_periods", "maintenance_periods", "recurrences"]

ALL_SERVICES = "*"


@dataclass(frozen=True)
class Exclusion:
    """One excluded period [start, end) in UTC; `source` says where it was declared."""

    source: str
    service: str
    reason: str | None
    start: datetime
    end: datetime
    approved_by: str | None = None
    indicator: str | None = None  # a spec correction covers its SLO's indicator only


def _aware(value: datetime, zone: str = "UTC") -> datetime:
    return value.replace(tzinfo=ZoneInfo(zone)) if value.tzinfo is None else value


def recurrences(rule: str | None, first: datetime, length: timedelta, start: datetime,
                end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of each occurrence overlapping [start, end); without a rule, the one period.

    `first` is aware; a `DTSTART` in the rule (with its `TZID`) takes precedence over it.
    """
    if not rule:
        if first < end and first + length > start:
            yield first.astimezone(UTC), (first + length).astimezone(UTC)
        return
    parsed = parse_rule(rule, first)
    for occurrence in parsed.between(start - length, end, inc=True):
        begin = _aware(occurrence).astimezone(UTC)
        stop = (_aware(occurrence) + length).astimezone(UTC)  # wall-clock length in the rule's zone
        if begin < end and stop > start:
            yield begin, stop


def correction_periods(correction: Correction, source: str, start: datetime, end: datetime,
                       service: str = ALL_SERVICES, indicator: str | None = None) -> list[Exclusion]:
    """The periods of one spec correction that overlap [start, end)."""
    first = _aware(correction.start, correction.timeZone)
    if correction.end is not None:
        length = _aware(correction.end, correction.timeZone) - first
    else:
        assert correction.duration is not None
        length = timedelta(seconds=duration_seconds(correction.duration))
    return [Exclusion(source, service, correction.reason, a, b, indicator=indicator)
            for a, b in recurrences(correction.rrule, first, length, start, end)]


def maintenance_periods(store: Store, services: set[str], start: datetime, end: datetime) -> list[Exclusion]:
    """Periods of the `maintenance_windows` rows of `services` (and `*`) that overlap [start, end).

    Only the matching windows are fetched (a small table); raises ValueError naming the window whose
    `rrule` does not parse.
    """
    t = store.table("maintenance_windows")  # a small table: services are matched here, not in a long IN list
    t = t.filter(t.rrule.notnull() | ((t.start_at < ibis.timestamp(end)) & (t.end_at > ibis.timestamp(start))))
    found: list[Exclusion] = []
    for row in t.order_by("window_id").to_pyarrow().to_pylist():
        if row["service"] != ALL_SERVICES and row["service"] not in services:
            continue
        first = _aware(row["start_at"])
        try:
            periods = list(recurrences(row["rrule"], first, _aware(row["end_at"]) - first, start, end))
        except ValueError as exc:
            raise ValueError(f"maintenance window {row['window_id']}: {exc}") from None
        found += [Exclusion(f"maintenance_windows:{row['window_id']}", row["service"], row["reason"], a, b,
                            row["approved_by"]) for a, b in periods]
    return found
