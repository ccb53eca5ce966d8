"""`only-lagging`: WARNING when every current (not deprecated) indicator is lagging: a catalog needs
leading indicators that move early enough to act on. Reported once, at the first indicator."""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import Issue
from .base import LintContext, issue

RULE = "only-lagging"


def check(ctx: LintContext) -> Iterator[Issue]:
    current = ctx.current
    if current and all(d.indicator.kind == "lagging" for d in current):
        yield issue("WARNING", RULE, current[0], f"all {len(current)} indicators are lagging: add leading "
                    "indicators that predict them")
