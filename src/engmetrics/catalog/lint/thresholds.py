"""`threshold-bands`: ERROR when threshold bands overlap, leave a gap (values that fall in no band,
including below the lowest or above the highest band), or are ordered against the direction
(higher_is_better wants red < amber < green from low to high; lower_is_better the reverse)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from ...errors import Issue
from ..model import Band
from .base import LintContext, issue

RULE = "threshold-bands"
_NEG = float("-inf")


def _fmt(x: float | None) -> str:
    return "-inf" if x is None else f"{x:g}"


def band_problems(bands: list[tuple[str, Band]], direction: str) -> list[str]:
    """Plain-language problems of `bands` (name, band) for `direction`; empty when they tile the line."""
    ordered = sorted(bands, key=lambda nb: (_NEG if nb[1].min is None else nb[1].min))
    problems = []
    first = ordered[0]
    if first[1].min is not None:
        problems.append(f"gap: values below {_fmt(first[1].min)} are in no band")
    reach = float("inf") if first[1].max is None else first[1].max  # every value below it is in a band
    for (a_name, a), (b_name, b) in pairwise(ordered):
        a_max = float("inf") if a.max is None else a.max
        b_min = _NEG if b.min is None else b.min
        if a_max > b_min:
            problems.append(f"overlap: {a_name} and {b_name} both hold [{_fmt(b.min)}, "
                            f"{_fmt(min(a_max, b.max if b.max is not None else a_max))})")
        elif reach < b_min:
            problems.append(f"gap: values in [{_fmt(reach)}, {_fmt(b.min)}) are in no band")
        reach = max(reach, float("inf") if b.max is None else b.max)
    if reach != float("inf"):
        problems.append(f"gap: values from {_fmt(reach)} up are in no band")
    expected = ["red", "amber", "green"] if direction == "higher_is_better" else ["green", "amber", "red"]
    names = [n for n, _ in ordered]
    if names != [n for n in expected if n in names]:
        problems.append(f"bands run {' < '.join(names)} but {direction} wants "
                        f"{' < '.join(n for n in expected if n in names)}")
    return problems


def check(ctx: LintContext) -> Iterator[Issue]:
    for d in ctx.current:
        t = d.indicator.thresholds
        if t is None:
            continue
        for problem in band_problems(t.bands(), d.indicator.direction):
            yield issue("ERROR", RULE, d, f"thresholds {problem}", "thresholds")
