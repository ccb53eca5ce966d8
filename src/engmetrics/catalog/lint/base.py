"""What every lint rule receives, and a helper to make its issues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ...errors import Issue
from ..loader import Catalog, Definition

__all__ = ["LintContext", "issue"]


@dataclass(frozen=True)
class LintContext:
    """The catalog, the date reviews are checked against and, when a store exists, the indicator definition
    versions that were in force with an assessment (`assessed_versions[id]`, from
    `engmetrics.governance.archive.assessed_versions`; None without a store: none are)."""

    catalog: Catalog
    today: date
    assessed_versions: dict[str, set[str]] | None = None

    @property
    def current(self) -> list[Definition]:
        """Indicators that are not deprecated (proposed or active)."""
        return [d for d in self.catalog.definitions if d.indicator.status != "deprecated"]


def issue(level: str, rule: str, d: Definition, message: str, *loc: Any) -> Issue:
    """An issue about definition `d`, located at field `loc` (or the indicator itself)."""
    return Issue(level, rule, message, file=d.file, line=d.line_of(*loc), metric=d.id)
