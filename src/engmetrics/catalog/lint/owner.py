"""`owner`: every indicator has one owning team and an accountable role.

ERROR when the owner, its team or its role is missing; WARNING when it is ambiguous: several teams
(a list, or a name joined with `,` `/` `&` `+` or `and`) or a placeholder such as `all`, `tbd`,
`unknown`, `everyone`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...errors import Issue
from .base import LintContext, issue

RULE = "owner"
PLACEHOLDERS = {"all", "everyone", "everybody", "tbd", "todo", "unknown", "n/a", "na", "none", "nobody",
                "team", "shared", "?", "-"}
_SEVERAL = re.compile(r"[,/&+]|\band\b", re.IGNORECASE)


def _ambiguous(value: str) -> str | None:
    text = value.strip().lower()
    if text in PLACEHOLDERS:
        return f"{value!r} is a placeholder, not an owner"
    if _SEVERAL.search(text):
        return f"{value!r} names several owners"
    return None


def check(ctx: LintContext) -> Iterator[Issue]:
    for d in ctx.current:
        owner = d.indicator.owner
        if owner is None:
            yield issue("ERROR", RULE, d, "no owner: set owner.team and owner.role")
            continue
        team = owner.team
        if not team or (isinstance(team, str) and not team.strip()):
            yield issue("ERROR", RULE, d, "no owning team: set owner.team", "owner")
        elif isinstance(team, list):
            yield issue("WARNING", RULE, d, f"several owning teams {team}: name the one accountable team",
                        "owner", "team")
        elif reason := _ambiguous(team):
            yield issue("WARNING", RULE, d, f"ambiguous owning team: {reason}", "owner", "team")
        if not owner.role or not owner.role.strip():
            yield issue("ERROR", RULE, d, "no accountable role: set owner.role", "owner")
        elif reason := _ambiguous(owner.role):
            yield issue("WARNING", RULE, d, f"ambiguous accountable role: {reason}", "owner", "role")
