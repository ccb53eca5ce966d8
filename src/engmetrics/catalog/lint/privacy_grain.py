"""`privacy_grain`: individual-level numbers are published weekly or coarser.

ERROR when an indicator that needs review-board approval (`governance.board.needs_approval`: audience
individual, a career decision in `affects`, or a calculation grouped by a person column) has cadence
`daily`: evaluation refuses it (`refused_grain`, see `engmetrics.governance.privacy`), so it would never
show a number.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import Issue
from ...governance.board import needs_approval
from .base import LintContext, issue

RULE = "privacy_grain"


def check(ctx: LintContext) -> Iterator[Issue]:
    for d in ctx.current:
        if d.indicator.cadence == "daily" and needs_approval(d.indicator):
            yield issue("ERROR", RULE, d, "individual-level numbers are published weekly or coarser: set cadence "
                        "weekly, monthly or quarterly (a daily one is refused at evaluation)", "cadence")
