"""Governance pages: `/governance/approvals`, the review board's queue (every indicator that needs approval,
its state for the current approval version, approvals against the quorum, the last decision), and the
governance panel of the indicator page (`indicator_panel`, used by `engmetrics.web.pages`).

The data are the library's (`engmetrics.governance.board`, `engmetrics.governance.assessments`), as
`GET /api/v1/governance/approvals` answers them; deciding stays with the CLI and the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import CatalogDep, StoreDep
from ..catalog.loader import Catalog
from ..catalog.model import Indicator
from ..governance import board
from .access import PageUser, page_requires
from .render import page

__all__ = ["STATE_TEXT", "indicator_panel", "router"]

router = APIRouter(include_in_schema=False)

#: Approval state -> (status class of the stylesheet, shape, words): the shape and the words carry the meaning.
STATE_TEXT = {"not_required": ("none", "◇", "No approval needed"), "not_proposed": ("red", "■", "Not proposed"),
              "pending": ("amber", "▲", "Pending"), "approved": ("green", "●", "Approved"),
              "rejected": ("red", "■", "Rejected"), "lapsed": ("red", "◆", "Lapsed: definition changed")}


def indicator_panel(store: Any, catalog: Catalog, indicator: Indicator) -> dict[str, Any]:
    """What the indicator page shows about governance: whether and why it needs approval, its status and
    every decision with rationale, the board, and the impact assessment (None when there is none)."""
    detail = board.approval_detail(store, catalog.review_board, indicator)
    assessment = catalog.assessments.get(indicator.id)
    return {"status": detail, "state_text": STATE_TEXT[detail["state"]], "board": catalog.review_board,
            "board_file": board.BOARD_FILE, "assessment": assessment.to_dict() if assessment else None,
            "assessment_file": f"assessments/{indicator.id}.yaml"}


@router.get("/governance/approvals", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def approvals_page(store: StoreDep, loaded: CatalogDep, user: PageUser) -> HTMLResponse:
    """The review board's queue: indicators that need approval and where each stands."""
    catalog = loaded.catalog
    queue = [s.to_dict() for s in board.approval_queue(store, catalog.review_board, catalog)]
    names = {d.id: d.indicator.name for d in catalog.definitions}
    return page("approvals.html", title="Approvals", nav="approvals", user=user, queue=queue, names=names,
                board=catalog.review_board, board_file=board.BOARD_FILE, state_text=STATE_TEXT)
