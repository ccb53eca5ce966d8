"""The audit viewer, `/governance/audit` (auditor, metrics-admin): the newest audit entries with filters (as
`GET /api/v1/governance/audit`) and the verdict of the hash chain (as `/api/v1/governance/audit/verify`).

Also the pages' side of the access policy (`engmetrics.governance.access`): `page_reads(dataset)` checks and
audits a page's read of a restricted dataset like the API's `reads`, but a refusal is the HTML 403 page
(`PageForbidden`) saying which roles may, or that the page needs `?reason=...`; `PageAccessDep` is the page's
`ReadAccess` for pages that read several datasets (the quarantine).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from ..api.auth import AUDITORS
from ..api.deps import ReasonHeader, ReasonQuery, SettingsDep, StoreDep, read_access
from ..api.problems import Problem
from ..api.routes.governance_audit import list_audit_entries, verify_audit_log
from ..governance.access import ReadAccess
from .access import PageForbidden, PageUser, page_requires
from .render import page

__all__ = ["PageAccessDep", "PageDatasetRead", "page_reads", "router"]

router = APIRouter(include_in_schema=False)

PAGE_LIMIT = 200


def _page_access(request: Request, settings: SettingsDep, user: PageUser, reason: ReasonQuery = None,
                 reason_header: ReasonHeader = None) -> ReadAccess:
    return read_access(request, settings, user, reason, reason_header)


PageAccessDep = Annotated[ReadAccess, Depends(_page_access)]


class PageDatasetRead:
    """The dependency `page_reads(dataset)` installs (the page's `engmetrics.api.deps.DatasetRead`)."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset

    def __call__(self, access: PageAccessDep) -> ReadAccess:
        try:
            access.allow(self.dataset)
        except Problem as exc:
            hint = " Add ?reason=... (why you read it) to the address." if exc.status == 428 else ""
            raise PageForbidden(f"{exc.detail[0].upper()}{exc.detail[1:]}.{hint}") from None
        return access


def page_reads(dataset: str) -> Any:
    """A page dependency: the page reads `dataset` (or data derived from its rows)."""
    return Depends(PageDatasetRead(dataset))


@router.get("/governance/audit", dependencies=[page_requires(*AUDITORS)], response_class=HTMLResponse)
def audit_page(store: StoreDep, user: PageUser,
               since: Annotated[str | None, Query(max_length=40)] = None,
               until: Annotated[str | None, Query(max_length=40)] = None,
               actor: Annotated[str | None, Query(max_length=200)] = None,
               action: Annotated[str | None, Query(max_length=200)] = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = PAGE_LIMIT) -> HTMLResponse:
    """The newest audit entries (newest first) passing the filters, and whether the chain is intact."""
    form = {"since": since or "", "until": until or "", "actor": actor or "", "action": action or "",
            "limit": limit}
    verdict = verify_audit_log(store)
    try:
        found = list_audit_entries(store, since or None, until or None, actor or None, action or None, None, limit)
    except Problem as exc:
        return page("audit.html", title="Audit log", nav="audit", user=user, status_code=exc.status, form=form,
                    verdict=verdict, entries=[], error=exc.detail)
    return page("audit.html", title="Audit log", nav="audit", user=user, form=form, verdict=verdict,
                entries=list(reversed(found)), error=None)
