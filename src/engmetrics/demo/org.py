"""The demo organisation: teams in three time zones, people, services and public holidays.

>>> from datetime import date
>>> org = build_org(7, Period.ending(date(2026, 1, 5), 14))
>>> len(org.teams), len(org.services), org.people_count >= 40
(8, 30, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta

import numpy as np
import pyarrow as pa

from .common import Period, topic_rng, utc_offsets

__all__ = ["Org", "Service", "Team", "build_org", "org_tables"]


@dataclass(frozen=True)
class Team:
    """A team and its working hours (local time)."""

    id: str
    name: str
    parent: str
    timezone: str
    calendar: str
    work_start: int = 9
    work_end: int = 17


@dataclass(frozen=True)
class Service:
    """A service, its owning team, tier (0 most critical) and dependencies."""

    id: str
    team: str
    tier: int
    customer_facing: bool
    depends_on: tuple[str, ...] = ()


TEAMS = (
    Team("payments", "Payments", "product", "America/New_York", "us", 9, 17),
    Team("checkout", "Checkout", "product", "America/New_York", "us", 9, 17),
    Team("growth", "Growth", "product", "America/New_York", "us", 10, 18),
    Team("search", "Search & Discovery", "product", "Europe/Berlin", "de", 9, 17),
    Team("identity", "Identity", "platform", "Europe/Berlin", "de", 8, 16),
    Team("platform", "Platform", "platform", "Europe/Berlin", "de", 9, 17),
    Team("data", "Data", "platform", "Asia/Kolkata", "in", 10, 18),
    Team("mobile", "Mobile", "product", "Asia/Kolkata", "in", 10, 18),
)

# service, team, tier, customer facing, depends on
_SERVICES = (
    ("payments-api", "payments", 0, True, ("ledger", "identity-api")),
    ("ledger", "payments", 0, False, ("postgres-proxy",)),
    ("fraud-scoring", "payments", 1, False, ("feature-store",)),
    ("payouts", "payments", 1, False, ("ledger",)),
    ("checkout-web", "checkout", 0, True, ("cart", "payments-api")),
    ("cart", "checkout", 1, False, ("pricing", "inventory")),
    ("pricing", "checkout", 1, False, ()),
    ("inventory", "checkout", 1, False, ("postgres-proxy",)),
    ("promotions", "growth", 2, True, ("pricing",)),
    ("notifications", "growth", 2, False, ("message-bus",)),
    ("experiments", "growth", 2, False, ()),
    ("referrals", "growth", 3, True, ("identity-api",)),
    ("search-api", "search", 0, True, ("search-indexer",)),
    ("search-indexer", "search", 1, False, ("message-bus",)),
    ("recommendations", "search", 2, True, ("feature-store",)),
    ("catalog", "search", 1, True, ("postgres-proxy",)),
    ("identity-api", "identity", 0, True, ("sessions",)),
    ("sessions", "identity", 0, False, ()),
    ("permissions", "identity", 1, False, ()),
    ("api-gateway", "platform", 0, True, ("identity-api",)),
    ("message-bus", "platform", 0, False, ()),
    ("postgres-proxy", "platform", 0, False, ()),
    ("ci-runners", "platform", 3, False, ()),
    ("feature-store", "data", 1, False, ("message-bus",)),
    ("etl-scheduler", "data", 2, False, ("message-bus",)),
    ("analytics-api", "data", 2, False, ("feature-store",)),
    ("reporting", "data", 3, True, ("analytics-api",)),
    ("mobile-bff", "mobile", 0, True, ("api-gateway",)),
    ("push-gateway", "mobile", 2, False, ("notifications",)),
    ("app-config", "mobile", 3, False, ()),
)
SERVICES = tuple(Service(s, t, tier, cf, dep) for s, t, tier, cf, dep in _SERVICES)

# Fixed-date public holidays per calendar (month, day, name).
_HOLIDAYS = {
    "us": ((1, 1, "New Year's Day"), (6, 19, "Juneteenth"), (7, 4, "Independence Day"),
           (11, 11, "Veterans Day"), (12, 25, "Christmas Day")),
    "de": ((1, 1, "Neujahr"), (5, 1, "Tag der Arbeit"), (10, 3, "Tag der Deutschen Einheit"),
           (12, 25, "1. Weihnachtstag"), (12, 26, "2. Weihnachtstag")),
    "in": ((1, 26, "Republic Day"), (8, 15, "Independence Day"), (10, 2, "Gandhi Jayanti"),
           (12, 25, "Christmas")),
}

_FIRST = ("alex", "maria", "sam", "priya", "jonas", "li", "fatima", "diego", "noah", "amara", "kenji",
          "olga", "rahul", "sofia", "tariq", "lena", "marco", "aisha", "felix", "yuki", "omar", "chloe",
          "ravi", "ines", "hugo", "mei", "tom", "zara", "ben", "nadia")
_LAST = ("ng", "schmidt", "patel", "garcia", "okafor", "kim", "novak", "rossi", "chen", "fischer",
         "haddad", "iyer", "lopez", "meyer", "sato", "dubois", "khan", "berg", "silva", "wu")


@dataclass
class Org:
    """Teams, services and people (one current team each, plus a few mid-period moves)."""

    period: Period
    teams: tuple[Team, ...]
    services: tuple[Service, ...]
    people: np.ndarray  # handles
    person_team: np.ndarray  # index into teams (current team)
    moves: list[tuple[int, int, date]]  # (person index, previous team index, date of the move)
    holidays: dict[str, list[tuple[date, str]]]
    offsets: np.ndarray = field(repr=False)  # teams x days: seconds east of UTC

    @property
    def people_count(self) -> int:
        return len(self.people)

    def team_index(self, team: str) -> int:
        return [t.id for t in self.teams].index(team)

    def service_team_index(self) -> np.ndarray:
        """Index of each service's owning team."""
        return np.array([self.team_index(s.team) for s in self.services])

    def workdays(self) -> np.ndarray:
        """teams x days: True on weekdays that are not a holiday of the team's calendar."""
        weekday = self.period.weekdays() < 5
        days = self.period.dates()
        out = np.tile(weekday, (len(self.teams), 1))
        for i, team in enumerate(self.teams):
            off = {d for d, _ in self.holidays[team.calendar]}
            out[i] &= np.array([d not in off for d in days])
        return out

    def members(self, team_index: int) -> np.ndarray:
        return np.flatnonzero(self.person_team == team_index)


def build_org(seed: int, period: Period) -> Org:
    """The organisation for `seed`: 8 teams, 30 services, 5-8 people per team."""
    rng = topic_rng(seed, "org")
    sizes = rng.integers(5, 9, size=len(TEAMS))
    total = int(sizes.sum())
    names = [f"{f}.{ln}" for f in _FIRST for ln in _LAST]
    chosen = rng.choice(len(names), size=total, replace=False)
    people = np.array([names[i] for i in chosen])
    person_team = np.repeat(np.arange(len(TEAMS)), sizes)
    moves: list[tuple[int, int, date]] = []
    if period.days >= 4:
        for person in rng.choice(total, size=2, replace=False):
            old = int((person_team[person] + 1 + rng.integers(0, len(TEAMS) - 1)) % len(TEAMS))
            moves.append((int(person), old, period.dates()[int(rng.integers(1, period.days - 1))]))
    years = range(period.dates()[0].year, period.dates()[-1].year + 1)
    holidays = {cal: [(date(y, m, d), n) for y in years for m, d, n in days if
                      period.dates()[0] <= date(y, m, d) <= period.dates()[-1]]
                for cal, days in _HOLIDAYS.items()}
    offsets = np.stack([utc_offsets(t.timezone, period) for t in TEAMS])
    return Org(period, TEAMS, SERVICES, people, person_team, moves, holidays, offsets)


def org_tables(org: Org) -> dict[str, pa.Table]:
    """The `teams`, `people`, `services` and `holidays` datasets."""
    teams = pa.table({
        "team": [t.id for t in org.teams], "name": [t.name for t in org.teams],
        "parent": [t.parent for t in org.teams], "timezone": [t.timezone for t in org.teams],
        "work_start": [time(t.work_start) for t in org.teams], "work_end": [time(t.work_end) for t in org.teams],
        "work_days": ["Mon-Fri"] * len(org.teams), "holiday_calendar": [t.calendar for t in org.teams],
    })
    start = org.period.dates()[0] - timedelta(days=365)  # everyone joined a year before the period
    rows: list[tuple[str, date, date | None, str, str]] = []
    moved = {p: (old, when) for p, old, when in org.moves}
    for i, person in enumerate(org.people):
        team = org.teams[org.person_team[i]]
        if i in moved:
            old, when = moved[i]
            rows.append((person, start, when - timedelta(days=1),
                         org.teams[old].id, org.teams[old].timezone))
            rows.append((person, when, None, team.id, team.timezone))
        else:
            rows.append((person, start, None, team.id, team.timezone))
    people = pa.table({
        "person": [r[0] for r in rows], "valid_from": [r[1] for r in rows], "valid_to": [r[2] for r in rows],
        "team": [r[3] for r in rows], "timezone": [r[4] for r in rows],
    })
    services = pa.table({
        "service": [s.id for s in org.services], "team": [s.team for s in org.services],
        "tier": pa.array([s.tier for s in org.services], pa.int64()),
        "depends_on": [list(s.depends_on) for s in org.services],
        "repo": [f"acme/{s.id}" for s in org.services],  # where its code lives: changes.repo of `delivery`
    })
    hol = [(cal, d, n) for cal, days in org.holidays.items() for d, n in days]
    holidays = pa.table({
        "calendar": pa.array([h[0] for h in hol], pa.string()), "date": pa.array([h[1] for h in hol], pa.date32()),
        "name": pa.array([h[2] for h in hol], pa.string()),
    })
    return {"teams": teams, "people": people, "services": services, "holidays": holidays}

