"""The delivery page: `/delivery`, the DORA metrics per team with their bands (a word and a shape, not a
colour only) and the cycle time per team, over a window read like the API's `from` / `to` (default: the 28
days before `to`, `to` default now), and the knowledge silos (truck factor and file counts per repository and
per service) as of the UTC date of the window's end (`/api/v1/delivery/silos?as_of=`: commits before that
date's midnight). The numbers are the API's (`engmetrics.api.routes.delivery`): a team-member sees its own
teams only (repositories and services are not per team); groups below `privacy.min_group_size` authors show
"suppressed"; silos are counts, nobody is named."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import SettingsDep, StoreDep
from ..api.problems import Problem
from ..api.routes.delivery import delivery_cycle_time, delivery_dora, delivery_silos
from ..api.routes.incidents import date_window
from ..delivery.benchmarks import available_benchmarks
from ..delivery.cycle_time import STAGES
from .access import PageUser, page_requires
from .render import page

__all__ = ["BAND_TEXT", "router"]

router = APIRouter(include_in_schema=False)

#: DORA level -> (status class of the stylesheet, shape, words): the shape and the words carry the meaning.
BAND_TEXT = {"elite": ("green", "★", "Elite"), "high": ("green", "●", "High"), "medium": ("amber", "▲", "Medium"),
             "low": ("red", "■", "Low")}


@router.get("/delivery", dependencies=[page_requires(*READERS)], response_class=HTMLResponse)
def delivery_page(store: StoreDep, settings: SettingsDep, user: PageUser,
                  start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                  end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                  benchmark: Annotated[str, Query(max_length=20)] = "2024") -> HTMLResponse:
    """DORA metrics and cycle time per team for the window, knowledge silos at its end."""
    form = {"from": start or "", "to": end or "", "benchmark": benchmark}
    context: dict[str, Any] = {"form": form, "benchmarks": available_benchmarks(), "band_text": BAND_TEXT,
                               "stages": STAGES, "dora": [], "cycle": [], "silos": None, "error": None,
                               "window": None}
    try:
        begin, stop = date_window(start or None, end or None, default=True)
        dora = delivery_dora(store, settings, user, begin.isoformat(), stop.isoformat(), by="team",
                             benchmark=benchmark)
        cycle = delivery_cycle_time(store, settings, user, begin.isoformat(), stop.isoformat(), by="team")
    except Problem as exc:
        context["error"] = exc.detail
        return page("delivery.html", title="Delivery", nav="delivery", user=user, status_code=exc.status,
                    **context)
    silos = delivery_silos(store, user, as_of=stop.date())
    context |= {"dora": dora, "cycle": cycle, "silos": silos, "window": (begin, stop)}
    return page("delivery.html", title="Delivery", nav="delivery", user=user, **context)
