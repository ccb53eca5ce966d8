"""SLO versions: a changed target or indicator takes effect from a date, history keeps the old definition.

Write the new definition as another SLO document with the same name and the annotation
`engmetrics.dev/effective-from` (an ISO date or datetime, UTC unless it has an offset); leave the old
document in place. A version is in force from its date until the next version's date; a document without
the annotation has been in force since always. Before the first version's date no version is in force and
the SLO judges nothing.

>>> from datetime import datetime, UTC
>>> effective_from({"engmetrics.dev/effective-from": "2026-03-01"})
datetime.datetime(2026, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
>>> effective_from({}) is None
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import SloSet, SpecDocument
    from .openslo import SLO

__all__ = ["EFFECTIVE_FROM", "SloVersion", "effective_from", "in_force", "segments", "slo_versions"]

EFFECTIVE_FROM = "engmetrics.dev/effective-from"


def effective_from(annotations: dict[str, Any]) -> datetime | None:
    """The version's start from its annotations; raises ValueError when it is not a date or datetime."""
    value = annotations.get(EFFECTIVE_FROM)
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{EFFECTIVE_FROM}: {value!r} is not an ISO date or datetime") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class SloVersion:
    """One definition of an SLO and the instant it took effect (None: since always)."""

    document: SpecDocument
    since: datetime | None

    @property
    def slo(self) -> SLO:
        return self.document.model


def slo_versions(specs: SloSet) -> dict[str, list[SloVersion]]:
    """Every OpenSLO SLO's versions by name, oldest first."""
    found: dict[str, list[SloVersion]] = {}
    for doc in specs.slos:
        found.setdefault(doc.name, []).append(SloVersion(doc, effective_from(doc.model.metadata.annotations)))
    for versions in found.values():
        versions.sort(key=lambda v: v.since or datetime.min.replace(tzinfo=UTC))
    return found


def in_force(versions: list[SloVersion], at: datetime) -> SloVersion | None:
    """The version in force at `at`."""
    current = None
    for version in versions:
        if version.since is None or version.since <= at:
            current = version
    return current


def segments(versions: list[SloVersion], start: datetime, end: datetime) -> Iterator[tuple[SloVersion, datetime,
                                                                                          datetime]]:
    """(version, segment start, segment end) covering the parts of [start, end) where a version is in force."""
    for i, version in enumerate(versions):
        begin = max(start, version.since) if version.since else start
        stop = min(end, versions[i + 1].since) if i + 1 < len(versions) and versions[i + 1].since else end
        if begin < stop:
            yield version, begin, stop
