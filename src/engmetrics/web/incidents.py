"""The incident pages: `/incidents` (the archive with filters, or search results when `q` is given) and
`/incidents/{id}` (one incident: fields, timeline, action items, postmortems). Both show what the logged-in
role and teams may read (`engmetrics.incidents.confidentiality`); hidden text reads "[redacted]"."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import StoreDep
from ..api.problems import Problem
from ..api.routes.incidents import make_filter
from ..errors import InputError
from ..incidents.confidentiality import REDACTED
from ..incidents.search import get_incident, incident_services, list_incidents, search_incidents
from .access import PageUser, page_requires
from .render import page

__all__ = ["PAGE_SIZE", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=200)]


def _page_url(form: dict[str, str], number: int) -> str:
    return "/incidents?" + urlencode({**{k: v for k, v in form.items() if v}, "page": number})


@router.get("/incidents", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def incidents_page(store: StoreDep, user: PageUser, q: Annotated[str | None, Query(max_length=500)] = None,
                   service: Text = None, severity: Text = None,
                   start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                   end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                   factor: Text = None, page_number: Annotated[int, Query(alias="page", ge=1)] = 1
                   ) -> HTMLResponse:
    """The incidents passing the filters, newest first, a page at a time; with `q`, the search hits."""
    form = {"q": q or "", "service": service or "", "severity": severity or "", "from": start or "",
            "to": end or "", "factor": factor or ""}
    context: dict[str, Any] = {"form": form, "services": incident_services(store), "hits": None, "items": [],
                               "total": 0, "error": None, "prev_url": None, "next_url": None, "redacted": REDACTED}
    try:
        if severity and severity not in {"1", "2", "3", "4", "5"}:
            raise InputError(f"severity must be 1 to 5, not {severity!r}")
        filters = make_filter(service, int(severity) if severity else None, start, end, factor)
        if q and q.strip():
            context["hits"] = search_incidents(store, q, user, filters, limit=PAGE_SIZE)
        else:
            offset = (page_number - 1) * PAGE_SIZE
            total, items = list_incidents(store, user, filters, limit=PAGE_SIZE, offset=offset)
            context |= {"total": total, "items": items, "first": offset + 1,
                        "prev_url": _page_url(form, page_number - 1) if page_number > 1 else None,
                        "next_url": _page_url(form, page_number + 1) if offset + PAGE_SIZE < total else None}
    except (InputError, Problem) as exc:
        context["error"] = exc.detail if isinstance(exc, Problem) else str(exc)
        return page("incidents.html", title="Incidents", nav="incidents", user=user, status_code=422, **context)
    return page("incidents.html", title="Incidents", nav="incidents", user=user, **context)


@router.get("/incidents/{incident_id}", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def incident_page(incident_id: str, store: StoreDep, user: PageUser) -> HTMLResponse:
    """One incident: its fields, lifecycle timeline, action items and postmortems, redacted for the user."""
    found = get_incident(store, user, incident_id)
    if found is None:
        return page("error.html", title="Incident not found", user=user, status_code=404,
                    message=f"There is no incident {incident_id!r} in this workspace.")
    title = f"{incident_id}: {found['title']}" if found["title"] else incident_id
    return page("incident.html", title=title, nav="incidents", user=user, incident=found, redacted=REDACTED)
