"""Lint rules for the indicator catalog: one module per rule, each a `check(ctx)` generator of
`Issue`s with level WARNING or ERROR. Rules run on a catalog that loaded cleanly.

>>> from datetime import date
>>> from engmetrics.catalog.loader import Catalog
>>> lint(Catalog(), today=date(2026, 1, 1))
[]
"""

from __future__ import annotations

from datetime import date

from ...errors import Issue
from ..loader import Catalog
from . import assessment, dangling, duplicate, guardrail, lagging_only, owner, privacy_grain, review, thresholds, vanity
from .base import LintContext

__all__ = ["RULES", "LintContext", "lint"]

RULES = {m.RULE: m.check for m in (owner, vanity, guardrail, review, dangling, lagging_only, thresholds,
                                   duplicate, assessment, privacy_grain)}


def lint(catalog: Catalog, *, today: date, rules: list[str] | None = None,
         assessed_versions: dict[str, set[str]] | None = None) -> list[Issue]:
    """Every issue the rules find, ordered by file, line and rule. `assessed_versions` (indicator id ->
    versions in force with an assessment, `engmetrics.governance.archive.assessed_versions(store)`) tells the
    `assessment` rule which versions need no assessment file now."""
    ctx = LintContext(catalog, today, assessed_versions)
    issues = [i for name, check in RULES.items() if rules is None or name in rules for i in check(ctx)]
    return sorted(issues, key=lambda i: (i.file or "", i.line or 0, i.rule, i.metric or ""))
