"""Which authors and reviewers are bots: `settings.delivery.bots`, globs matched case-insensitively.

A pattern matches a whole name; `*` stands for any run of characters and `?` for one character. Every
other character is literal, including `[` and `]`, so the default `*[bot]` means "ends with `[bot]`"
(GitHub's bot logins, e.g. `dependabot[bot]`) and not, as in `fnmatch`, "ends with b, o or t".

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

__all__ = ["is_bot", "is_bot_any"]


@lru_cache(maxsize=64)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = ["".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob) for glob in globs]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE | re.DOTALL) if parts else None


def is_bot(name: str | None, globs: Sequence[str]) -> bool:
    """Whether `name` matches one of the bot `globs` (a missing name is no bot)."""
    pattern = _pattern(tuple(globs))
    return bool(name) and pattern is not None and pattern.fullmatch(name) is not None  # type: ignore[arg-type]


def is_bot_any(names: Iterable[str | None], globs: Sequence[str]) -> bool:
    """Whether any of `names` (e.g. a commit's author name and email) is a bot."""
    return any(is_bot(name, globs) for name in names)
