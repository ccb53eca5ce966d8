"""The responder's local time of an alert, and the hour band it falls in (business, off, sleep).

Zone: the `people.timezone` of the person's membership valid on the UTC date of `fired_at` (the person is
the responder, or the column named by `person`; `valid_from <= date <= valid_to`, an open `valid_to` is
current; of overlapping memberships the latest `valid_from` wins), else the `teams.timezone` of that
membership's team, else of the alert's own `team`, else UTC. A zone that `zoneinfo` does not know
(`unknown_zones`, e.g. "Europe/Berln") is skipped like a null one. The same "home team" (membership team,
else alert team) gives the working days (`teams.work_days`, default Mon-Fri) and the holidays (`holidays`
rows of `teams.holiday_calendar`).

Local time is computed portably, without engine time zone functions: `offset_table` builds, in Python
with `zoneinfo`, one row per (zone, interval of constant UTC offset) over the alerts' date range, with
the exact UTC instant of every transition; each alert joins the interval holding its `fired_at`, and
`local_at = fired_at + offset` (a naive wall-clock timestamp). This is right across DST changes.

Bands, from the local hour `h` and the local date, in this order:

* ``sleep``: `h` in `sleep_hours` [start, end) (wrapping midnight, default 22-08), on every day;
* ``off``: the local date is a holiday of the home team or a weekday outside its working days;
* ``business``: `h` in `business_hours` [start, end) (default 08-18);
* ``off``: every other hour (default 18-22 on working days).

>>> sorted(parse_work_days("Mon-Fri"))
[0, 1, 2, 3, 4]
>>> sorted(parse_work_days("Sun-Thu"))
[0, 1, 2, 3, 6]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import pyarrow as pa

from ..timeutil import as_utc
from .paging import first_match

__all__ = ["BANDS", "hour_in", "offset_table", "parse_work_days", "responder_zones", "unknown_zones",
           "with_local_band", "work_day_table"]

BANDS = ("business", "off", "sleep")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_STEP = timedelta(hours=6)  # no zone changes its offset twice within six hours


def parse_work_days(spec: str | None) -> frozenset[int]:
    """Weekday indexes (Monday 0) of a `work_days` value: ranges and lists such as "Mon-Fri" or
    "Mon,Tue,Thu"; an empty value means Mon-Fri. A range may wrap the week ("Sun-Thu").

    >>> sorted(parse_work_days("mon, wed-thu"))
    [0, 2, 3]
    >>> sorted(parse_work_days(None))
    [0, 1, 2, 3, 4]
    """
    if not spec or not spec.strip():
        return frozenset(range(5))
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        try:
            a, b = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
        except ValueError:
            raise ValueError(f"work_days {spec!r}: {part!r} is not a weekday or range like Mon-Fri") from None
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)


def _offset(zone: ZoneInfo, at: datetime) -> int:
    return int(at.astimezone(zone).utcoffset().total_seconds())  # type: ignore[union-attr]


def _transition(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant (to the second) in (low, high] whose offset differs from low's."""
    before = _offset(zone, low)
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        mid = mid.replace(microsecond=0)
        if _offset(zone, mid) == before:
            low = mid
        else:
            high = mid
    return high


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} in people.timezone or teams.timezone") from None


def offset_table(zones: Iterable[str], start: datetime, end: datetime) -> pa.Table:
    """Rows (zone, valid_from, valid_to, offset_seconds): the UTC offset of each zone on [valid_from,
    valid_to), covering [start - 1 day, end + 1 day) with exact transition instants.

    >>> t = offset_table(["Europe/Berlin"], datetime(2026, 3, 29), datetime(2026, 3, 30))
    >>> [(r["valid_from"].isoformat(), r["offset_seconds"]) for r in t.to_pylist()]
    [('2026-03-28T00:00:00+00:00', 3600), ('2026-03-29T01:00:00+00:00', 7200)]
    """
    low, high = as_utc(start) - timedelta(days=1), as_utc(end) + timedelta(days=1)
    rows: dict[str, list] = {"zone": [], "valid_from": [], "valid_to": [], "offset_seconds": []}
    for name in sorted(set(zones)):
        zone, at, begin = _zone(name), low, low
        while at < high:
            step = min(at + _STEP, high)
            if _offset(zone, step) != _offset(zone, at):
                change = _transition(zone, at, step)
                rows["zone"].append(name), rows["valid_from"].append(begin), rows["valid_to"].append(change)
                rows["offset_seconds"].append(_offset(zone, begin))
                begin = change
            at = step
        rows["zone"].append(name), rows["valid_from"].append(begin), rows["valid_to"].append(high)
        rows["offset_seconds"].append(_offset(zone, begin))
    stamp = pa.timestamp("us", tz="UTC")
    return pa.table({"zone": pa.array(rows["zone"], pa.string()), "valid_from": pa.array(rows["valid_from"], stamp),
                     "valid_to": pa.array(rows["valid_to"], stamp),
                     "offset_seconds": pa.array(rows["offset_seconds"], pa.int64())})


def unknown_zones(store) -> list[str]:
    """The distinct `people.timezone` and `teams.timezone` values `zoneinfo` does not know, sorted (two small
    distinct queries; the names are checked in Python)."""
    names: set[str] = set()
    for table in ("people", "teams"):
        names.update(store.table(table).select("timezone").distinct().to_pyarrow().column("timezone").to_pylist())
    return sorted(n for n in names - {None} if not _known(n))


def _known(name: str) -> bool:
    try:
        _zone(name)
    except ValueError:
        return False
    return True


def responder_zones(store, alerts: ibis.Table, person: str = "responder") -> ibis.Table:
    """`alerts` (needs alert_id, fired_at, team and the `person` column) plus `home_team` and `zone` (see the
    module doc)."""
    unknown = unknown_zones(store)

    def usable(zone: ibis.Value) -> ibis.Value:
        return ibis.ifelse(zone.isin(unknown), ibis.null("string"), zone) if unknown else zone

    people = store.table("people").select(_person="person", _from="valid_from", _to="valid_to",
                                           _team="team", _zone="timezone")
    alerts = alerts.view()  # a fresh relation, whatever joins made it
    day = alerts.fired_at.date()
    picked = first_match(alerts, people, [alerts[person] == people._person, people._from <= day,
                                          people._to.isnull() | (people._to >= day)],
                         key="alert_id", order=[ibis.desc("_from")])
    picked = picked.select(*alerts.columns, "_team", _zone=usable(picked._zone)).view()
    member = store.table("teams").select(_member_team="team", _member_zone="timezone")
    own = store.table("teams").select(_own_team="team", _own_zone="timezone")
    out = picked.left_join(member, picked._team == member._member_team).left_join(own, picked.team == own._own_team)
    zone = ibis.coalesce(out._zone, usable(out._member_zone), usable(out._own_zone), ibis.literal("UTC"))
    return out.select(*alerts.columns, home_team=out._team.coalesce(out.team), zone=zone)


def hour_in(hour: ibis.Value, hours: tuple[int, int]) -> ibis.Value:
    """Whether an hour of day lies in [start, end), wrapping midnight when start > end.

    >>> ibis.literal(23).pipe(hour_in, (22, 8)).execute(), ibis.literal(8).pipe(hour_in, (22, 8)).execute()
    (True, False)
    """
    start, end = hours
    if start <= end:
        return (hour >= start) & (hour < end)
    return (hour >= start) | (hour < end)


def work_day_table(store) -> pa.Table:
    """Rows (team, weekday) of each team's working weekdays, Monday 0. `teams` is a small configuration
    table, so its `work_days` strings are parsed here in Python."""
    teams = store.table("teams").select("team", "work_days").to_pyarrow().to_pylist()
    pairs = [(t["team"], d) for t in teams for d in sorted(parse_work_days(t["work_days"]))]
    return pa.table({"team": pa.array([p[0] for p in pairs], pa.string()),
                     "weekday": pa.array([p[1] for p in pairs], pa.int64())})


def with_local_band(store, alerts: ibis.Table, *, business_hours: tuple[int, int],
                    sleep_hours: tuple[int, int], person: str = "responder") -> ibis.Table:
    """`alerts` (needs alert_id, fired_at, team and the `person` column) plus `zone`, `home_team`, `local_at`
    and `band`, in the local time of `person` (see the module doc).

    Runs two small queries first: the distinct zones and the span of `fired_at`, for the offset table.
    """
    zoned = responder_zones(store, alerts, person).view()
    zones = zoned.select("zone").distinct().to_pyarrow().column("zone").to_pylist()
    span = alerts.aggregate(low=alerts.fired_at.min(), high=alerts.fired_at.max()).to_pyarrow().to_pylist()[0]
    if span["low"] is None:
        return zoned.mutate(local_at=ibis.null("timestamp"), band=ibis.null("string"))
    offsets = ibis.memtable(offset_table(zones, span["low"], span["high"]))
    joined = zoned.join(offsets, [zoned.zone == offsets.zone, offsets.valid_from <= zoned.fired_at,
                                  zoned.fired_at < offsets.valid_to])
    local = joined.select(*zoned.columns, local_at=(joined.fired_at + joined.offset_seconds.as_interval("s"))
                          .cast("timestamp"))
    local = local.view()
    local = local.mutate(_day=local.local_at.date(), _dow=local.local_at.day_of_week.index(),
                         _hour=local.local_at.hour())
    teams = store.table("teams").select(_cal_team="team", _calendar="holiday_calendar")
    holidays = store.table("holidays").select(_hol_calendar="calendar", _hol_date="date")
    days = ibis.memtable(work_day_table(store)).rename(_work_team="team", _weekday="weekday")
    known = days.select(_known_team="_work_team").distinct()
    out = (local.left_join(teams, local.home_team == teams._cal_team)
           .left_join(holidays, [teams._calendar == holidays._hol_calendar, local._day == holidays._hol_date])
           .left_join(known, local.home_team == known._known_team)
           .left_join(days, [local.home_team == days._work_team, local._dow == days._weekday]))
    working = ibis.ifelse(out._known_team.notnull(), out._work_team.notnull(), out._dow < 5)
    band = ibis.cases((hour_in(out._hour, sleep_hours), "sleep"), (out._hol_date.notnull() | ~working, "off"),
                      (hour_in(out._hour, business_hours), "business"), else_="off")
    return out.select(*zoned.columns, "local_at", band=band)
