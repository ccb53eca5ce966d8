r"""Name globs as one regular expression, portable to Python, RE2 (DuckDB) and Java (Spark).

A pattern matches a whole name; `*` stands for any run of characters and `?` for one character. Every other
character is literal, including `[` and `]`, so `*[bot]` means "ends with `[bot]`" and not, as in `fnmatch`,
"ends with b, o or t". Callers lower-case the name: the expression is built from the lower-cased globs.

>>> glob_regex(["*[bot]", "ci-?"])
'(?:.*\\[bot\\]|ci-.)'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["glob_regex"]

# Escaped with a backslash: the characters special in Python's, RE2's (DuckDB) and Java's (Spark) syntax.
_SPECIAL = frozenset("\\.^$|?*+()[]{}")


def _literal(ch: str) -> str:
    return "\\" + ch if ch in _SPECIAL else ch


def glob_regex(globs: Sequence[str]) -> str:
    """One unanchored regular expression, portable to Python, RE2 and Java, matching any of the lower-cased
    `globs` (an empty list matches nothing: see the callers)."""
    parts = ["".join(".*" if ch == "*" else "." if ch == "?" else _literal(ch) for ch in glob.lower())
             for glob in globs]
    return "(?:" + "|".join(parts) + ")"
