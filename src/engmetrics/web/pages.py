"""The dashboard pages: overview, indicator, catalog, datasets, quarantine, login, and the stylesheet.

Handlers only call library functions (`engmetrics.web.views`, `engmetrics.catalog`, `engmetrics.store`)
and render templates; every route declares its permission (`page_requires` or `public`).

Indicator values follow the access policy (`engmetrics.governance.access`, "Indicator values"): the overview
leaves out indicators derived from a dataset the role may not read (a reason-required one counts with
`?reason=...`), the indicator page of one is the HTML 403 page (its guardrail's chart is left out the same
way), and the audited datasets behind the values shown are written to the audit log once per page.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import HTMLResponse, Response

from ..api.auth import AUDITORS, READERS, public
from ..api.deps import CatalogDep, EvaluationsDep, SettingsDep, StoreDep
from ..api.problems import Problem
from ..api.routes.session import _local
from ..catalog.lineage import lineage
from ..catalog.periods import default_as_of
from ..catalog.version import definition_version
from ..catalog.words import band_text, describe_calculation, describe_no_data
from ..charts import history_chart
from ..governance.access import ReadAccess, indicator_datasets, quarantine_for
from ..insights.usage import record_view
from ..store import REGISTRY
from ..store.inventory import dataset_inventory
from .access import PageUser, page_requires
from .audit import PageAccessDep, PageDatasetRead
from .governance import indicator_panel
from .render import page, stylesheet
from .views import indicator_history, overview, search_catalog

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

AsOf = Annotated[date | None, Query(description="Last day of the period, YYYY-MM-DD (default: yesterday).")]


@router.get("/static/dashboard.css", dependencies=[public()])
def dashboard_css() -> Response:
    """The dashboard stylesheet."""
    return Response(stylesheet(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/login", dependencies=[public()], response_class=HTMLResponse)
def login_page(next: str = "/", error: str | None = None) -> HTMLResponse:
    """The token login form; it posts to `POST /login`."""
    return page("login.html", title="Log in", user=None, next=_local(next), error=error)


@router.get("/", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def overview_page(store: StoreDep, loaded: CatalogDep, user: PageUser, evaluations: EvaluationsDep,
                  settings: SettingsDep, access: PageAccessDep, as_of: AsOf = None) -> HTMLResponse:
    """Executive overview: the RAG scorecard by outcome with sparklines, and what changed, of the indicators
    over data the role may read."""
    day = as_of or default_as_of()
    data = overview(store, loaded.catalog, day, access, git_commit=loaded.git_commit, cache=evaluations,
                    catalog_version=loaded.version, privacy=settings.privacy)
    return page("overview.html", title="Scorecard", nav="overview", user=user, data=data, as_of=day)


def _chart_for(store: StoreDep, loaded: CatalogDep, user: PageUser, metric: str, day: date, *,
               small: bool) -> dict:
    definition = loaded.catalog.get(metric)
    ind = definition.indicator
    points = indicator_history(store, definition, day, user, periods=8 if small else 12)
    size = {"width": 360, "height": 200} if small else {}
    chart = history_chart(points, ind.thresholds, unit=ind.unit, title=f"{ind.name}: history with thresholds",
                          **size)
    latest = [p for p in points if points and p.period_end == points[-1].period_end]
    return {"definition": definition, "indicator": ind, "points": points, "chart": chart, "latest": latest}


def _refuse_unreadable(access: ReadAccess, datasets: frozenset[str]) -> None:
    """The HTML 403 page (`PageForbidden`, naming the roles that may, or asking for `?reason=...`) when
    `access` may not read one of `datasets`; nothing is audited here."""
    for dataset in sorted(datasets):
        if not access.may(dataset):
            PageDatasetRead(dataset)(access)  # raises: the check fails before anything is audited


@router.get("/indicators/{metric}", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def indicator_page(metric: str, store: StoreDep, loaded: CatalogDep, user: PageUser, access: PageAccessDep,
                   request: Request, background: BackgroundTasks, as_of: AsOf = None) -> HTMLResponse:
    """One indicator: definition, owner, calculation in words, history chart and its guardrail beside it.
    An indicator derived from a dataset the role may not read is a 403 page; a guardrail over one is left
    out. The audited datasets behind the charts shown are audited once. The view is counted
    (`engmetrics.insights.usage`, no actor) after the page is sent."""
    catalog = loaded.catalog
    if metric not in catalog.ids:
        return page("error.html", title="Indicator not found", user=user, status_code=404,
                    message=f"There is no indicator {metric!r} in this workspace's catalog.")
    reads = indicator_datasets(catalog.get(metric).indicator)
    _refuse_unreadable(access, reads)
    guard_id = catalog.get(metric).indicator.guardrail
    guard_reads = indicator_datasets(catalog.get(guard_id).indicator) if guard_id in catalog.ids else frozenset()
    guard_hidden = not all(access.may(d) for d in guard_reads)
    access.record_derived(reads if guard_hidden else reads | guard_reads)
    background.add_task(record_view, request.app.state.stores, metric, "web")
    day = as_of or default_as_of()
    main = _chart_for(store, loaded, user, metric, day, small=False)
    shows_guard = guard_id in catalog.ids and not guard_hidden
    guard = _chart_for(store, loaded, user, guard_id, day, small=True) if shows_guard else None
    return page("indicator.html", title=main["indicator"].name, nav="catalog", user=user, main=main, guard=guard,
                guard_id=guard_id, guard_hidden=guard_hidden, as_of=day, lineage=lineage(catalog, metric),
                calculation=f'{describe_calculation(main["indicator"])} {describe_no_data(main["indicator"])}',
                band_text=band_text,
                version=definition_version(main["indicator"]),
                governance=indicator_panel(store, catalog, main["indicator"]))


@router.get("/catalog", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def catalog_page(loaded: CatalogDep, user: PageUser,
                 q: Annotated[str | None, Query(max_length=200, description="Search words.")] = None
                 ) -> HTMLResponse:
    """Every indicator, filtered server-side by the search words in `q`."""
    catalog = loaded.catalog
    found = search_catalog(catalog, q)
    return page("catalog.html", title="Catalog", nav="catalog", user=user, q=q or "", found=found,
                total=len(catalog.definitions))


@router.get("/datasets", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def datasets_page(store: StoreDep, user: PageUser) -> HTMLResponse:
    """The canonical datasets with key, columns and row counts."""
    return page("datasets.html", title="Datasets", nav="datasets", user=user, datasets=dataset_inventory(store))


@router.get("/quarantine", dependencies=[page_requires(*AUDITORS)], response_class=HTMLResponse)
def quarantine_page(store: StoreDep, user: PageUser, access: PageAccessDep,
                    dataset: Annotated[str | None, Query(description="Only this dataset.")] = None
                    ) -> HTMLResponse:
    """Rows refused at ingest (newest batch first, at most 500), optionally for one dataset; only of datasets
    the access policy lets the role read, and audited (as `GET /api/v1/quarantine`)."""
    error, status = None, 200
    if dataset and dataset not in REGISTRY:
        error, dataset = f"Unknown dataset {dataset!r}; showing every dataset.", None
    try:
        rows = quarantine_for(store, access, dataset or None, 500)
    except Problem as exc:
        rows, error, status = [], exc.detail, exc.status
    return page("quarantine.html", title="Quarantine", nav="quarantine", user=user, rows=rows, dataset=dataset or "",
                datasets=access.visible(), error=error, status_code=status)
