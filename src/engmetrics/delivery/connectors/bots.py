r"""Name globs: which authors and reviewers are bots (`settings.delivery.bots`) and which deployment refs are
hotfixes (`settings.delivery.hotfix_patterns`), matched case-insensitively, in Python (connectors) and as a
portable Ibis expression (metrics). Both use the one regular expression `engmetrics.globs.glob_regex` builds
(ingest uses it too, to flag bots before names are pseudonymised).

A pattern matches a whole name; `*` stands for any run of characters and `?` for one character. Every
other character is literal, including `[` and `]`, so the default `*[bot]` means "ends with `[bot]`"
(GitHub's bot logins, e.g. `dependabot[bot]`) and not, as in `fnmatch`, "ends with b, o or t". Case is
ignored by lower-casing both the name and the patterns.

>>> is_bot("Dependabot[bot]", ["*[bot]"])
True
>>> is_bot("elliott", ["*[bot]"])
False
>>> is_bot("renovate-runner", ["renovate*"]), is_bot(None, ["*"])
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import ibis
import ibis.expr.types as ir

from ...globs import glob_regex

__all__ = ["human", "is_bot", "is_bot_any", "is_bot_name", "matches_glob"]

@lru_cache(maxsize=64)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile(glob_regex(globs)) if globs else None


def matches_glob(name: str | None, globs: Sequence[str]) -> bool:
    """Whether `name` matches one of `globs` as a whole, ignoring case (a missing name matches none)."""
    pattern = _pattern(tuple(globs))
    return bool(name) and pattern is not None and pattern.fullmatch(name.lower()) is not None  # type: ignore[union-attr]


def is_bot(name: str | None, globs: Sequence[str]) -> bool:
    """Whether `name` matches one of the bot `globs` (a missing name is no bot)."""
    return matches_glob(name, globs)


def is_bot_any(names: Iterable[str | None], globs: Sequence[str]) -> bool:
    """Whether any of `names` (e.g. a commit's author name and email) is a bot."""
    return any(is_bot(name, globs) for name in names)


def is_bot_name(name: ir.StringValue, globs: Sequence[str]) -> ir.BooleanValue:
    """`is_bot` as a portable Ibis expression (false for a null name or no globs).

    >>> ibis.literal("Dependabot-preview").pipe(is_bot_name, ["dependabot*"]).execute()
    True
    """
    if not globs:
        return ibis.literal(False)
    return name.lower().re_search("^" + glob_regex(globs) + "$").coalesce(False)


def human(flag: ir.BooleanValue, name: ir.StringValue, globs: Sequence[str]) -> ir.BooleanValue:
    """Neither flagged a bot (`is_bot`, null = false) nor named like one: the row counts as a person's work."""
    return ~flag.coalesce(False) & ~is_bot_name(name, globs)
