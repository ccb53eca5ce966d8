"""`vanity`: an indicator nobody can act on. WARNING when it has no thresholds (nothing says what good
looks like), no outcome (nothing says why it matters), or is a cumulative all-time count (it can only
go up)."""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import Issue
from ..model import Calculation, CountMeasure
from .base import LintContext, issue

RULE = "vanity"


def check(ctx: LintContext) -> Iterator[Issue]:
    for d in ctx.current:
        ind = d.indicator
        if ind.thresholds is None:
            yield issue("WARNING", RULE, d, "no thresholds: say what green, amber and red are")
        if not ind.outcome:
            yield issue("WARNING", RULE, d, "no outcome: link the business outcome or parent indicator")
        calc = ind.calculation
        if isinstance(calc, Calculation) and calc.window == "all_time" and isinstance(calc.measure,
                                                                                       CountMeasure):
            yield issue("WARNING", RULE, d, "cumulative all-time count: it only goes up; count per period",
                        "calculation", "window")
