"""RFC 5545 recurrence rules as maintenance windows and SLO corrections write them.

A rule is either a bare `RRULE` value (`FREQ=WEEKLY;BYDAY=SU`, optionally prefixed `RRULE:`), repeating
from a given first start, or a full text with its own `DTSTART` (and `TZID`) line.

>>> from datetime import datetime
>>> rule = parse_rule("FREQ=DAILY;COUNT=2", datetime(2026, 1, 1, 2))
>>> [d.isoformat() for d in rule]
['2026-01-01T02:00:00', '2026-01-02T02:00:00']
"""

from __future__ import annotations

from datetime import datetime

from dateutil.rrule import rruleset, rrulestr

__all__ = ["parse_rule"]


def parse_rule(rule: str, first: datetime) -> rruleset:
    """The rule's occurrences (a dateutil rule set); raises ValueError naming the rule when it is invalid.

    `first` is the first start unless the rule has its own `DTSTART`, which must say its time zone:

    >>> parse_rule("DTSTART:20260104T020000\\nRRULE:FREQ=WEEKLY", datetime(2026, 1, 1))
    Traceback (most recent call last):
    ValueError: invalid rrule 'DTSTART:20260104T020000\\nRRULE:FREQ=WEEKLY': its DTSTART has no time zone; \
write DTSTART;TZID=Area/City:... or a UTC time ending in Z
    """
    own_start = "DTSTART" in rule.upper()
    text = rule if own_start else f"RRULE:{rule.removeprefix('RRULE:')}"
    try:
        parsed = rrulestr(text, dtstart=None if own_start else first, forceset=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid rrule {rule!r}: {exc}") from None
    occurrence = next(iter(parsed), None)
    if own_start and occurrence is not None and occurrence.tzinfo is None:
        raise ValueError(f"invalid rrule {rule!r}: its DTSTART has no time zone; write DTSTART;TZID=Area/City:... "
                         "or a UTC time ending in Z")
    return parsed
