"""`GET /api/v1/governance/discrepancies`: indicators whose status disagrees with the team's perception, the same
JSON as `engmetrics governance discrepancies --json` (a team-member gets its own teams only), and `POST
/api/v1/governance/discrepancies/review`: record a review (managers and metrics-admins, acting as the token's
user). Thin shells over `engmetrics.governance.discrepancies` (semantics there)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from ...auth.roles import Role
from ...auth.scope import readable_metrics
from ...catalog.periods import default_as_of
from ...errors import InputError
from ...governance.discrepancies import find_discrepancies, record_review, survey_period
from ...jsonio import plain
from ..auth import READERS, requires
from ..deps import AccessDep, CatalogDep, CurrentUser, SettingsDep, StoreDep, WriteStoreDep
from ..problems import bad_parameter
from .governance import router

__all__ = ["REVIEWERS", "ReviewRequest", "router"]

REVIEWERS = (Role.manager, Role.metrics_admin)


class ReviewRequest(BaseModel):
    """A review of one discrepancy: a note, and a resolution once it is settled."""

    metric: str = Field(min_length=1, description="the indicator id")
    team: str = Field(min_length=1)
    period: str = Field(min_length=1, description="survey period label, e.g. 2026-Q3")
    note: str = Field(min_length=1, description="what the review found")
    resolution: Literal["explained", "metric_changed", "action_taken", "wont_fix"] | None = None


@router.get("/discrepancies", dependencies=[requires(*READERS)])
def list_discrepancies(
    store: StoreDep, loaded: CatalogDep, settings: SettingsDep, user: CurrentUser, access: AccessDep,
    period: Annotated[str | None, Query(max_length=20, description="Survey period label, e.g. 2026-Q3.")] = None,
    open_only: Annotated[bool, Query(alias="open", description="Only discrepancies without a resolution.")] = False,
    at: Annotated[date | None, Query(description="Last UTC day evaluated, ISO date (default yesterday).")] = None,
) -> dict[str, Any]:
    """Discrepancies between indicator health and team perception (largest gap first), with each one's latest
    review, as `engmetrics governance discrepancies --json`; a team-member sees its own teams only, and
    discrepancies of indicators over a dataset the caller may not read (`policies/access.yaml`) are left out
    (those over audited datasets are audited, as indicator values are)."""
    if period is not None:
        try:
            survey_period(period)
        except InputError as exc:
            raise bad_parameter("period", exc.message) from None
    as_of = at or default_as_of()
    teams = user.teams if user.role == Role.team_member else None
    report = find_discrepancies(store, loaded.catalog, settings=settings.governance, period=period, teams=teams,
                                open_only=open_only, as_of=as_of)
    data = report.to_dict()
    allowed, audited = readable_metrics(access, loaded.catalog, {i["metric"] for i in data["items"]})
    data["items"] = [i for i in data["items"] if i["metric"] in allowed]
    access.record_derived(audited)
    return plain({"at": as_of, "period": period, **data})


@router.post("/discrepancies/review", dependencies=[requires(*REVIEWERS)], status_code=201)
def review_discrepancy(body: ReviewRequest, store: WriteStoreDep, loaded: CatalogDep,
                       user: CurrentUser) -> dict[str, Any]:
    """Record a review of a discrepancy as the token's user (and an audit entry `discrepancy.review`)."""
    review = record_review(store, loaded.catalog, body.metric, body.team, body.period, body.note,
                           reviewer=user.actor, resolution=body.resolution)
    return plain({"metric": body.metric, "team": body.team, "period": body.period, **review.to_dict()})
