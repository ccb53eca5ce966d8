"""`review-overdue`: WARNING when an indicator's `review_by` date has passed (or it has none)."""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import Issue
from .base import LintContext, issue

RULE = "review-overdue"


def check(ctx: LintContext) -> Iterator[Issue]:
    for d in ctx.current:
        review_by = d.indicator.review_by
        if review_by is None:
            yield issue("WARNING", RULE, d, "no review_by date: plan when to ask whether it is still useful")
        elif review_by < ctx.today:
            yield issue("WARNING", RULE, d, f"review date {review_by} has passed", "review_by")
