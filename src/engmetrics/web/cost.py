"""The cost page: `/cost`, the window's cost allocated per team (direct, shared, total, share, with the explicit
"(untagged)" and "(unallocated)" rows and tag coverage per provider and account), the budgets (status as a word
and a shape, not a colour only; actual against the forecast and its 80 % interval), idle and rightsizing
candidates with their estimated monthly savings, and commitment utilisation, coverage and the recommendation.

The numbers are the API's (`engmetrics.api.routes.cost`), so the page shows what `/api/v1/cost/...` answers and
a team-member sees what it may there; like those routes, the page reads the restricted `cost` dataset: the access
policy decides who may see it (an HTML 403 otherwise) and each view is written to the audit log. The window is
read like the API's `from` / `to` (default: the 28 days before `to`, `to` default now); with a `to`, budgets and
idle resources are judged on the window's last day and commitments over the lookback ending at `to`; without one,
each uses its own default (yesterday, the last complete day; the day after the last charge for commitments, since
billing data arrives late)."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from ..api.auth import READERS
from ..api.deps import SettingsDep, StoreDep
from ..api.problems import Problem
from ..api.routes.cost import cost_allocation, cost_budgets, cost_commitments, cost_idle
from ..api.routes.incidents import date_window
from ..errors import ValidationFailed
from .access import PageUser, page_requires
from .audit import page_reads
from .render import page

__all__ = ["BUDGET_TEXT", "RECOMMENDATION_TEXT", "VERDICT_TEXT", "budget_bar", "router"]

router = APIRouter(include_in_schema=False)

#: Budget status -> (status class of the stylesheet, shape, words): the shape and the words carry the meaning.
BUDGET_TEXT = {"ok": ("green", "●", "On track"), "warning": ("amber", "▲", "Warning"),
               "forecast_over_budget": ("amber", "◆", "Forecast over budget"),
               "over_budget": ("red", "■", "Over budget"), "insufficient_data": ("none", "○", "Insufficient data")}
#: Idle verdict -> (class, shape, words).
VERDICT_TEXT = {"idle": ("red", "■", "Idle"), "rightsize": ("amber", "▲", "Rightsize")}
#: Commitment recommendation -> (class, shape, words); `none` is status ok with a level of 0 (commit nothing more).
RECOMMENDATION_TEXT = {"ok": ("green", "●", "Recommended"), "none": ("none", "◇", "No extra commitment"),
                       "insufficient_data": ("none", "○", "Insufficient data")}


def _n(x: float) -> str:
    return f"{x:.1f}"


def budget_bar(item: dict[str, Any], *, width: int = 220, height: int = 26) -> str:
    """A small inline SVG of one budget: the actual as a bar, the forecast's 80 % interval as a band with the
    forecast as a tick, and the amount as a dashed line; its title and description say the same in words (the
    table beside it has the numbers)."""
    amount, actual = item["amount"], item["actual"]
    forecast, low, high = item["forecast"], item["forecast_low"], item["forecast_high"]
    top = max(amount, actual, high or 0.0, forecast or 0.0) * 1.05 or 1.0

    def x(value: float) -> float:
        return 2 + max(0.0, value) / top * (width - 4)

    cur = item["currency"]
    words = f"actual {actual:,.2f} {cur} of a budget of {amount:,.2f} {cur}"
    if forecast is not None:
        words += f"; forecast {forecast:,.2f} {cur}, 80 % interval {low:,.2f} to {high:,.2f}"
    else:
        words += "; no forecast yet"
    parts = [f'<svg class="budget-bar" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(item["name"])}</title><desc>{escape(words)}</desc>',
             f'<rect x="2" y="8" width="{width - 4}" height="10" fill="#f6f7f9" stroke="#d7dbe2"/>']
    if forecast is not None:
        parts.append(f'<rect x="{_n(x(low))}" y="5" width="{_n(max(1.0, x(high) - x(low)))}" height="16" '
                     f'fill="#1a4fa3" fill-opacity="0.18"/>')
    parts.append(f'<rect x="2" y="8" width="{_n(max(0.0, x(actual) - 2))}" height="10" fill="#1d2330"/>')
    if forecast is not None:
        parts.append(f'<line x1="{_n(x(forecast))}" x2="{_n(x(forecast))}" y1="3" y2="23" stroke="#1a4fa3" '
                     f'stroke-width="2"/>')
    parts.append(f'<line x1="{_n(x(amount))}" x2="{_n(x(amount))}" y1="1" y2="25" stroke="#b3261e" '
                 f'stroke-width="2" stroke-dasharray="3 2"/></svg>')
    return "".join(parts)


@router.get("/cost", dependencies=[page_requires(*READERS), page_reads("cost")],
            response_class=HTMLResponse)
def cost_page(store: StoreDep, settings: SettingsDep, user: PageUser,
              start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
              end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
              basis: Annotated[Literal["effective", "billed"], Query()] = "effective") -> HTMLResponse:
    """Cost per team, budgets, idle and rightsizing candidates, and commitments."""
    form = {"from": start or "", "to": end or "", "basis": basis}
    context: dict[str, Any] = {"form": form, "budget_text": BUDGET_TEXT, "verdict_text": VERDICT_TEXT,
                               "recommendation_text": RECOMMENDATION_TEXT, "allocation": None, "budgets": None,
                               "idle": None, "commitments": None, "error": None, "window": None, "bars": {},
                               "idle_rules": settings.cost.idle}
    try:
        begin, stop = date_window(start or None, end or None, default=True)
        day = (stop - timedelta(microseconds=1)).date() if end else None
        allocation = cost_allocation(store, settings, user, start or None, end or None, by="team", basis=basis)
        budgets = cost_budgets(store, settings, user, at=day)
        idle = cost_idle(store, settings, user, at=day)
        commitments = cost_commitments(store, settings, end=end or None)
    except Problem as exc:
        context["error"] = exc.detail
        return page("cost.html", title="Cost", nav="cost", user=user, status_code=exc.status, **context)
    except ValidationFailed as exc:
        context["error"] = f"The workspace's budgets or allocation rules (budgets/*.yaml) have errors: {exc}"
        return page("cost.html", title="Cost", nav="cost", user=user, status_code=500, **context)
    context |= {"allocation": allocation, "budgets": budgets, "idle": idle, "commitments": commitments,
                "window": (begin, stop), "bars": {b["name"]: budget_bar(b) for b in budgets["items"]}}
    return page("cost.html", title="Cost", nav="cost", user=user, **context)
