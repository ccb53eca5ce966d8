"""The experiments pages: `/insights/experiments` (every spec of the workspace's `experiments/` with its
verdict) and `/insights/experiments/{name}` (the analysis: effect, interval, checks, notes, and a chart of the
treated and control units' mean per bucket with the change marked). The numbers are the API's
(`engmetrics.api.routes.insights_experiments`), with the same visibility rules."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import CatalogDep, SettingsDep, StoreDep
from ..api.routes.insights_experiments import visible_experiments
from ..catalog.history import HistoryPoint
from ..charts import history_chart
from ..insights.experiments.listing import analyze_all, analyze_named
from .access import PageUser, page_requires
from .audit import PageAccessDep
from .insights import router
from .render import page

__all__ = ["experiment_chart", "experiment_page", "experiments_page"]

#: `charts.history_chart` layout (its docstring): the plot spans x from 56 to width - 16, y from 16 to height - 40.
_LEFT, _RIGHT, _TOP, _BOTTOM = 56.0, 16.0, 16.0, 40.0


def experiment_chart(data: dict[str, Any], *, width: int = 640, height: int = 240) -> str:
    """Treated and control means per bucket (`series` of an analysis) as two lines, with a dashed vertical
    line where the after period starts."""
    days = 1 if data["details"]["grain"] == "day" else 7
    points = [HistoryPoint(date.fromisoformat(r["bucket"]), date.fromisoformat(r["bucket"]) + timedelta(days=days - 1),
                           r[arm], None, 0, arm)
              for r in data["series"] for arm in ("treated", "control") if r[arm] is not None]
    title = f"{data['metric']}: treated and control {data['unit']}s, mean per {data['details']['grain']}"
    svg = history_chart(points, None, unit=data["details"]["metric_unit"], title=title, width=width, height=height)
    buckets = sorted({p.period_start for p in points})
    after = [date.fromisoformat(r["bucket"]) for r in data["series"] if r["phase"] == "after"]
    if not after or min(after) not in buckets:
        return svg
    x = _LEFT + buckets.index(min(after)) * (width - _LEFT - _RIGHT) / len(buckets)  # the slot's left edge
    marker = (f'<g class="intervention"><title>change from {data["details"]["after"]["from"]}</title>'
              f'<line x1="{x:.2f}" y1="{_TOP:.0f}" x2="{x:.2f}" y2="{height - _BOTTOM:.0f}" stroke="#b3261e" '
              f'stroke-width="2" stroke-dasharray="4 3"/><text x="{x + 4:.2f}" y="{_TOP + 10:.0f}" font-size="10" '
              f'fill="#b3261e">change</text></g>')
    return svg.replace("</svg>", marker + "</svg>")


@router.get("/insights/experiments", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def experiments_page(store: StoreDep, settings: SettingsDep, loaded: CatalogDep, user: PageUser,
                     access: PageAccessDep) -> HTMLResponse:
    """Every experiment with its method, effect, interval, p-value and verdict (or the spec's error)."""
    entries = visible_experiments(analyze_all(store, loaded.catalog, settings.workspace), user, access,
                                  loaded.catalog)
    return page("insights_experiments.html", title="Experiments", nav="experiments", user=user,
                items=[e.to_dict() for e in entries])


@router.get("/insights/experiments/{name}", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def experiment_page(name: str, store: StoreDep, settings: SettingsDep, loaded: CatalogDep, user: PageUser,
                    access: PageAccessDep) -> HTMLResponse:
    """One experiment's analysis with its chart; the 404 page when there is no such experiment to see."""
    entry = analyze_named(store, loaded.catalog, settings.workspace, name)
    visible = visible_experiments([entry], user, access, loaded.catalog) if entry else []
    if not visible:
        return page("error.html", title="Not found", user=user, status_code=404,
                    message=f"No experiment {name!r}.")
    data = visible[0].to_dict()
    chart = experiment_chart(data) if data.get("series") else None
    return page("insights_experiments_detail.html", title=f"Experiment {name}", nav="experiments", user=user,
                item=data, chart=chart)
