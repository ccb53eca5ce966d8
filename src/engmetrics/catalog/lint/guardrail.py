"""`velocity-guardrail`: a velocity or throughput indicator must name a guardrail (a counter-indicator
such as change failure rate) or it invites gaming. ERROR.

An indicator counts as velocity when it is tagged `velocity`, `throughput` or `speed`, or its id or
name mentions velocity, throughput, story points, deployment frequency, lead time or cycle time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...errors import Issue
from .base import LintContext, issue

RULE = "velocity-guardrail"
TAGS = {"velocity", "throughput", "speed"}
_NAMES = re.compile(r"velocity|throughput|story.?points|deploy(ment)?s?.?(frequency|per)|lead.?time|"
                    r"cycle.?time", re.IGNORECASE)


def is_velocity(tags: list[str], ident: str, name: str) -> bool:
    return bool(TAGS & set(tags)) or bool(_NAMES.search(ident) or _NAMES.search(name))


def check(ctx: LintContext) -> Iterator[Issue]:
    for d in ctx.current:
        ind = d.indicator
        if is_velocity(ind.tags, ind.id, ind.name) and not ind.guardrail:
            yield issue("ERROR", RULE, d, "velocity indicator without a guardrail: name the "
                        "counter-indicator read beside it (e.g. change failure rate)")
