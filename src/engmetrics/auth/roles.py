"""Roles of API tokens, and the principal a request acts as.

- `viewer`: reads the catalog, metric values, the scorecard and dataset row counts.
- `team-member`: like viewer, but per-team results only for its own teams (`--team`).
- `manager`: reads everything a viewer does, for every team.
- `auditor`: reads everything, including quarantined raw rows and the token list; writes nothing.
- `metrics-admin`: everything, including ingest and token management.
- `telemetry-pusher`: only pushes telemetry (remote-write, OTLP) and reads the receivers' status (for agents).

Which routes a role may call is declared on each route (see `engmetrics.api.auth`).

>>> Principal("t1", Role.team_member, ("payments",)).sees_team("payments")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ROLES", "Principal", "Role"]


class Role(StrEnum):
    viewer = "viewer"
    team_member = "team-member"
    manager = "manager"
    metrics_admin = "metrics-admin"
    auditor = "auditor"
    telemetry_pusher = "telemetry-pusher"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)


@dataclass(frozen=True)
class Principal:
    """The token a request authenticated with: its id, role, (for team-member) teams and the person it
    belongs to, when the token names one (`engmetrics token create --user`)."""

    token_id: str
    role: Role
    teams: tuple[str, ...] = ()
    user: str | None = None

    @property
    def actor(self) -> str:
        """The name the audit log and board decisions record: the token's user, else `token:<id>`."""
        return self.user or f"token:{self.token_id}"

    def sees_team(self, team: str | None) -> bool:
        """Whether per-team data of `team` is visible (every team, except for a team-member)."""
        return self.role != Role.team_member or team in self.teams
