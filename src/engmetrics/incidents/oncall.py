"""On-call load per rotation and team: pages, incidents per 12-hour period, time on call, severity-adjusted
response times, and the two limits of Google's SRE book (chapter 11, "Being On-Call").

Semantics (also in docs/incidents.md). Every aggregation is Ibis; Python only merges the few per-rotation
rows and weights the per-severity rows.

- **Period.** [start, end) in UTC; by default from the earliest shift start to the latest shift end. Shifts
  are clipped to the period; a shift that does not overlap it is ignored. A rotation is one
  (`rotation`, `team`) pair of `oncall_shifts` (a null team is "(null)"). One person is assumed on call at
  a time per rotation; overlapping shifts of one rotation add up.
- **Pages.** `alerts` fired in the period that are pages (`paging.is_page`: urgency not "low", null counts
  as a page), attributed as in `paging.with_oncall`: to the responder's shift that covers `fired_at`
  (start_at <= fired_at < end_at), or, for a page nobody answered, to the shift of the alert's team (or its
  service's owning team) covering `fired_at`. A page whose responder was not on call then, or with no
  shift to go to, is not attributed. Per rotation: total pages, mean and maximum pages per shift (shifts
  without pages count as 0).
- **Incidents.** An incident declared in the period belongs to every shift of its `team` that covers
  `declared_at`. Each shift is cut into 12-hour periods from its start (period k covers
  [start_at + 12k h, start_at + 12(k+1) h)). Per rotation: distinct incidents, incidents per 12 hours on
  call (incidents / (on-call hours / 12)), the most incidents in one 12-hour period, and how many periods
  had more than 2 (the SRE-book limit: at most 2 incidents per 12-hour shift).
- **Time on call.** Per person: clipped shift hours over all rotations / period hours. Per rotation, over
  the people with a shift in it: the largest and the median share, and the number of people above 25 %
  (the SRE-book limit: at most 25 % of time on call). No person is named or ranked: only these
  aggregates leave this module, and when the rotation has fewer than `min_group_size` people all three,
  and the time-on-call limit flag, are None (`shares_suppressed`): with one person, "1 over the limit"
  would be that person's share.
- **Response times adjusted for severity.** tta and ttr as in `engmetrics.incidents.durations` (invalid and
  missing values excluded), for the incidents attributed to the rotation. Within each severity the mean and
  the 90th percentile (linear interpolation) are computed; the rotation's figure is their weighted average
  with the weights of the *overall severity mix* (the share of each severity among all incidents declared
  in the period with that duration), renormalised over the severities the rotation has. A rotation that
  got the hard incidents is then compared with the others on the same mix (direct standardisation). The
  adjusted p90 is a standardised average of per-severity p90s, not the p90 of a mixture.

>>> from engmetrics.store import Store
>>> oncall_load(Store.open("duckdb://"))
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..settings import IncidentSettings
from ..store import Store
from ..timeutil import as_utc
from .durations import NULL_GROUP, incident_durations
from .paging import is_page, with_oncall

__all__ = ["MAX_INCIDENTS_PER_12H", "MAX_TIME_ON_CALL", "RotationLoad", "oncall_load"]

MAX_INCIDENTS_PER_12H = 2
MAX_TIME_ON_CALL = 0.25
_KEY = ["rotation", "team"]
_HALF_DAY = 12 * 3600


@dataclass(frozen=True)
class RotationLoad:
    """Aggregates of one rotation (never about a named person)."""

    rotation: str
    team: str
    shifts: int
    people: int
    oncall_hours: float
    pages: int
    pages_per_shift_mean: float
    pages_per_shift_max: int
    incidents: int
    incidents_per_12h: float | None
    max_incidents_per_12h: int
    periods_over_incident_limit: int
    max_share_on_call: float | None
    median_share_on_call: float | None
    people_over_time_limit: int | None
    tta: dict[str, float | int | None]
    ttr: dict[str, float | int | None]
    shares_suppressed: bool = False

    @property
    def incident_limit_exceeded(self) -> bool:
        """Some 12-hour period had more than 2 incidents."""
        return self.max_incidents_per_12h > MAX_INCIDENTS_PER_12H

    @property
    def time_limit_exceeded(self) -> bool | None:
        """Somebody in the rotation was on call more than 25 % of the period (None when suppressed)."""
        return None if self.people_over_time_limit is None else self.people_over_time_limit > 0

    def to_dict(self) -> dict[str, object]:
        out = dict(self.__dict__)
        out["limits"] = {"incidents_per_12h_exceeded": self.incident_limit_exceeded,
                         "time_on_call_exceeded": self.time_limit_exceeded}
        return out


def _period(shifts: ir.Table, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    if start is None or end is None:
        row = shifts.aggregate(lo=shifts.start_at.min(), hi=shifts.end_at.max()).execute().iloc[0]
        if pd.isna(row["lo"]):
            return None
        start = start or row["lo"].to_pydatetime()
        end = end or row["hi"].to_pydatetime()
    return as_utc(start), as_utc(end)


def _clipped(shifts: ir.Table, start: datetime, end: datetime) -> ir.Table:
    lo, hi = ibis.timestamp(start), ibis.timestamp(end)
    s = shifts.filter((shifts.start_at < hi) & (shifts.end_at > lo))
    seconds = ibis.least(s.end_at, hi).epoch_seconds() - ibis.greatest(s.start_at, lo).epoch_seconds()
    return s.mutate(team=ibis.coalesce(s.team, ibis.literal(NULL_GROUP)), hours=seconds.cast("float64") / 3600)


def _pages(store: Store, s: ir.Table, start: datetime, end: datetime) -> ir.Table:
    a = store.table("alerts")
    a = a.filter(is_page(a) & (a.fired_at >= ibis.timestamp(start)) & (a.fired_at < ibis.timestamp(end)))
    a = with_oncall(store, a).select("fired_at", _rot="rotation", _paged="paged")
    hits = s.join(a, [s.rotation == a._rot, s.person == a._paged, s.start_at <= a.fired_at, a.fired_at < s.end_at])
    per_shift = hits.group_by([*_KEY, "person", "start_at"]).aggregate(pages=hits.count())
    shifts = s.left_join(per_shift, [*_KEY, "person", "start_at"]).select(*_KEY, pages=ibis._.pages.fill_null(0))
    return shifts.group_by(_KEY).aggregate(shifts=shifts.count(), pages=shifts.pages.sum(),
                                           pages_per_shift_mean=shifts.pages.mean(),
                                           pages_per_shift_max=shifts.pages.max())


def _attributed(store: Store, s: ir.Table, settings: IncidentSettings, start: datetime, end: datetime
                ) -> tuple[ir.Table, ir.Table]:
    """(incidents of the period with their durations, one row per (shift, incident) with its 12-hour period)."""
    i = incident_durations(store.table("incidents"), settings.durations)
    i = i.filter((i.declared_at >= ibis.timestamp(start)) & (i.declared_at < ibis.timestamp(end)))
    hits = s.join(i, [s.team == i.team, s.start_at <= i.declared_at, i.declared_at < s.end_at])
    slot = ((hits.declared_at.epoch_seconds() - hits.start_at.epoch_seconds()) / _HALF_DAY).floor()
    return i, hits.mutate(slot=slot)


def _incident_load(hits: ir.Table, s: ir.Table) -> ir.Table:
    per_slot = hits.group_by([*_KEY, "person", "start_at", "slot"]).aggregate(n=hits.count())
    slots = per_slot.group_by(_KEY).aggregate(
        max_incidents_per_12h=per_slot.n.max(),
        periods_over_incident_limit=(per_slot.n > MAX_INCIDENTS_PER_12H).cast("int64").sum())
    distinct = hits.group_by(_KEY).aggregate(incidents=hits.incident_id.nunique())
    hours = s.group_by(_KEY).aggregate(oncall_hours=s.hours.sum())
    return hours.left_join(distinct, _KEY).select(hours, "incidents").left_join(slots, _KEY).select(
        *_KEY, "oncall_hours", "incidents", "max_incidents_per_12h", "periods_over_incident_limit")


def _time_on_call(s: ir.Table, period_hours: float) -> ir.Table:
    share = s.group_by("person").aggregate(share=s.hours.sum() / period_hours)
    members = s.select(*_KEY, "person").distinct()
    m = members.join(share, "person")
    return m.group_by(_KEY).aggregate(people=m.count(), max_share_on_call=m.share.max(),
                                      median_share_on_call=m.share.quantile(0.5),
                                      people_over_time_limit=(m.share > MAX_TIME_ON_CALL).cast("int64").sum())


def _adjusted(incidents: ir.Table, hits: ir.Table, duration: str) -> pd.DataFrame:
    """Per rotation: severity-standardised mean and p90 of `duration`, and n (see the module docstring)."""
    mix = incidents.filter(incidents[duration].notnull()).group_by("severity").aggregate(w=ibis._.count()).execute()
    h = hits.filter(hits[duration].notnull()).select(*_KEY, "incident_id", "severity", duration).distinct()
    per = h.group_by([*_KEY, "severity"]).aggregate(mean=h[duration].mean(), p90=h[duration].quantile(0.9),
                                                     n=h.count()).execute()
    per = per.merge(mix, on="severity")
    per[["mean", "p90"]] = per[["mean", "p90"]].mul(per["w"], axis=0)
    out = per.groupby(_KEY)[["mean", "p90", "w", "n"]].sum()
    out[["mean", "p90"]] = out[["mean", "p90"]].div(out["w"], axis=0)
    return out.drop(columns="w").rename(columns=lambda c: f"{duration}_{c}").reset_index()


def _stat(row: dict, duration: str) -> dict[str, float | int | None]:
    n = row.get(f"{duration}_n")
    if n is None or pd.isna(n):
        return {"mean": None, "p90": None, "n": 0}
    return {"mean": float(row[f"{duration}_mean"]), "p90": float(row[f"{duration}_p90"]), "n": int(n)}


def _load(row: dict, min_group_size: int) -> RotationLoad:
    hours = float(row["oncall_hours"])
    incidents = int(0 if pd.isna(row["incidents"]) else row["incidents"])
    shown = int(row["people"]) >= min_group_size  # below it, every share-derived figure is suppressed
    return RotationLoad(
        rotation=row["rotation"], team=row["team"], shifts=int(row["shifts"]), people=int(row["people"]),
        oncall_hours=hours, pages=int(row["pages"]), pages_per_shift_mean=float(row["pages_per_shift_mean"]),
        pages_per_shift_max=int(row["pages_per_shift_max"]), incidents=incidents,
        incidents_per_12h=incidents / (hours / 12) if hours > 0 else None,
        max_incidents_per_12h=int(0 if pd.isna(row["max_incidents_per_12h"]) else row["max_incidents_per_12h"]),
        periods_over_incident_limit=int(0 if pd.isna(row["periods_over_incident_limit"])
                                        else row["periods_over_incident_limit"]),
        max_share_on_call=float(row["max_share_on_call"]) if shown else None,
        median_share_on_call=float(row["median_share_on_call"]) if shown else None,
        people_over_time_limit=int(row["people_over_time_limit"]) if shown else None, tta=_stat(row, "tta"),
        ttr=_stat(row, "ttr"), shares_suppressed=not shown)


def oncall_load(store: Store, settings: IncidentSettings | None = None, *, start: datetime | None = None,
                end: datetime | None = None, min_group_size: int = 5) -> list[RotationLoad]:
    """On-call load of every rotation with a shift in [start, end), sorted by (rotation, team)."""
    settings = settings or IncidentSettings()
    period = _period(store.table("oncall_shifts"), start, end)
    if period is None or period[1] <= period[0]:
        return []
    s = _clipped(store.table("oncall_shifts"), *period)
    incidents, hits = _attributed(store, s, settings, *period)
    period_hours = (period[1] - period[0]).total_seconds() / 3600
    frame = _pages(store, s, *period).execute()
    for part in (_incident_load(hits, s).execute(), _time_on_call(s, period_hours).execute(),
                 _adjusted(incidents, hits, "tta"), _adjusted(incidents, hits, "ttr")):
        frame = frame.merge(part, on=_KEY, how="left")
    rows = frame.sort_values(_KEY).to_dict("records")  # one row per rotation: a handful
    return [_load(r, min_group_size) for r in rows]
