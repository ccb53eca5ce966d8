"""`engmetrics catalog review`: review dates, usage and suggestions (a thin shell over
`engmetrics.insights.reviews`, where states, the review period and suggestions are documented)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..catalog.loader import load_catalog
from ..insights.reviews import DEFAULT_PERIOD_DAYS, DEFAULT_WITHIN, reviews
from .common import JsonOption, console, emit_json, open_store, state

__all__ = ["review_command"]

_COLOURS = {"overdue": "red", "upcoming": "yellow", "none": "yellow", "later": "green"}


def review_command(
    within: Annotated[int, typer.Option("--within", min=0, help="Days ahead a review counts as upcoming.")
                      ] = DEFAULT_WITHIN,
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help=(
        "Date reviews are checked against; the review period ends on it (default: today, UTC)."))] = None,
    period_days: Annotated[int, typer.Option("--period-days", min=1, help=(
        "Days of usage (views, decisions, alerts) looked at, ending on the as-of date."))] = DEFAULT_PERIOD_DAYS,
    as_json: JsonOption = False,
) -> None:
    """Each indicator's review date (overdue, upcoming within --within days, later, none), its usage over
    the review period (views through the API and the web, decisions citing it, alerts about it) and
    suggestions: `deprecate` when an indicator due for review had no use in the period, `add leading
    indicator` for a lagging indicator no leading one is linked to. JSON: {as_of, within_days, period
    {start, end}, reviews: [{metric, name, owner, review_by, state, days, usage {views_api, views_web,
    decisions, alerts}, suggestions: [{action, reason}]}]}.

    Example: engmetrics catalog review --within 30 --json
    """
    catalog = load_catalog(state.settings.workspace)
    day = as_of.date() if as_of else datetime.now(UTC).date()
    with open_store(read_only=True) as store:
        report = reviews(store, catalog, day, within=within, period_days=period_days)
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(f"Reviews as of {day}; usage from {report.period.start} to {report.period.end}", highlight=False)
    table = Table("indicator", "owner", "review by", "state", "views api/web", "decisions", "alerts", "suggestions")
    for r in report.reviews:
        u = r.usage
        when = "" if r.days is None else f" ({r.days:+d} d)"
        table.add_row(escape(r.metric), escape(r.owner or ""), str(r.review_by or "-"),
                      f"[{_COLOURS[r.state]}]{r.state}{when}[/]", f"{u.views_api}/{u.views_web}", str(u.decisions),
                      str(u.alerts), escape("; ".join(s.action for s in r.suggestions)))
    console.print(table)
