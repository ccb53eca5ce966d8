"""Who may read an incident's text: the confidentiality policy, as plain Python and as an Ibis expression.

`incidents.confidentiality` is one of `public`, `internal`, `confidential`, `restricted`; null (or any
other value) counts as `internal`. A reader is a `Principal` (an API token or web session: role and,
for a team-member, its teams) or None: the workspace owner at the CLI, who reads everything.

| level | who reads the text |
| --- | --- |
| public | every role |
| internal | every role (viewer, team-member, manager, auditor, metrics-admin) |
| confidential | manager, auditor, metrics-admin, and a team-member of the incident's `team` |
| restricted | auditor and metrics-admin only |

A reader who may not read an incident still sees that it exists: its id, service, team, severity,
detection source, lifecycle timestamps, confidentiality and action items (dates, types, statuses).
Every other field is redacted (`REDACTED_FIELDS`): text becomes "[redacted]", factors `["[redacted]"]`,
and the impact numbers and causing deployment become null. Postmortem text is readable when both the
incident and the postmortem (its own `confidentiality`, if it has one) are readable.

>>> from engmetrics.auth.roles import Principal, Role
>>> can_read(Principal("t", Role.viewer), "confidential", "payments")
False
>>> can_read(Principal("t", Role.team_member, ("payments",)), "confidential", "payments")
True
>>> can_read(None, "restricted", None), can_read(Principal("t", Role.manager), None, None)
(True, True)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import ibis
import ibis.expr.types as ir

from ..auth.roles import Principal, Role
from ..store import Store

__all__ = ["DEFAULT_LEVEL", "READABLE", "REDACTED", "REDACTED_FIELDS", "Level", "can_read", "level_of",
           "readable_expr", "readable_ids", "redact_record", "redact_table"]


class Level(StrEnum):
    public = "public"
    internal = "internal"
    confidential = "confidential"
    restricted = "restricted"


DEFAULT_LEVEL = Level.internal
REDACTED = "[redacted]"

#: The levels each role reads whatever the incident's team (a team-member also reads its teams' confidential ones).
READABLE: dict[Role, frozenset[Level]] = {
    Role.viewer: frozenset({Level.public, Level.internal}),
    Role.team_member: frozenset({Level.public, Level.internal}),
    Role.manager: frozenset({Level.public, Level.internal, Level.confidential}),
    Role.auditor: frozenset(Level),
    Role.metrics_admin: frozenset(Level),
    Role.telemetry_pusher: frozenset(),  # pushes samples, reads nothing
}
#: Incident columns hidden from a reader who may not read the incident: text -> REDACTED, the rest -> null.
REDACTED_FIELDS: dict[str, Any] = {"title": REDACTED, "summary": REDACTED, "root_cause_category": REDACTED,
                                   "contributing_factors": [REDACTED], "customer_impact": None,
                                   "users_affected": None, "caused_by_deployment_id": None}


def level_of(value: str | None) -> Level:
    """The level a stored value means: an unknown or null value is `internal`.

    >>> level_of(None), level_of("restricted")
    (<Level.internal: 'internal'>, <Level.restricted: 'restricted'>)
    """
    return Level(value) if value in Level.__members__ else DEFAULT_LEVEL


def can_read(reader: Principal | None, level: str | None, team: str | None) -> bool:
    """Whether `reader` (None: the workspace owner) may read an incident of `level` owned by `team`."""
    if reader is None:
        return True
    found = level_of(level)
    if found in READABLE[reader.role]:
        return True
    return reader.role == Role.team_member and found == Level.confidential and team in reader.teams


def _level_expr(column: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(column.isin([m.value for m in Level]), column, ibis.literal(DEFAULT_LEVEL.value))


def readable_expr(reader: Principal | None, level: ir.StringValue, team: ir.StringValue) -> ir.BooleanValue:
    """`can_read` as an engine expression over a confidentiality column and a team column."""
    if reader is None:
        return ibis.literal(True)
    found = _level_expr(level)
    allowed = found.isin(sorted(m.value for m in READABLE[reader.role]))
    if reader.role == Role.team_member and reader.teams:
        allowed = allowed | ((found == Level.confidential.value) & team.isin(list(reader.teams)))
    return allowed.fill_null(False)


def redact_table(incidents: ir.Table, reader: Principal | None, *, marker: bool = True) -> ir.Table:
    """`incidents` with a boolean `redacted` column and `REDACTED_FIELDS` hidden where it is true:
    replaced by their marker, or by null when `marker` is False (what search indexes: nothing)."""
    hidden = ~readable_expr(reader, incidents.confidentiality, incidents.team)
    changes: dict[str, Any] = {"redacted": hidden}
    for name, value in REDACTED_FIELDS.items():
        column = incidents[name]
        shown = value if marker else None
        changes[name] = ibis.ifelse(hidden, ibis.literal(shown, type=column.type()), column)
    return incidents.mutate(**changes)


def redact_record(record: dict[str, Any], reader: Principal | None) -> dict[str, Any]:
    """One incident record (a dict of its columns) as `reader` may see it, with `redacted`.

    >>> from engmetrics.auth.roles import Principal, Role
    >>> redact_record({"title": "db down", "confidentiality": "restricted", "team": "a"},
    ...               Principal("t", Role.manager))["title"]
    '[redacted]'
    """
    if can_read(reader, record.get("confidentiality"), record.get("team")):
        return {**record, "redacted": False}
    hidden = {name: value for name, value in REDACTED_FIELDS.items() if name in record}
    return {**record, **hidden, "redacted": True}


def readable_ids(store: Store, reader: Principal | None, ids: list[str]) -> set[str]:
    """Those of the incidents `ids` whose text `reader` may read (an unknown id is not readable)."""
    t = store.table("incidents")
    t = t.filter(t.incident_id.isin(ids) & readable_expr(reader, t.confidentiality, t.team))
    return set(t.incident_id.to_pyarrow().to_pylist())
