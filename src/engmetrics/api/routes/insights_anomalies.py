"""Anomaly findings under `/api/v1/insights`: the stored findings with their marks (as the last
`engmetrics insights anomalies` or `engmetrics watch` saved them), and marking one acknowledged or a false
positive (as `engmetrics insights ack`).

Reads show what `engmetrics.insights.marks.visible_findings` lets the request see: no finding over a dataset
it may not read (`policies/access.yaml`: a series of `cost` rows, an indicator over a restricted dataset), no
other team's finding of a per-team indicator for a team-member, none of an indicator gone from the catalog or
needing review-board approval; the restricted datasets behind those shown are audited. Marking is for
managers and metrics admins, as the token's user, and only of a finding the caller sees (else 404).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from ...auth.roles import Role
from ...insights.anomaly import Finding
from ...insights.marks import Mark, mark, stored_findings, visible_findings
from ...jsonio import plain
from ..auth import READERS, requires
from ..deps import AccessDep, CatalogDep, CurrentUser, StoreDep, WriteStoreDep
from ..problems import Problem
from .insights import router

__all__ = ["MARKERS", "MarkIn"]

MARKERS = (Role.manager, Role.metrics_admin)


class MarkIn(BaseModel):
    """How a finding is marked, and why."""

    status: Literal["acknowledged", "false_positive"]
    note: str | None = Field(None, max_length=2000, description="why, for the record (audit log)")


def _row(finding: Finding, found: Mark | None) -> dict[str, Any]:
    return {**finding.to_dict(), "status": found.status if found else "open",
            "mark": found.to_dict() if found else None}


@router.get("/anomalies", dependencies=[requires(*READERS)])
def list_anomalies(
    store: StoreDep, loaded: CatalogDep, access: AccessDep,
    metric: Annotated[str | None, Query(max_length=300, description="An indicator id or a series name "
                                        "(dataset:deployments, sli:checkout/availability).")] = None,
    since: Annotated[date | None, Query(description="Only findings ending after this UTC day began.")] = None,
    status: Annotated[Literal["open", "acknowledged", "false_positive"] | None, Query(
        description="Only findings with this mark (open: unmarked).")] = None,
) -> list[dict[str, Any]]:
    """Stored anomaly findings the caller may see, newest first: finding_id, series, source, metric, group,
    datasets, method, direction, start_at, end_at, peak_at, value, expected, expected_low, expected_high, score,
    detected_at, status (open, acknowledged, false_positive) and mark (finding_id, status, note, actor,
    marked_at, or null)."""
    found = stored_findings(store, metric=metric, since=since, status=status)
    shown, audited = visible_findings([f for f, _ in found], access, loaded.catalog)
    ids = {f.finding_id for f in shown}
    access.record_derived(audited)
    return plain([_row(f, m) for f, m in found if f.finding_id in ids])


@router.post("/anomalies/{finding_id}/mark", status_code=201, dependencies=[requires(*MARKERS)])
def mark_anomaly(finding_id: str, body: MarkIn, store: WriteStoreDep, loaded: CatalogDep, access: AccessDep,
                 user: CurrentUser) -> dict[str, Any]:
    """Mark a finding acknowledged or a false positive as the token's user (audit entry
    `insights.anomaly.mark`); later scans leave it out, and findings of the same series and method family
    overlapping it. Answers the mark: finding_id, status, note, actor, marked_at. 404 for an unknown finding
    or one the caller may not see."""
    found = stored_findings(store, finding_id=finding_id)
    if not visible_findings([f for f, _ in found], access, loaded.catalog)[0]:
        raise Problem(404, f"no anomaly finding {finding_id!r}")
    return plain(mark(store, finding_id, body.status, actor=user.actor, note=body.note).to_dict())
