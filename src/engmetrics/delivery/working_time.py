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
change is still work_end - work_start long, at the right UTC instants; a day whose hours would end before
they start in UTC -- possible only for hours inside a DST gap -- is empty). A span with a null end, or an
end before its start, has no duration (null wall and working time).

**How** (`Calendars`). `people`, `teams` and `holidays` are configuration-sized tables, read into Python once
per calculation. Memberships become non-overlapping *segments* (person, first day, last day, calendar) in
which one membership wins, so a calendar lookup is one join (person equal, UTC day number in the segment)
with at most one match, and no ranking. With W(t) = the calendar's working seconds before instant t, the
working time of [s, e) is W(e) - W(s) (for each interval [f, f + n): clamp(e - f, 0, n) - clamp(s - f, 0, n)
is its overlap with [s, e)). The *day table*, built in Python with `zoneinfo` for the calendars and days the
spans touch (calendars x days is small), has one row per calendar and UTC day: W at the day's midnight and
the parts of working intervals inside the day; each instant finds its row by an equality join on (calendar,
day number) and adds the worked part of its day. Instants are turned into epoch seconds once; there is no
range join, no per-row Python and nothing engine-specific.

>>> from datetime import date, time
>>> rows = interval_rows("Europe/Berlin", "", date(2026, 3, 27), date(2026, 3, 30), work_days=frozenset(range(5)),
...                      hours=(time(9), time(17)), holidays=set())
>>> [(r[2].isoformat(), r[3].isoformat()) for r in rows]  # Fri in CET (+1), Mon in CEST (+2)
[('2026-03-27T08:00:00+00:00', '2026-03-27T16:00:00+00:00'), ('2026-03-30T07:00:00+00:00', \
'2026-03-30T15:00:00+00:00')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from ..incidents.local_time import parse_work_days
from ..settings import DeliverySettings
from ..store import Store

__all__ = ["Calendars", "cached", "interval_rows", "span_hours", "with_calendar"]

_Hours = tuple[time, time]
_Rules = tuple[frozenset[int], _Hours, set[date]]
DAY = 86400
EPOCH = date(1970, 1, 1)
OPEN = 10**8  # the last day number of a membership without valid_to
DEFAULT = 0  # the calendar id of ("UTC", ""): no membership


def cached(store: Store, table: ir.Table, stack: ExitStack | None) -> ir.Table:
    """`table` computed once into a temporary table released when `stack` closes; `table` itself without a
    stack (then every query that reads it computes it again)."""
    if stack is None:
        return table
    for memtable in table.op().find(ops.InMemoryTable):
        # Ibis' PySpark backend caches without registering in-memory tables first; any query that reads one does
        store.backend.execute(memtable.to_expr().count())
    return stack.enter_context(table.cache())


def _as_time(value: time | int | str) -> time:
    """A time of day from a `time`, an hour, or ISO text (engines without a TIME type, such as Spark, hold text)."""
    if isinstance(value, time):
        return value
    return time.fromisoformat(value) if isinstance(value, str) else time(int(value))


@lru_cache(maxsize=4096)
def _usable(zone: str | None) -> str | None:
    """`zone` if `zoneinfo` knows it."""
    if not zone:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone


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


def _team_rules(store: Store, settings: DeliverySettings) -> dict[str, _Rules]:
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
        hours = (_as_time(t["work_start"]) if t["work_start"] is not None else default_hours[0],
                 _as_time(t["work_end"]) if t["work_end"] is not None else default_hours[1])
        rules[t["team"]] = (days, hours, holidays.get(t["holiday_calendar"], set()))
    return rules


def _segments(people: list[dict], team_zones: dict[str, str | None]) -> list[tuple[str, int, int, str, str]]:
    """(person, first day, last day, zone, team): day ranges (UTC day numbers, inclusive) in which one membership
    wins (module doc); days outside every range have no membership."""
    by_person: dict[str, list[tuple[int, int, str, str | None]]] = {}
    for m in people:
        if m["person"] is None or m["valid_from"] is None:
            continue
        last = OPEN if m["valid_to"] is None else (m["valid_to"] - EPOCH).days
        by_person.setdefault(m["person"], []).append(((m["valid_from"] - EPOCH).days, last, m["team"], m["timezone"]))
    out = []
    for person, spans in by_person.items():
        cuts = sorted({s[0] for s in spans} | {s[1] + 1 for s in spans if s[1] < OPEN})
        for i, first in enumerate(cuts):
            covering = [s for s in spans if s[0] <= first <= s[1]]
            if not covering:
                continue
            _, _, team, zone = max(covering, key=lambda s: s[0])
            zone = _usable(zone) or _usable(team_zones.get(team)) or "UTC"
            out.append((person, first, cuts[i + 1] - 1 if i + 1 < len(cuts) else OPEN, zone, team or ""))
    return out


def _day_parts(begin: np.ndarray, stop: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, list[list[tuple]]]:
    """For the intervals [begin, stop) (epoch seconds, stop >= begin) and the consecutive UTC day numbers `days`:
    the working seconds before each day's midnight m (the sum of clamp(m - begin, 0, stop - begin): whole
    intervals ended by m, plus the started part of those around m), and each day's (from, length) parts of the
    intervals."""
    mids = days.astype(np.float64) * DAY
    order = np.argsort(stop, kind="stable")
    ended = np.concatenate([[0.0], np.cumsum((stop - begin)[order])])
    before = ended[np.searchsorted(stop[order], mids, side="right")]
    parts: list[list[tuple]] = [[] for _ in days]
    first = int(days[0]) if len(days) else 0
    for f, t in zip(begin.tolist(), stop.tolist(), strict=True):
        for day in range(int(f // DAY), int(-(-t // DAY))):  # the days [f, t) touches (none when empty)
            if first <= day < first + len(days):
                lo, hi = max(f, day * DAY), min(t, (day + 1) * DAY)
                parts[day - first].append((lo, hi - lo))
                if f < day * DAY:  # the interval is under way at this day's midnight
                    before[day - first] += day * DAY - f
    return before, parts


class Calendars:
    """The organisation's working calendars, read once from `people`, `teams` and `holidays` (module doc).

    `lookup` adds the calendar of a person at an instant to a table; `hours` adds wall and working hours of
    spans whose calendars were looked up. Instants are epoch seconds (`seconds`)."""

    def __init__(self, store: Store, settings: DeliverySettings) -> None:
        self.store, self.settings = store, settings
        self._rules: dict[str, _Rules] | None = None
        team_zones = {t["team"]: t["timezone"]
                      for t in store.table("teams").select("team", "timezone").to_pyarrow().to_pylist()}
        people = store.table("people").select("person", "valid_from", "valid_to", "team", "timezone") \
            .to_pyarrow().to_pylist()
        segments = _segments(people, team_zones)
        self.names = [("UTC", ""), *sorted({(s[3], s[4]) for s in segments} - {("UTC", "")})]
        ids = {name: i for i, name in enumerate(self.names)}
        self.segments = ibis.memtable(pa.table({
            "person": pa.array([s[0] for s in segments], pa.string()),
            "first": pa.array([s[1] for s in segments], pa.int64()),
            "last": pa.array([s[2] for s in segments], pa.int64()),
            "cal": pa.array([ids[(s[3], s[4])] for s in segments], pa.int64())}))

    @property
    def rules(self) -> dict[str, _Rules]:
        """Working days, hours and holidays per team ("" the defaults), read when first needed."""
        if self._rules is None:
            self._rules = _team_rules(self.store, self.settings)
        return self._rules

    @staticmethod
    def seconds(at: ir.TimestampValue) -> ir.NumericValue:
        """Epoch seconds of an instant, as a double (DuckDB keeps the fraction of a second; an int32 would
        overflow in 2038). Compute it once per instant: on DuckDB it is the costly part (a time zone cast)."""
        return at.epoch_seconds().cast("float64")

    def lookup(self, table: ir.Table, person: str, seconds: str, *, cal: str, zone: str | None = None,
               team: str | None = None) -> ir.Table:
        """`table` plus the calendar id `cal` (and, when named, `zone` and `team`: see `named`) of `table[person]`
        at the instant `table[seconds]`; the default calendar (UTC, no team) without a membership."""
        table, s = table.view(), self.segments
        s = s.select(**{f"{cal}_p": s.person, f"{cal}_lo": s.first, f"{cal}_hi": s.last, f"{cal}_id": s.cal})
        day = table[seconds] // DAY
        j = table.left_join(s, [table[person] == s[f"{cal}_p"], s[f"{cal}_lo"] <= day, day <= s[f"{cal}_hi"]])
        out = j.select(*table.columns, **{cal: j[f"{cal}_id"].coalesce(DEFAULT)})
        return self.named(out, cal, zone=zone, team=team) if zone or team else out

    def named(self, table: ir.Table, cal: str, *, zone: str | None = None, team: str | None = None) -> ir.Table:
        """`table` plus the zone and the team ("" for none) of its calendar id column `cal`, as columns `zone`
        and `team` (each when named)."""
        table = table.view()
        names = ibis.memtable(pa.table({"id": pa.array(range(len(self.names)), pa.int64()),
                                        "zone": pa.array([n[0] for n in self.names], pa.string()),
                                        "team": pa.array([n[1] for n in self.names], pa.string())}))
        names = names.select(**{f"{cal}_nid": names.id, f"{cal}_nz": names.zone, f"{cal}_nt": names.team})
        j = table.join(names, table[cal] == names[f"{cal}_nid"])
        extra = {}
        if zone:
            extra[zone] = j[f"{cal}_nz"]
        if team:
            extra[team] = j[f"{cal}_nt"]
        return j.select(*table.columns, **extra)

    def day_table(self, calendars: Iterable[int], low: float, high: float) -> pa.Table:
        """Rows (cal, day, before, from_0, len_0, ..., from_k, len_k) for each calendar id and UTC day number
        `day` from that of `low` to that of `high` (epoch seconds): `before` is the working seconds of the
        calendar's intervals (those of `interval_rows`) before the day's midnight, (from_i, len_i) the parts of
        intervals inside the day in epoch seconds, (0, 0) when the day has fewer parts than the day with most.
        W(t) = before + sum_i clamp(t - from_i, 0, len_i) for an instant t of the day."""
        start, end = datetime.fromtimestamp(low, UTC), datetime.fromtimestamp(high, UTC)
        first, last = (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date()
        days = np.arange(int(low // DAY), int(high // DAY) + 1, dtype=np.int64)
        ids, befores, parts = [], [], []
        for cal in sorted(set(calendars)):
            zone, team = self.names[cal]
            work_days, hours, holidays = self.rules.get(team, self.rules[""])
            rows = interval_rows(zone, team, first, last, work_days=work_days, hours=hours, holidays=holidays)
            begin = np.array([r[2].timestamp() for r in rows], dtype=np.float64)
            stop = np.maximum(np.array([r[3].timestamp() for r in rows], dtype=np.float64), begin)
            before, day_parts = _day_parts(begin, stop, days)
            ids.append(np.full(len(days), cal, dtype=np.int64))
            befores.append(before)
            parts += day_parts
        width = max((len(p) for p in parts), default=0)
        columns = {"cal": pa.array(np.concatenate(ids) if ids else [], pa.int64()),
                   "day": pa.array(np.tile(days, len(ids)), pa.int64()),
                   "before": pa.array(np.concatenate(befores) if befores else [], pa.float64())}
        for i in range(width):
            columns[f"from_{i}"] = pa.array([p[i][0] if i < len(p) else 0.0 for p in parts], pa.float64())
            columns[f"len_{i}"] = pa.array([p[i][1] if i < len(p) else 0.0 for p in parts], pa.float64())
        return pa.table(columns)

    def hours(self, table: ir.Table, spans: Mapping[str, tuple[str, str, str]]) -> ir.Table:
        """`table` plus `{name}_wall_hours` and `{name}_working_hours` for each `name: (start, end, cal)` of
        `spans` (epoch seconds, epoch seconds, a calendar id from `lookup`): null unless start <= end. Runs one
        small query first (the calendars and time range of the valid spans) to build the day table; cache
        `table` when it is costly to compute."""
        table = table.view()
        valid = {name: table[s] <= table[e] for name, (s, e, _) in spans.items()}
        parts = [table.filter(valid[name]).select(cal=table[c], low=table[s], high=table[e])
                 for name, (s, e, c) in spans.items()]
        ranges = ibis.union(*parts) if len(parts) > 1 else parts[0]
        found = ranges.group_by("cal").aggregate(low=ranges.low.min(), high=ranges.high.max()).to_pyarrow()
        none = ibis.null("float64")
        if found.num_rows == 0:
            return table.mutate(**{f"{name}_{k}_hours": none for name in spans for k in ("wall", "working")})
        rows = found.to_pylist()
        days_pa = self.day_table([r["cal"] for r in rows], min(r["low"] for r in rows), max(r["high"] for r in rows))
        width = (days_pa.num_columns - 3) // 2
        days = ibis.memtable(days_pa)
        j = table
        for n, (s, e, c) in enumerate(spans.values()):
            for end, column in (("s", s), ("e", e)):
                prefix = f"_d{n}{end}_"
                d = days.select(**{prefix + k: days[k] for k in days.columns}).view()
                j = j.left_join(d, [table[c] == d[prefix + "cal"], table[column] // DAY == d[prefix + "day"]])
        out = {}
        for n, (name, (s, e, _)) in enumerate(spans.items()):
            worked = {end: self._worked(j[column], j, width, f"_d{n}{end}_") for end, column in (("s", s), ("e", e))}
            out[f"{name}_wall_hours"] = ibis.ifelse(j[s] <= j[e], (j[e] - j[s]) / 3600.0, none)
            out[f"{name}_working_hours"] = ibis.ifelse(j[s] <= j[e], (worked["e"] - worked["s"]) / 3600.0, none)
        return j.select(*table.columns, **out)

    @staticmethod
    def _worked(at: ir.NumericValue, row: ir.Table, width: int, prefix: str) -> ir.NumericValue:
        total = row[f"{prefix}before"]
        for i in range(width):
            total += ibis.greatest(ibis.least(at - row[f"{prefix}from_{i}"], row[f"{prefix}len_{i}"]), 0)
        return total


def with_calendar(store: Store, table: ir.Table, *, person: str, at: str, key: str | None = None) -> ir.Table:
    """`table` plus `cal_zone` and `cal_team`: the calendar of `table[person]` at `table[at]` (module doc), one
    output row per input row (`key` is not needed any more; accepted for callers that name one)."""
    del key
    table = table.view()
    t = table.mutate(_wc_at=Calendars.seconds(table[at]))
    out = Calendars(store, DeliverySettings()).lookup(t, person, "_wc_at", cal="_wc_cal", zone="cal_zone",
                                                      team="cal_team")
    return out.select(*table.columns, "cal_zone", "cal_team")


def span_hours(store: Store, settings: DeliverySettings, spans: ir.Table, *, key: str | Sequence[str] = "span_id",
               start: str = "start", end: str = "end", person: str = "person",
               cache: ExitStack | None = None) -> ir.Table:
    """Rows (key..., cal_zone, cal_team, wall_hours, working_hours), one per row of `spans`: the wall-clock and
    working hours of [start, end) in the calendar (cal_zone, cal_team) of `person` at `start` (module doc).
    Null when `end` is null or before `start`. `key` names the column(s) carried through. Runs one small query
    first (`Calendars.hours`); with `cache`, the spans and their calendars are computed once into a temporary
    table released when it closes."""
    keys = [key] if isinstance(key, str) else list(key)
    calendars = Calendars(store, settings)
    t = spans.select(*keys, _s=Calendars.seconds(spans[start]), _e=Calendars.seconds(spans[end]), _who=spans[person])
    t = cached(store, calendars.lookup(t, "_who", "_s", cal="_cal", zone="cal_zone", team="cal_team"), cache)
    out = calendars.hours(t, {"span": ("_s", "_e", "_cal")})
    return out.select(*keys, "cal_zone", "cal_team", wall_hours="span_wall_hours",
                      working_hours="span_working_hours")
