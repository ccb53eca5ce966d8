"""What the published catalog's pages show, gathered from library calls: the source datasets an indicator reads
(with the columns it uses), its governance (impact assessment, review-board status and decisions) and its
change history as field-level differences between archived versions. Publishing records nothing, so with a
store the page says when the current version is not yet recorded in the archive (the newest archived row is
another version, or there is none): the history then ends before the definition the page shows.

>>> field_diff({"unit": "n", "thresholds": {"red": {"max": 2}}}, {"unit": "n", "thresholds": {"red": {"max": 3}}})
[FieldChange(path='thresholds.red.max', old=2, new=3)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalog.model import Calculation, Indicator, PercentileMeasure, RatioMeasure, SumMeasure
from ..catalog.rules import resolved_time_column
from ..catalog.version import definition_version
from ..store.datasets import REGISTRY
from .archive import history as archive_history
from .assessments import Assessment
from .board import ReviewBoard, approval_status, decisions, needs_approval

__all__ = ["MISSING", "FieldChange", "Governance", "HistoryRow", "SourceDataset", "change_history",
           "columns_used", "field_diff", "flatten", "governance_for", "source_datasets"]

#: Marks a field that is absent on one side of a difference.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def columns_used(calc: Calculation) -> list[str]:
    """Every column the calculation names, in reading order (time column, filters, grouping, measure).

    >>> columns_used(Calculation.model_validate({"dataset": "deployments", "group_by": "service",
    ...     "filters": [{"column": "environment", "value": "production"}], "measure": {"type": "count"}}))
    ['started_at', 'environment', 'service']
    """
    names = [resolved_time_column(calc), *(f.column for f in calc.filters), calc.group_by]
    m = calc.measure
    parts = [m.numerator, m.denominator] if isinstance(m, RatioMeasure) else [m]
    for part in parts:
        if isinstance(part, PercentileMeasure):
            names += [part.start, part.end]
        if isinstance(part, SumMeasure):
            names.append(part.column)
        names += [f.column for f in part.filters]
    return list(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class SourceDataset:
    """A dataset an indicator reads: its registry description and the columns used as (name, type,
    description); type and description are '' for a name the registry does not know."""

    name: str
    description: str
    columns: list[tuple[str, str, str]]


def source_datasets(indicator: Indicator) -> list[SourceDataset]:
    """The datasets of a declarative calculation (a built-in calculator declares none)."""
    calc = indicator.calculation
    if not isinstance(calc, Calculation):
        return []
    dataset = REGISTRY.get(calc.dataset)
    if dataset is None:
        return [SourceDataset(calc.dataset, "(not a registered dataset)",
                              [(c, "", "") for c in columns_used(calc)])]
    known = dataset.column_index
    return [SourceDataset(dataset.name, dataset.description, [
        (c, known[c].type, known[c].description) if c in known else (c, "", "(not a column of the dataset)")
        for c in columns_used(calc)])]


def flatten(content: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested mappings and lists by path: `a.b`, `a.list[0].c`; an empty mapping or list is a leaf.

    >>> flatten({"a": {"b": 1, "c": [{"d": 2}]}, "e": []})
    {'a.b': 1, 'a.c[0].d': 2, 'e': []}
    """
    if isinstance(content, dict) and content:
        out: dict[str, Any] = {}
        for key, value in content.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(content, list) and content:
        out = {}
        for index, value in enumerate(content):
            out.update(flatten(value, f"{prefix}[{index}]"))
        return out
    return {prefix: content}


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two versions; `old` / `new` is `MISSING` where the field is absent."""

    path: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        """added, removed or changed."""
        return "added" if self.old is MISSING else "removed" if self.new is MISSING else "changed"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": None if self.old is MISSING else self.old,
                "new": None if self.new is MISSING else self.new}

    def text(self, side: str) -> str:
        """`old` or `new` as compact JSON ('' when absent)."""
        value = getattr(self, side)
        return "" if value is MISSING else json.dumps(value, ensure_ascii=False, default=str)


def field_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[FieldChange]:
    """The fields that differ between two definitions, sorted by path (None is an empty definition)."""
    before, after = flatten(old or {}), flatten(new or {})
    before.pop("", None)
    after.pop("", None)
    return [FieldChange(p, before.get(p, MISSING), after.get(p, MISSING))
            for p in sorted(before.keys() | after.keys()) if before.get(p, MISSING) != after.get(p, MISSING)]


@dataclass(frozen=True)
class HistoryRow:
    """One archived version (`version` None: removed): `note` is `first recorded`, `changed`, `removed` or
    `restored`."""

    version: str | None
    effective_at: datetime
    source: str | None
    note: str
    changes: list[FieldChange] = field(default_factory=list)


def change_history(store: Any, metric: str) -> list[HistoryRow]:
    """The indicator's archived versions, newest first, each with what changed since the one before."""
    rows: list[HistoryRow] = []
    previous: dict[str, Any] | None = None
    for i, entry in enumerate(archive_history(store, "indicator", metric)):
        content = entry.content
        if content is None:
            note, changes = "removed", []
        elif i == 0:
            note, changes = "first recorded", []
        else:
            note = "restored" if rows and rows[-1].note == "removed" else "changed"
            changes = field_diff(previous, content)
        rows.append(HistoryRow(entry.version, entry.effective_at, entry.source, note, changes))
        if content is not None:
            previous = content
    return rows[::-1]


@dataclass(frozen=True)
class Governance:
    """An indicator's governance sections. `approval` is the board status (None without a store);
    `decisions` and `history` are empty without a store. `unrecorded` is True when there is a store and the
    current definition version is not the newest archived one."""

    needs_approval: bool
    board: ReviewBoard | None
    approval: dict[str, Any] | None
    decisions: list[dict[str, Any]]
    assessment: dict[str, Any] | None
    history: list[HistoryRow]
    unrecorded: bool = False


def governance_for(store: Any, board: ReviewBoard | None, assessments: dict[str, Assessment],
                   indicator: Indicator) -> Governance:
    """Everything the indicator page shows about governance; `store` may be None."""
    assessment = assessments.get(indicator.id)
    approval = approval_status(store, board, indicator).to_dict() if store is not None else None
    history = change_history(store, indicator.id) if store is not None else []
    return Governance(
        needs_approval=needs_approval(indicator), board=board, approval=approval,
        decisions=[d.to_dict() for d in decisions(store, indicator.id)] if store is not None else [],
        assessment=assessment.to_dict() if assessment else None, history=history,
        unrecorded=store is not None and (not history or history[0].version != definition_version(indicator)))
