"""Metric reviews and the decision log under `/api/v1/insights`: the review schedule with usage and
suggestions (`engmetrics.insights.reviews`), the decision log and its retrospective, and logging a decision
(`engmetrics.insights.decisions`).

Reading is open to every reader the access policy lets read the `decisions` dataset (usage counts decisions).
The retrospective computes only indicators whose data the request may read (the others are `not_readable`)
and audits the restricted datasets behind the values it shows. Logging a decision is for managers and
metrics admins; unknown indicator ids are a 400 unless `allow_unknown`.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from ...auth.roles import Role
from ...catalog.periods import default_as_of
from ...governance.access import ReadAccess
from ...insights.decisions import DEFAULT_AFTER_DAYS, Decision, add_decision, list_decisions, readable_report
from ...insights.reviews import DEFAULT_PERIOD_DAYS, DEFAULT_WITHIN, reviews
from ..auth import READERS, requires
from ..deps import CatalogDep, StoreDep, WriteStoreDep, reads
from .insights import router

__all__ = ["DECISION_WRITERS", "DecisionIn"]

DECISION_WRITERS = (Role.manager, Role.metrics_admin)

From = Annotated[date | None, Query(alias="from", description="First decision date, inclusive (YYYY-MM-DD).")]
To = Annotated[date | None, Query(alias="to", description="Last decision date, inclusive (YYYY-MM-DD).")]


class DecisionIn(BaseModel):
    """A decision to log (the `decisions` dataset's columns) and whether unknown indicator ids are accepted."""

    decision_id: str = Field(min_length=1, pattern=r"\S", description="e.g. DEC-042; re-posting updates it")
    date: dt.date
    title: str = Field(min_length=1, pattern=r"\S")
    owner_team: str | None = None
    metrics: list[str] = Field(min_length=1, description="indicator ids the decision relied on")
    outcome: str | None = None
    allow_unknown: bool = Field(False, description="accept ids that are not in the catalog")


@router.get("/reviews", dependencies=[requires(*READERS), reads("decisions")])
def list_reviews(store: StoreDep, loaded: CatalogDep,
                 within: Annotated[int, Query(ge=0, description="Days ahead a review is upcoming.")] = DEFAULT_WITHIN,
                 as_of: Annotated[date | None, Query(description="Date reviews are checked against "
                                                     "(default: today, UTC).")] = None,
                 period_days: Annotated[int, Query(ge=1, description="Days of usage looked at, ending on as_of.")
                                        ] = DEFAULT_PERIOD_DAYS) -> dict[str, Any]:
    """Every current indicator's review: `review_by`, `state` (overdue, upcoming, later, none), `days`, usage
    over the review period (`views_api`, `views_web`, `decisions`, `alerts`) and `suggestions` ({action,
    reason}: `deprecate`, `add leading indicator`); as `engmetrics catalog review --json`."""
    day = as_of or datetime.now(UTC).date()
    return reviews(store, loaded.catalog, day, within=within, period_days=period_days).to_dict()


@router.get("/decisions", dependencies=[requires(*READERS), reads("decisions")])
def list_decision_log(store: StoreDep, start: From = None, end: To = None,
                      metric: Annotated[str | None, Query(description="Only decisions citing it.")] = None
                      ) -> list[dict[str, Any]]:
    """The decision log, oldest first: decision_id, date, title, owner_team, metrics, outcome."""
    return [d.to_dict() for d in list_decisions(store, start=start, end=end, metric=metric)]


@router.get("/decisions/report", dependencies=[requires(*READERS)])
def get_decision_report(
    store: StoreDep, loaded: CatalogDep, access: Annotated[ReadAccess, reads("decisions")], start: From = None,
    end: To = None, after_days: Annotated[int, Query(ge=1, description="Days compared before and after.")
                                          ] = DEFAULT_AFTER_DAYS,
    as_of: Annotated[date | None, Query(description="Last day with data (default: yesterday, UTC).")] = None,
) -> dict[str, Any]:
    """The retrospective (as `engmetrics decisions report --json`): `decisions_total`, `backed`, `share_backed`,
    and per decision its `moves` (metric, before/after windows, value_before, value_after, change, noise,
    verdict)."""
    return readable_report(store, loaded.catalog, access, as_of=as_of or default_as_of(), start=start, end=end,
                           after_days=after_days).to_dict()


@router.post("/decisions", status_code=201, dependencies=[requires(*DECISION_WRITERS)])
def log_decision(body: DecisionIn, store: WriteStoreDep, loaded: CatalogDep) -> dict[str, Any]:
    """Log a decision through the normal ingestion; answers the decision and the ingest accounting (read,
    inserted, updated, unchanged, quarantined)."""
    decision = Decision(body.decision_id, body.date, body.title, body.owner_team, list(dict.fromkeys(body.metrics)),
                        body.outcome)
    result = add_decision(store, loaded.catalog, decision, allow_unknown=body.allow_unknown)
    return {"decision": decision.to_dict(), "ingest": result.as_dict()}
