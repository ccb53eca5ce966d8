"""Delivery: DORA metrics, cycle time, review bottlenecks, guardrails and knowledge silos, each the same JSON as
its `engmetrics delivery ... --json` command (thin shells over `engmetrics.delivery`; semantics there and in
docs/delivery.md).

`from` / `to` are read like the incidents routes (ISO dates or instants, UTC unless they carry an offset, `to`
exclusive, a date alone as `to` includes that day; 422 when `to` is not after `from`); DORA, cycle time and
reviews default to the 28 days before `to` (`to` default now), as the CLI. Every answer is
team-level; a team-member gets only its own teams' rows of anything grouped by team (as incidents stats).
Peer feedback (`engmetrics delivery feedback`) is not served: it is about individuals' ratings and stays a
reviewed, offline report.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ...auth.roles import Role
from ...delivery.benchmarks import available_benchmarks
from ...delivery.change_links import DEFAULT_LOOKBACK_DAYS
from ...delivery.cycle_time import cycle_time_stats
from ...delivery.dora import DoraScope, dora_metrics
from ...delivery.guardrails import guardrails, month_window
from ...delivery.reviews import review_report
from ...delivery.silos import silos_report
from ...errors import InputError
from ..auth import READERS, requires
from ..deps import CurrentUser, SettingsDep, StoreDep
from ..problems import Problem, bad_parameter
from .incidents import From, To, date_window

__all__ = ["router"]

router = APIRouter(tags=["delivery"])

_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def _team_rows(rows: list[dict[str, Any]], key: str, user: Any) -> list[dict[str, Any]]:
    return [r for r in rows if user.sees_team(r[key])]


@router.get("/delivery/dora", dependencies=[requires(*READERS)])
def delivery_dora(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
    by: Annotated[Literal["team", "service"] | None, Query(description="Group by this.")] = None,
    benchmark: Annotated[str, Query(max_length=20, description="DORA table for the bands "
                                    f"({', '.join(available_benchmarks())}).")] = "2024",
    service: Annotated[str | None, Query(max_length=200, description="Only this service.")] = None,
    team: Annotated[str | None, Query(max_length=200, description="Only services of this team.")] = None,
    repo: Annotated[str | None, Query(max_length=200, description="Only changes of this repository.")] = None,
    path_prefix: Annotated[str | None, Query(max_length=1000, description="Only changes touching paths with this "
                                             "prefix (monorepos).")] = None,
    lookback_days: Annotated[float, Query(ge=0, le=3660, description="Changes a service's first deployment may "
                                          "take (days before it).")] = DEFAULT_LOOKBACK_DAYS,
) -> list[dict[str, Any]]:
    """DORA metrics per group, as `engmetrics delivery dora --json` with the same options (default window: the
    28 days before `to`, `to` default now); grouped by (or scoped to) a team, a team-member gets its own teams'
    figures only."""
    if benchmark not in available_benchmarks():
        raise bad_parameter("benchmark", f"must be one of {', '.join(available_benchmarks())}")
    begin, stop = date_window(start, end, default=True)
    if team is not None and not user.sees_team(team):
        return []
    try:
        groups = dora_metrics(store, settings.delivery, start=begin, end=stop, by=by,  # type: ignore[arg-type]
                              benchmark=benchmark, scope=DoraScope(service, team, repo, path_prefix),
                              deploy_window_hours=settings.incidents.deploy_window_hours,
                              lookback_days=lookback_days, min_group_size=settings.privacy.min_group_size)
    except InputError as exc:  # the parameters are checked above: this is the workspace's settings
        raise Problem(500, f"the DORA metrics could not be computed: {exc}") from None
    return [g.to_dict() for g in groups if by != "team" or user.sees_team(g.group)]


@router.get("/delivery/cycle-time", dependencies=[requires(*READERS)])
def delivery_cycle_time(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
    by: Annotated[Literal["team", "repo"] | None, Query(description="Group by this.")] = None,
) -> list[dict[str, Any]]:
    """Cycle time per stage of changes merged in the window, as `engmetrics delivery cycle-time --json` (default
    window: the 28 days before `to`, `to` default now); grouped by team, a team-member gets its own teams' groups
    only."""
    begin, stop = date_window(start, end, default=True)
    groups = cycle_time_stats(store, settings.delivery, by=by, start=begin, end=stop,
                              min_group_size=settings.privacy.min_group_size)
    return [g.to_dict() for g in groups if by != "team" or user.sees_team(g.group)]


@router.get("/delivery/reviews", dependencies=[requires(*READERS)])
def delivery_reviews(
    store: StoreDep, settings: SettingsDep, user: CurrentUser, start: From = None, end: To = None,
) -> dict[str, Any]:
    """Review bottlenecks, as `engmetrics delivery reviews --json` (default window: the 28 days before `to`, `to`
    default now); a team-member gets its own teams' rows of `shares_by_team`, `concentration` and `waiting`
    (repositories and regions are not per team)."""
    begin, stop = date_window(start, end, default=True)
    report = review_report(store, settings.delivery, start=begin, end=stop,
                           min_group_size=settings.privacy.min_group_size).to_dict()
    if user.role == Role.team_member:
        for part, key in (("shares_by_team", "group"), ("concentration", "team"), ("waiting", "team")):
            report[part] = _team_rows(report[part], key, user)
    return report


def _month(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)


def _months_window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """`to` (default this month, UTC) is the month after the last; `from` defaults to 6 months before it."""
    try:
        return month_window(_month(start) if start else None, _month(end) if end else None)
    except ValueError:
        raise bad_parameter("to", "must be a month after from") from None


@router.get("/delivery/guardrails", dependencies=[requires(*READERS)])
def delivery_guardrails(
    store: StoreDep, settings: SettingsDep, user: CurrentUser,
    start: Annotated[str | None, Query(alias="from", pattern=_MONTH,
                                       description="First month YYYY-MM (default 6 months before `to`).")] = None,
    end: Annotated[str | None, Query(alias="to", pattern=_MONTH,
                                     description="Month YYYY-MM after the last (default this month).")] = None,
) -> list[dict[str, Any]]:
    """Monthly velocity and guardrail series per team with debt-risk flags, as `engmetrics delivery guardrails
    --json`; a team-member gets its own teams only."""
    begin, stop = _months_window(start, end)
    teams = guardrails(store, settings.delivery, start=begin, end=stop,
                       deploy_window_hours=settings.incidents.deploy_window_hours)
    return [t.to_dict() for t in teams if user.sees_team(t.team)]


@router.get("/delivery/silos", dependencies=[requires(*READERS)])
def delivery_silos(
    store: StoreDep, user: CurrentUser,
    as_of: Annotated[date | None, Query(description="ISO date the state is read at (default today, UTC).")] = None,
    min_dependents: Annotated[int, Query(ge=1, description="Teams asking a team to call it a bottleneck.")] = 3,
) -> dict[str, Any]:
    """Truck factors, single-owner and leaver-owned file counts, the support graph and documentation freshness
    as they stood at the start of `as_of` (UTC), as `engmetrics delivery silos --json`. A team-member gets its own
    teams' rows of `teams`, `docs` and `support.teams`, and the support edges from or to them; repositories and
    services are not per team."""
    data = silos_report(store, as_of, min_dependents)
    if user.role == Role.team_member:
        data["teams"] = _team_rows(data["teams"], "team", user)
        data["docs"] = _team_rows(data["docs"], "team", user)
        support = data["support"]
        support["teams"] = _team_rows(support["teams"], "team", user)
        support["edges"] = [e for e in support["edges"]
                            if user.sees_team(e["to_team"]) or user.sees_team(e["from_team"])]
    return data

