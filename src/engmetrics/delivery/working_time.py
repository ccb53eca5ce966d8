"""Working time between two instants in the calendar of the person responsible for them.

**Calendar of a person at an instant `at`.** The membership (`people`) of the person valid on the UTC date of
`at` (`valid_from <= date <= valid_to`, an open `valid_to` is current; of overlapping memberships the
latest `valid_from` wins) gives the *team*. The *zone* is that membership's `people.timezone`, else the
team's `teams.timezone`, else UTC (a zone `zoneinfo` does not know is skipped like a null one). The team
gives the working days (`teams.work_days`, else `settings.delivery.work_days`), the working hours
(`teams.work_start` / `work_end`, else `settings.delivery.work_hours`) and the holidays (`holidays` rows of
`teams.holiday_calendar`). A person without a membership has the default calendar in UTC. A calendar is
keyed by (`cal_zone`, `cal_team`), `cal_team` being "" for no team.

**Working seconds of [start, end)** = the total overlap of [start, end) with the calendar's working
intervals: for every local date that is a working day and not a holiday, [date + work_start,
date + work_end) in local wall-clock time, converted to UTC with `zoneinfo` (so a working day across a DST
change is still work_end - work_start long, at the right UTC instants). A span with a null end, or an end
before its start, has no duration (null wall and working time).

Portability: the interval table (one row per calendar and working day) is built here in Python for the
date range of the spans (days x distinct calendars is small); the overlap is summed in the engine by a
range join (`work_from < end and start < work_to`) and `greatest` / `least` -- no per-row Python.

>>> from datetime import date, time
>>> rows = interval_rows("Europe/Berlin", "", date(2026, 3, 27), date(2026, 3, 30), work_days=frozenset(range(5)),
...                      hours=(time(9), time(17)), holidays=set())
>>> [(r[2].isoformat(), r[3].isoformat()) for r in rows]  # Fri in CET (+1), Mon in CEST (+2)
[('2026-03-27T08:00:00+00:00', '2026-03-27T16:00:00+00:00'), ('2026-03-30T07:00:00+00:00', \
'2026-03-30T15:00:00+00:00')]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ..incidents.local_time import parse_work_days, unknown_zones
from ..incidents.paging import first_match
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import as_utc

__all__ = ["interval_rows", "interval_table", "span_hours", "with_calendar"]

_Hours = tuple[time, time]


def with_calendar(store: Store, table: ir.Table, *, person: str, at: str, key: str) -> ir.Table:
    """`table` plus `cal_zone` and `cal_team`: the calendar of `table[person]` at `table[at]` (module doc).
    `key` names a column unique in `table`."""
    unknown = unknown_zones(store)

    def usable(zone: ir.StringValue) -> ir.StringValue:
        return ibis.ifelse(zone.isin(unknown), ibis.null("string"), zone) if unknown else zone

    table = table.view()
    people = store.table("people").select(_p_person="person", _p_from="valid_from", _p_to="valid_to",
                                           _p_team="team", _p_zone="timezone")
    day = table[at].date()
    picked = first_match(table, people, [table[person] == people._p_person, people._p_from <= day,
                                         people._p_to.isnull() | (people._p_to >= day)],
                         key=key, order=[ibis.desc("_p_from")])
    picked = picked.select(*table.columns, "_p_team", _p_zone=usable(picked._p_zone)).view()
    teams = store.table("teams").select(_t_team="team", _t_zone="timezone")
    out = picked.left_join(teams, picked._p_team == teams._t_team)
    zone = ibis.coalesce(out._p_zone, usable(out._t_zone), ibis.literal("UTC"))
    return out.select(*table.columns, cal_zone=zone, cal_team=out._p_team.coalesce(ibis.literal("")))


def _as_time(value: time | int) -> time:
    return value if isinstance(value, time) else time(int(value))


def interval_rows(zone: str, team: str, first: date, last: date, *, work_days: frozenset[int], hours: _Hours,
                  holidays: set[date]) -> list[tuple[str, str, datetime, datetime]]:
    """(zone, team, work_from, work_to) in UTC for every working local date in [first, last]."""
    tz, rows = ZoneInfo(zone), []
    day = first
    while day <= last:
        if day.weekday() in work_days and day not in holidays:
            begin = datetime.combine(day, hours[0], tzinfo=tz).astimezone(UTC)
            rows.append((zone, team, begin, datetime.combine(day, hours[1], tzinfo=tz).astimezone(UTC)))
        day += timedelta(days=1)
    return rows


def _team_rules(store: Store, settings: DeliverySettings) -> dict[str, tuple[frozenset[int], _Hours, set[date]]]:
    """Working days, hours and holidays per team, "" the defaults (`teams` and `holidays` are small
    configuration tables, read into Python)."""
    default_hours = (_as_time(settings.work_hours[0]), _as_time(settings.work_hours[1]))
    default = (parse_work_days(settings.work_days), default_hours, set())
    holidays: dict[str, set[date]] = {}
    for row in store.table("holidays").select("calendar", "date").to_pyarrow().to_pylist():
        holidays.setdefault(row["calendar"], set()).add(row["date"])
    rules = {"": default}
    for t in store.table("teams").select("team", "work_days", "work_start", "work_end", "holiday_calendar") \
            .to_pyarrow().to_pylist():
        days = parse_work_days(t["work_days"]) if t["work_days"] else default[0]
        hours = (t["work_start"] or default_hours[0], t["work_end"] or default_hours[1])
        rules[t["team"]] = (days, hours, holidays.get(t["holiday_calendar"], set()))
    return rules


def interval_table(store: Store, settings: DeliverySettings, calendars: Iterable[tuple[str, str]],
                   start: datetime, end: datetime) -> pa.Table:
    """Rows (cal_zone, cal_team, work_from, work_to): the working intervals of each calendar on the local
    dates from the UTC date of `start` - 1 day to that of `end` + 1 day (covering every zone's local dates)."""
    rules = _team_rules(store, settings)
    first, last = (as_utc(start) - timedelta(days=1)).date(), (as_utc(end) + timedelta(days=1)).date()
    rows = []
    for zone, team in sorted(set(calendars)):
        days, hours, holidays = rules.get(team, rules[""])
        rows += interval_rows(zone, team, first, last, work_days=days, hours=hours, holidays=holidays)
    stamp = pa.timestamp("us", tz="UTC")
    return pa.table({"cal_zone": pa.array([r[0] for r in rows], pa.string()),
                     "cal_team": pa.array([r[1] for r in rows], pa.string()),
                     "work_from": pa.array([r[2] for r in rows], stamp),
                     "work_to": pa.array([r[3] for r in rows], stamp)})


def _seconds(value: ir.TimestampValue) -> ir.IntegerValue:
    return value.epoch_seconds()


def span_hours(store: Store, settings: DeliverySettings, spans: ir.Table, *, key: str = "span_id",
               start: str = "start", end: str = "end", person: str = "person") -> ir.Table:
    """Rows (key, cal_zone, cal_team, wall_hours, working_hours) for `spans` (`key` a unique column): the
    wall-clock and working hours of [start, end) in the calendar (cal_zone, cal_team) of `person` at `start`
    (module doc). Null when `end` is null or before
    `start`. Runs two small queries first (distinct calendars, time span) to build the interval table."""
    valid = spans[end].notnull() & spans[start].notnull() & (spans[end] >= spans[start])
    spans = spans.select(key, _s=spans[start], _e=spans[end], _who=spans[person], _ok=valid)
    cal = with_calendar(store, spans, person="_who", at="_s", key=key).view()
    calendars = cal.filter(cal._ok).select("cal_zone", "cal_team").distinct().to_pyarrow().to_pylist()
    bounds = cal.filter(cal._ok).aggregate(low=cal._s.min(), high=cal._e.max()).to_pyarrow().to_pylist()[0]
    if bounds["low"] is None:
        none = ibis.null("float64")
        return cal.select(key, "cal_zone", "cal_team", wall_hours=none, working_hours=none)
    work = ibis.memtable(interval_table(store, settings, [(c["cal_zone"], c["cal_team"]) for c in calendars],
                                        bounds["low"], bounds["high"]))
    work = work.rename(_w_zone="cal_zone", _w_team="cal_team")
    joined = cal.left_join(work, [cal._ok, cal.cal_zone == work._w_zone, cal.cal_team == work._w_team,
                                  work.work_from < cal._e, cal._s < work.work_to])
    overlap = _seconds(ibis.least(joined._e, joined.work_to)) - _seconds(ibis.greatest(joined._s, joined.work_from))
    overlap = ibis.ifelse(joined.work_from.isnull(), 0, overlap)  # least / greatest skip nulls on most engines
    summed = joined.group_by([key, "cal_zone", "cal_team", "_ok", "_s", "_e"]).aggregate(_work=overlap.sum())
    wall = (_seconds(summed._e) - _seconds(summed._s)) / 3600.0
    return summed.select(key, "cal_zone", "cal_team", wall_hours=ibis.ifelse(summed._ok, wall, ibis.null("float64")),
                         working_hours=ibis.ifelse(summed._ok, summed._work.coalesce(0) / 3600.0, ibis.null("float64")))
