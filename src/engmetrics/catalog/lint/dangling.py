"""`dangling-link`: ERROR when `outcome` names neither a declared outcome nor another indicator, when
`guardrail` names no indicator, when either points at the indicator itself, or when outcome links
form a cycle."""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import Issue
from .base import LintContext, issue

RULE = "dangling-link"


def check(ctx: LintContext) -> Iterator[Issue]:
    catalog = ctx.catalog
    indicators = {d.id: d for d in catalog.definitions}
    outcomes = {o.outcome.id for o in catalog.outcomes}
    for d in catalog.definitions:
        ind = d.indicator
        if ind.outcome == ind.id:
            yield issue("ERROR", RULE, d, "outcome points at the indicator itself", "outcome")
        elif ind.outcome and ind.outcome not in outcomes and ind.outcome not in indicators:
            yield issue("ERROR", RULE, d, f"outcome {ind.outcome!r} is neither a declared outcome nor an "
                        "indicator", "outcome")
        if ind.guardrail == ind.id:
            yield issue("ERROR", RULE, d, "guardrail points at the indicator itself", "guardrail")
        elif ind.guardrail and ind.guardrail not in indicators:
            yield issue("ERROR", RULE, d, f"guardrail {ind.guardrail!r} is not an indicator", "guardrail")
        seen, current = {d.id}, ind.outcome
        while current in indicators and current != ind.id:
            if current in seen:
                break
            seen.add(current)
            current = indicators[current].indicator.outcome
        if current == ind.id and ind.outcome != ind.id:
            yield issue("ERROR", RULE, d, "outcome links form a cycle back to this indicator", "outcome")
