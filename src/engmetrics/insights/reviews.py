"""Metric reviews: when each indicator is due for review, how much it was used, and what to propose.

- **State** of an indicator's `review_by` against the as-of date: `overdue` (the date has passed),
  `upcoming` (due within `within` days, today included), `later`, or `none` (no date set). `days` is
  `review_by - as_of` in days: negative when overdue, None without a date.
- **Usage** over the review period, the `period_days` days ending on the as-of date
  (`engmetrics.insights.usage`): views by channel, decisions citing it, anomaly alerts about it that
  reached someone (notified or acknowledged, not false positives).
- **Suggestions**, each with the reason:
  `deprecate` for an indicator due for review (overdue, upcoming or without a date) with no use at all in the
  review period; `add leading indicator` for a lagging indicator that no leading indicator is linked to.
  A leading indicator is linked to a lagging one when the lagging indicator, or the outcome it serves, is on
  the leading indicator's outcome chain (`engmetrics.catalog.lineage`): it names it (or an indicator under
  it) as its outcome, or serves the same outcome beside it. Deprecated indicators are not reviewed, as in
  the lint rules (`LintContext.current`).

>>> review_state(date(2026, 3, 1), date(2026, 3, 10), 30)
('overdue', -9)
>>> review_state(date(2026, 4, 9), date(2026, 3, 10), 30), review_state(None, date(2026, 3, 10), 30)
(('upcoming', 30), ('none', None))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..catalog.lineage import lineage
from ..catalog.lint.base import LintContext
from ..catalog.loader import Catalog, Definition
from ..catalog.periods import Period
from ..catalog.views import indicator_summary
from .usage import Usage, usage

__all__ = ["DEFAULT_PERIOD_DAYS", "DEFAULT_WITHIN", "Review", "ReviewReport", "Suggestion", "review_state",
           "reviews"]

DEFAULT_WITHIN = 30
DEFAULT_PERIOD_DAYS = 90
DUE = ("overdue", "upcoming", "none")


@dataclass(frozen=True)
class Suggestion:
    """`action` is `deprecate` or `add leading indicator`; `reason` says why, in words."""

    action: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class Review:
    """One indicator's review: due date and state, usage over the review period, suggestions."""

    metric: str
    name: str
    owner: str | None
    review_by: date | None
    state: str
    days: int | None
    usage: Usage
    suggestions: list[Suggestion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "name": self.name, "owner": self.owner,
                "review_by": self.review_by.isoformat() if self.review_by else None, "state": self.state,
                "days": self.days, "usage": self.usage.to_dict(),
                "suggestions": [s.to_dict() for s in self.suggestions]}


@dataclass(frozen=True)
class ReviewReport:
    """Every current indicator's review, most pressing first (overdue, upcoming, none, later; by date)."""

    as_of: date
    within_days: int
    period: Period
    reviews: list[Review]

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "within_days": self.within_days,
                "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
                "reviews": [r.to_dict() for r in self.reviews]}


def review_state(review_by: date | None, as_of: date, within: int) -> tuple[str, int | None]:
    """The state and `days` (module doc) of a review date seen on `as_of`."""
    if review_by is None:
        return "none", None
    days = (review_by - as_of).days
    return ("overdue" if days < 0 else "upcoming" if days <= within else "later"), days


def _unlinked_lagging(catalog: Catalog, current: list[Definition]) -> set[str]:
    """Current lagging indicators that no current leading indicator is linked to (module doc)."""
    reached: set[str] = set()
    for d in current:
        if d.indicator.kind == "leading":
            reached.update(node["id"] for node in lineage(catalog, d.id)["outcome_chain"])
    return {d.id for d in current if d.indicator.kind == "lagging"
            and d.id not in reached and (d.indicator.outcome is None or d.indicator.outcome not in reached)}


def _suggestions(d: Definition, state: str, used: Usage, period: Period, unlinked: set[str]) -> list[Suggestion]:
    out = []
    if state in DUE and used.total == 0:
        out.append(Suggestion("deprecate", f"no views, decisions or alerts from {period.start} to {period.end}"))
    if d.id in unlinked:
        out.append(Suggestion("add leading indicator", "lagging, and no leading indicator names it or its "
                              "outcome as what it predicts"))
    return out


_ORDER = {"overdue": 0, "upcoming": 1, "none": 2, "later": 3}


def reviews(store: Any, catalog: Catalog, as_of: date, *, within: int = DEFAULT_WITHIN,
            period_days: int = DEFAULT_PERIOD_DAYS) -> ReviewReport:
    """The review of every current indicator as of `as_of`, with usage over the `period_days` days ending
    on it."""
    if within < 0 or period_days < 1:
        raise ValueError("within must be >= 0 and period_days >= 1")
    period = Period(as_of - timedelta(days=period_days - 1), as_of)
    current = LintContext(catalog, as_of).current
    used = usage(store, period.start, period.end)
    unlinked = _unlinked_lagging(catalog, current)
    out = []
    for d in current:
        state, days = review_state(d.indicator.review_by, as_of, within)
        uses = used.get(d.id, Usage())
        out.append(Review(d.id, d.indicator.name, indicator_summary(d)["owner"], d.indicator.review_by, state, days,
                          uses, _suggestions(d, state, uses, period, unlinked)))
    out.sort(key=lambda r: (_ORDER[r.state], r.review_by or as_of, r.metric))
    return ReviewReport(as_of, within, period, out)
