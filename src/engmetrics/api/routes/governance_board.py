"""The review board under `/api/v1/governance/approvals`: the queue, one indicator's status and decisions, and
propose / approve / reject acting as the token's user (`engmetrics token create --user NAME`).

Reading is open to every reader. Deciding is for managers and metrics admins; approving or rejecting also
needs the token's user to be on the board (`policies/review_board.yaml`), else 403. A decision the board's
rules refuse (the proposer approving, a second vote, nothing proposed, a proposal whose quorum the other
members cannot reach) is a 409 saying why. Decisions bind to the approval version
(`engmetrics.governance.board.approval_version`: activating an approved indicator keeps its approval).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ...auth.roles import Role
from ...catalog.loader import Catalog, Definition
from ...governance import board
from ..auth import READERS, requires
from ..deps import CatalogDep, CurrentUser, StoreDep, WriteStoreDep
from ..problems import Problem
from .governance import router

__all__ = ["DECIDERS", "Rationale"]

DECIDERS = (Role.manager, Role.metrics_admin)


class Rationale(BaseModel):
    """Why the board member decides as they do (kept with the decision and in the audit log)."""

    rationale: str = Field(min_length=1, pattern=r"\S", description="why, for the record")


def _definition(catalog: Catalog, metric: str) -> Definition:
    if metric not in catalog.ids:
        raise Problem(404, f"no indicator {metric!r}; see GET /api/v1/indicators")
    return catalog.get(metric)


def _decide(store: Any, catalog: Catalog, metric: str, actor: str, action: str,
            rationale: str | None = None) -> dict[str, Any]:
    definition = _definition(catalog, metric)
    try:
        if action == "propose":
            decision = board.propose(store, catalog.review_board, definition, actor)
        else:
            decide = board.approve if action == "approve" else board.reject
            decision = decide(store, catalog.review_board, definition, actor, rationale or "")
    except board.NotABoardMember as exc:
        raise Problem(403, exc.message) from exc
    except board.BoardError as exc:
        raise Problem(409, exc.message) from exc
    return {"decision": decision.to_dict(),
            "status": board.approval_status(store, catalog.review_board, definition.indicator).to_dict()}


@router.get("/approvals", dependencies=[requires(*READERS)])
def list_approvals(store: StoreDep, loaded: CatalogDep) -> list[dict[str, Any]]:
    """Every indicator that needs review-board approval, with its state for the current approval version
    (`not_proposed`, `pending`, `approved`, `rejected`, `lapsed`), approvals against the quorum, the reasons
    it needs approval and the last decision."""
    catalog = loaded.catalog
    return [s.to_dict() for s in board.approval_queue(store, catalog.review_board, catalog)]


@router.get("/approvals/{metric}", dependencies=[requires(*READERS)])
def show_approval(metric: str, store: StoreDep, loaded: CatalogDep) -> dict[str, Any]:
    """One indicator's status with the board (`not_required` when it needs no approval) and every decision
    about it, oldest first, with rationale."""
    catalog = loaded.catalog
    return board.approval_detail(store, catalog.review_board, _definition(catalog, metric).indicator)


@router.post("/approvals/{metric}/propose", status_code=201, dependencies=[requires(*DECIDERS)])
def propose_approval(metric: str, store: WriteStoreDep, loaded: CatalogDep, user: CurrentUser) -> dict[str, Any]:
    """Ask the board to approve the indicator's current approval version, as the token's user."""
    return _decide(store, loaded.catalog, metric, user.actor, "propose")


@router.post("/approvals/{metric}/approve", status_code=201, dependencies=[requires(*DECIDERS)])
def approve_approval(metric: str, body: Rationale, store: WriteStoreDep, loaded: CatalogDep,
                     user: CurrentUser) -> dict[str, Any]:
    """Approve the proposed current version: the token's user must be a board member other than the
    proposer."""
    return _decide(store, loaded.catalog, metric, user.actor, "approve", body.rationale)


@router.post("/approvals/{metric}/reject", status_code=201, dependencies=[requires(*DECIDERS)])
def reject_approval(metric: str, body: Rationale, store: WriteStoreDep, loaded: CatalogDep,
                    user: CurrentUser) -> dict[str, Any]:
    """Reject the proposed current version: the token's user must be a board member."""
    return _decide(store, loaded.catalog, metric, user.actor, "reject", body.rationale)
