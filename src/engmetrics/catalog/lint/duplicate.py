"""`duplicate-calculation`: WARNING when two active indicators have the same calculation (filters
compared as sets): one number under two names splits the conversation about it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...errors import Issue
from .base import LintContext, issue

RULE = "duplicate-calculation"


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (sorted((_canonical(f) for f in v), key=json.dumps) if k == "filters" else _canonical(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def calculation_key(calculation: Any) -> str:
    return json.dumps(_canonical(calculation.model_dump(mode="json")), sort_keys=True)


def check(ctx: LintContext) -> Iterator[Issue]:
    first: dict[str, str] = {}
    for d in ctx.catalog.active:
        key = calculation_key(d.indicator.calculation)
        if key in first:
            yield issue("WARNING", RULE, d, f"same calculation as active indicator {first[key]!r}",
                        "calculation")
        else:
            first[key] = d.id
