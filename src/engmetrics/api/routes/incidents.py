"""Incidents: the archive (list with filters and paging, one incident, full-text search), every answer as the
caller's role and teams may see it (`engmetrics.incidents.confidentiality`: text of incidents the caller may
not read is "[redacted]", and search neither matches nor shows it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from ...auth.roles import Role
from ...errors import InputError
from ...incidents.confidentiality import readable_ids
from ...incidents.durations import duration_stats
from ...incidents.fatigue import fatigue_report, rotation_teams
from ...incidents.oncall import oncall_load
from ...incidents.patterns import recurring_patterns
from ...incidents.search import IncidentFilter, get_incident, list_incidents, parse_bound, search_incidents
from ...timeutil import default_window
from ..auth import READERS, requires
from ..deps import CurrentUser, SettingsDep, StoreDep
from ..problems import Problem, bad_parameter

__all__ = ["FilterDep", "incident_filter", "make_filter", "router"]

router = APIRouter(tags=["incidents"])


def _bound(name: str, text: str | None, *, end: bool) -> Any:
    try:
        return parse_bound(text, end=end)
    except InputError as exc:
        raise bad_parameter(name, str(exc)) from None


async def incident_filter(
    service: Annotated[str | None, Query(max_length=200, description="Only incidents of this service.")] = None,
    severity: Annotated[int | None, Query(ge=1, le=5, description="Only incidents of this severity.")] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40, description="declared_at on or after this "
                                       "ISO date or instant (UTC unless it has an offset).")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="declared_at before this instant; "
                                     "a date includes that whole day.")] = None,
    factor: Annotated[str | None, Query(max_length=200, description="Only incidents with this contributing "
                                        "factor (among those the caller may read).")] = None,
) -> IncidentFilter:
    """The filters shared by the list and the search (see `make_filter`)."""
    return make_filter(service, severity, start, end, factor)


def make_filter(service: str | None, severity: int | None, start: str | None, end: str | None,
                factor: str | None) -> IncidentFilter:
    """The filters of the query parameters (empty strings count as not given); a 422 problem for a bad date."""
    return IncidentFilter(service or None, severity, _bound("from", start, end=False), _bound("to", end, end=True),
                          factor or None)


FilterDep = Annotated[IncidentFilter, Depends(incident_filter)]


@router.get("/incidents", name="list_incidents", dependencies=[requires(*READERS)])
def list_incidents_route(
    store: StoreDep, user: CurrentUser, filters: FilterDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many incidents.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Skip this many (newest first).")] = 0,
) -> dict[str, Any]:
    """Incidents passing the filters, newest declared first: `total`, `limit`, `offset` and `items` (every
    incident column plus `redacted`; hidden fields are "[redacted]" or null)."""
    total, items = list_incidents(store, user, filters, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/incidents/search", name="search_incidents", dependencies=[requires(*READERS)])
def search_incidents_route(
    store: StoreDep, user: CurrentUser, filters: FilterDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to search for.")],
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many results.")] = 20,
) -> dict[str, Any]:
    """BM25 search over the text the caller may read, best first, as `engmetrics incidents search --json`:
    `items` of incident_id, score, title, service, severity, declared_at, snippet (`**match**`), redacted."""
    try:
        hits = search_incidents(store, q, user, filters, limit=limit)
    except InputError as exc:
        raise bad_parameter("q", str(exc)) from None
    return {"query": q, "items": [h.to_dict() for h in hits]}


From = Annotated[str | None, Query(alias="from", max_length=40, description="Start, ISO date or instant (UTC "
                                   "unless it has an offset).")]
To = Annotated[str | None, Query(alias="to", max_length=40, description="End, exclusive; a date includes that "
                                 "whole day.")]


def date_window(start: str | None, end: str | None, *, default: bool) -> tuple[datetime | None, datetime | None]:
    """`from` and `to` read like the list's filters (a date as `to` includes that day); with `default`, a
    missing `to` is now and a missing `from` 28 days before `to` (as the CLI). 422 unless to > from."""
    begin, stop = _bound("from", start, end=False), _bound("to", end, end=True)
    try:
        if default:
            return default_window(begin, stop)
        if begin and stop and begin >= stop:
            raise ValueError("the end must be after the start")
    except ValueError:
        raise bad_parameter("from", f"must be before to ({stop.isoformat() if stop else 'now'})") from None
    return begin, stop


@router.get("/incidents/stats", dependencies=[requires(*READERS)])
def incident_stats(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
    by: Annotated[Literal["severity", "service", "team", "month", "week"] | None, Query(
        description="Group by this.")] = None,
    compare_previous: Annotated[bool, Query(description="Compare each median with the previous period of the "
                                            "same length (default window: the 28 days before `to`, `to` default "
                                            "now).")] = False,
) -> list[dict[str, Any]]:
    """Lifecycle durations (TTD, TTA, TTM, TTR) per group, as `engmetrics incidents stats --json`. Durations
    carry no incident text; grouped by team, a team-member gets its own teams' groups only."""
    begin, stop = date_window(start, end, default=compare_previous)
    groups = duration_stats(store, settings.incidents, by=by, start=begin, end=stop,
                            compare_previous=compare_previous)
    return [g.to_dict() for g in groups if by != "team" or user.sees_team(g.group)]


@router.get("/incidents/fatigue", dependencies=[requires(*READERS)])
def incident_fatigue(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
    by: Annotated[Literal["rule", "team", "rotation"], Query(description="Group by this.")] = "rule",
) -> dict[str, Any]:
    """Alert fatigue, as `engmetrics incidents fatigue --json` (default window: the 28 days before `to`, `to`
    default now; unknown time zones are listed in `warnings`). A team-member gets the items of its own teams
    only (grouped by team: those teams; by rotation: the rotations with a shift of those teams), and the
    fairness rows of those rotations."""
    begin, stop = date_window(start, end, default=True)
    try:
        report = fatigue_report(store, settings.incidents, by=by, start=begin, end=stop,
                                min_group_size=settings.privacy.min_group_size).to_dict()
    except ValueError as exc:  # an unreadable teams.work_days value
        raise Problem(500, f"the alert fatigue could not be computed: {exc}") from None
    if user.role == Role.team_member:
        owners = rotation_teams(store)

        def mine(rotation: str | None) -> bool:
            return any(user.sees_team(t) for t in owners.get(rotation or "", ()))

        if by != "rule":
            report["items"] = [i for i in report["items"] if (user.sees_team(i["team"]) if by == "team"
                                                              else mine(i["rotation"]))]
        report["fairness"] = [f for f in report["fairness"] if mine(f["rotation"])]
    return report


@router.get("/incidents/oncall", dependencies=[requires(*READERS)])
def incident_oncall(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
) -> list[dict[str, Any]]:
    """On-call load per rotation, as `engmetrics incidents oncall --json` (default window: from the first
    shift start to the last shift end); a team-member gets its own teams' rotations only."""
    begin, stop = date_window(start, end, default=False)
    loads = oncall_load(store, settings.incidents, start=begin, end=stop,
                        min_group_size=settings.privacy.min_group_size)
    return [r.to_dict() for r in loads if user.sees_team(r.team)]


@router.get("/incidents/patterns", dependencies=[requires(*READERS)])
def incident_patterns(
    store: StoreDep, user: CurrentUser,
    min_size: Annotated[int, Query(ge=2, description="Smallest number of incidents in a pattern.")] = 2,
    threshold: Annotated[float, Query(ge=0, le=1, description="TF-IDF cosine similarity linking two "
                                      "incidents.")] = 0.3,
    period: Annotated[Literal["quarter", "month"], Query(description="Trend buckets.")] = "quarter",
) -> list[dict[str, Any]]:
    """Recurring patterns, as `engmetrics incidents patterns --json`. Patterns are found from incident text,
    so a caller gets only the patterns all of whose incidents it may read (auditors and admins: all)."""
    found = [p.to_dict() for p in recurring_patterns(store, min_size=min_size, threshold=threshold, period=period)]
    if user.role in (Role.auditor, Role.metrics_admin):
        return found
    readable = readable_ids(store, user, sorted({i for p in found for i in p["incident_ids"]}))
    return [p for p in found if set(p["incident_ids"]) <= readable]


@router.get("/incidents/{incident_id}", dependencies=[requires(*READERS)])
def show_incident(incident_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """One incident (redacted for the caller) with its `timeline`, `action_items` and, when the dataset
    exists, `postmortems`."""
    found = get_incident(store, user, incident_id)
    if found is None:
        raise Problem(404, f"no incident {incident_id!r}; see GET /api/v1/incidents")
    return found
