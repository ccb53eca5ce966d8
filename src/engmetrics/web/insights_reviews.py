"""The metric reviews page: `/insights/reviews`, the review schedule with usage and suggestions
(`engmetrics.insights.reviews`, as `GET /api/v1/insights/reviews`) and the decision log with its retrospective
(`engmetrics.insights.decisions`, as `GET /api/v1/insights/decisions/report`). Readers the access policy lets
read the `decisions` dataset see it; indicators over data the role may not read show `not_readable` moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import CatalogDep, StoreDep
from ..catalog.periods import default_as_of
from ..governance.access import ReadAccess
from ..insights.decisions import DEFAULT_AFTER_DAYS, readable_report
from ..insights.reviews import DEFAULT_WITHIN, reviews
from .access import PageUser, page_requires
from .audit import page_reads
from .insights import router
from .render import page

__all__ = ["STATE_TEXT", "VERDICT_TEXT"]

#: review state -> (status class, shape, words): the shape and the words carry the meaning, not the colour.
STATE_TEXT = {"overdue": ("red", "■", "Overdue"), "upcoming": ("amber", "▲", "Upcoming"),
              "none": ("amber", "◇", "No date"), "later": ("green", "●", "Later")}
#: move verdict -> CSS class of the stylesheet ("" for a verdict that is neither better nor worse).
VERDICT_TEXT = {"better": "better", "worse": "worse"}


@router.get("/insights/reviews", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def reviews_page(store: StoreDep, loaded: CatalogDep, user: PageUser,
                 access: Annotated[ReadAccess, page_reads("decisions")],
                 within: Annotated[int, Query(ge=0, le=3650)] = DEFAULT_WITHIN,
                 after_days: Annotated[int, Query(ge=1, le=365)] = DEFAULT_AFTER_DAYS) -> HTMLResponse:
    """Reviews due (overdue first) with usage and suggestions; the decisions with how their indicators moved."""
    catalog = loaded.catalog
    review = reviews(store, catalog, datetime.now(UTC).date(), within=within)
    report = readable_report(store, catalog, access, as_of=default_as_of(), after_days=after_days)
    names = {d.id: d.indicator.name for d in catalog.definitions}
    return page("insights_reviews.html", title="Metric reviews", nav="reviews", user=user, review=review,
                report=report, names=names, state_text=STATE_TEXT, verdict_class=VERDICT_TEXT)
