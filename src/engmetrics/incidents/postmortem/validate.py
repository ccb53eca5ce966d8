"""Validation of postmortems against the standard, each issue with file and line.

Levels: ERROR (the file is not imported, `validate` exits 1) and WARNING (a recommended field is
missing; it lowers the completeness score). Rules:

- `front-matter`: no front matter, invalid YAML, or not a mapping.
- `missing-field`: a field of the standard is absent or empty. ERROR for incident_id, title, service,
  severity, summary, confidentiality, authors, impact.users_affected, impact.duration_minutes,
  timeline.impact_started, timeline.detected, timeline.resolved, detection_source, contributing_factors,
  trigger, resolution; WARNING for team, impact.slo_budget_consumed, timeline.declared,
  timeline.acknowledged, timeline.mitigated, went_well, went_wrong, got_lucky.
- `invalid-value`: wrong type or a value outside its set or range (severity 1-5, counts >= 0, ...).
- `invalid-timestamp`: a timeline value that is not an ISO 8601 timestamp with a UTC offset.
- `timeline-order`: impact_started <= detected <= acknowledged <= mitigated <= resolved, each compared
  with the previous one present (missing ones are skipped); declared <= resolved.
- `inconsistent-duration`: impact.duration_minutes differs by more than one minute from mitigated (or,
  without it, resolved) minus impact_started.
- `unknown-factor`: a contributing factor outside the taxonomy (`model.load_taxonomy`).
- `action-item`: an action item without description, owner_team, due date, or with an invalid type
  or status, or a repeated id. `no-action-items` (WARNING): the list is empty.
- `file-name` (WARNING): the file is not called `<incident_id>.md`; `empty-body` (WARNING): no narrative.

>>> from .model import parse_text
>>> doc = parse_text("---\\nincident_id: INC-1\\nseverity: 9\\n---\\n", "INC-1.md")
>>> [(i.rule, i.line) for i in validate(doc) if i.rule == "invalid-value"]
[('invalid-value', 3)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .model import ACTION_STATUSES, ACTION_TYPES, CONFIDENTIALITY, DEFAULT_FACTORS, TIMELINE, Postmortem

__all__ = ["PostmortemIssue", "as_date", "as_timestamp", "has_errors", "is_empty", "validate"]

ERROR, WARNING = "ERROR", "WARNING"
_TEXT_REQUIRED = ("incident_id", "title", "service", "summary", "detection_source", "trigger", "resolution")
_LESSONS = ("went_well", "went_wrong", "got_lucky")


@dataclass(frozen=True)
class PostmortemIssue:
    """One finding. `field` is the standard's field it concerns (for the completeness score), `item` the
    action item's index when it concerns one."""

    level: str
    rule: str
    file: str
    line: int
    message: str
    incident: str | None
    field: str | None = None
    item: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `--json` form: level, rule, file, line, message, incident."""
        return {"level": self.level, "rule": self.rule, "file": self.file, "line": self.line,
                "message": self.message, "incident": self.incident}

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level} [{self.rule}] {self.message}"


def has_errors(issues: Sequence[PostmortemIssue]) -> bool:
    return any(i.level == ERROR for i in issues)


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def as_timestamp(value: Any) -> datetime | None:
    """An aware datetime from a YAML timestamp or ISO text; None when not a timestamp with an offset.

    >>> as_timestamp("2026-03-01T14:05:00+01:00").isoformat()
    '2026-03-01T14:05:00+01:00'
    >>> as_timestamp("2026-03-01T14:05:00") is None
    True
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    return None


def as_date(value: Any) -> date | None:
    """A date from a YAML date, an aware timestamp or ISO text (`2026-04-01`); None otherwise."""
    if isinstance(value, datetime):
        return value.date() if value.utcoffset() is not None else None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return as_date(as_timestamp(value))
    return None


class _Checker:
    def __init__(self, doc: Postmortem, factors: Sequence[str]) -> None:
        self.doc, self.factors, self.issues = doc, factors, []

    def add(self, level: str, rule: str, path: tuple[Any, ...], message: str, item: int | None = None) -> None:
        field = ".".join(str(p) for p in path[:2]) if path and path[0] in ("impact", "timeline") else (
            str(path[0]) if path else None)
        self.issues.append(PostmortemIssue(level, rule, self.doc.file, self.doc.line(path), message,
                                           self.doc.incident_id, field, item))

    def present(self, path: tuple[Any, ...], level: str = ERROR) -> bool:
        if is_empty(self.doc.get(*path)):
            self.add(level, "missing-field", path, f"{'.'.join(map(str, path))} is missing")
            return False
        return True

    def number(self, path: tuple[str, ...], *, integer: bool = False, level: str = ERROR) -> None:
        value = self.doc.get(*path)
        if not self.present(path, level):
            return
        kinds = int if integer else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            kind = "a whole number" if integer else "a number"
            self.add(ERROR, "invalid-value", path, f"{'.'.join(path)} must be {kind} >= 0, not {value!r}")


def _identity(c: _Checker) -> None:
    for name in _TEXT_REQUIRED:
        if c.present((name,)) and not isinstance(c.doc.get(name), str | int):
            c.add(ERROR, "invalid-value", (name,), f"{name} must be text")
    c.present(("team",), WARNING)
    severity = c.doc.get("severity")
    if c.present(("severity",)) and (isinstance(severity, bool) or severity not in range(1, 6)):
        c.add(ERROR, "invalid-value", ("severity",), f"severity must be 1 (most severe) to 5, not {severity!r}")
    level = c.doc.get("confidentiality")
    if c.present(("confidentiality",)) and level not in CONFIDENTIALITY:
        c.add(ERROR, "invalid-value", ("confidentiality",),
              f"confidentiality must be one of {', '.join(CONFIDENTIALITY)}, not {level!r}")
    authors = c.doc.get("authors")
    if c.present(("authors",)) and not (isinstance(authors, list) and all(isinstance(a, str) and a for a in authors)):
        c.add(ERROR, "invalid-value", ("authors",), "authors must be a list of team names")
    stem = Path(c.doc.file).stem
    if c.doc.incident_id and stem != c.doc.incident_id:
        c.issues.append(PostmortemIssue(WARNING, "file-name", c.doc.file, c.doc.line(("incident_id",)),
                                        f"the file of {c.doc.incident_id} should be {c.doc.incident_id}.md, "
                                        f"not {Path(c.doc.file).name}", c.doc.incident_id))


def _impact(c: _Checker) -> None:
    c.number(("impact", "users_affected"), integer=True)
    c.number(("impact", "duration_minutes"))
    c.number(("impact", "slo_budget_consumed"), level=WARNING)


def _timeline(c: _Checker) -> dict[str, datetime]:
    stamps: dict[str, datetime] = {}
    for name in (*TIMELINE, "declared"):
        path = ("timeline", name)
        level = ERROR if name in ("impact_started", "detected", "resolved") else WARNING
        if not c.present(path, level):
            continue
        stamp = as_timestamp(c.doc.get(*path))
        if stamp is None:
            c.add(ERROR, "invalid-timestamp", path, f"timeline.{name} must be an ISO 8601 timestamp with a UTC "
                  f"offset (e.g. 2026-03-01T14:05:00+01:00), not {c.doc.get(*path)!s}")
        else:
            stamps[name] = stamp
    previous: str | None = None
    for name in TIMELINE:
        if name not in stamps:
            continue
        if previous and stamps[name] < stamps[previous]:
            c.add(ERROR, "timeline-order", ("timeline", name), f"timeline.{name} ({stamps[name].isoformat()}) is "
                  f"before timeline.{previous} ({stamps[previous].isoformat()})")
        previous = name
    if "declared" in stamps and "resolved" in stamps and stamps["resolved"] < stamps["declared"]:
        c.add(ERROR, "timeline-order", ("timeline", "declared"), "timeline.declared is after timeline.resolved")
    return stamps


def _duration(c: _Checker, stamps: dict[str, datetime]) -> None:
    minutes, end = c.doc.get("impact", "duration_minutes"), stamps.get("mitigated", stamps.get("resolved"))
    numeric = isinstance(minutes, int | float) and not isinstance(minutes, bool)
    if not numeric or end is None or "impact_started" not in stamps:
        return
    expected = (end - stamps["impact_started"]) / timedelta(minutes=1)
    if abs(minutes - expected) > 1:
        c.add(ERROR, "inconsistent-duration", ("impact", "duration_minutes"), f"impact.duration_minutes is "
              f"{minutes:g} but the timeline says {expected:g} (impact_started to mitigated, else resolved)")


def _factors(c: _Checker) -> None:
    factors = c.doc.get("contributing_factors")
    if not c.present(("contributing_factors",)):
        return
    if not isinstance(factors, list):
        c.add(ERROR, "invalid-value", ("contributing_factors",), "contributing_factors must be a list")
        return
    for index, factor in enumerate(factors):
        if factor not in c.factors:
            c.add(ERROR, "unknown-factor", ("contributing_factors", index),
                  f"unknown contributing factor {factor!r}; known: {', '.join(c.factors)}")


def _action_item(c: _Checker, index: int, item: Any, seen: set[str]) -> None:
    path = ("action_items", index)
    if not isinstance(item, dict):
        c.add(ERROR, "action-item", path, f"action item {index + 1} must be a mapping", index)
        return
    label = f"action item {item.get('id') or index + 1}"
    for name in ("description", "owner_team", "due", "type", "status"):
        if is_empty(item.get(name)):
            c.add(ERROR, "action-item", path, f"{label} has no {name}", index)
    checks = (("type", item.get("type") in ACTION_TYPES, ", ".join(ACTION_TYPES)),
              ("status", item.get("status") in ACTION_STATUSES, ", ".join(ACTION_STATUSES)),
              ("due", as_date(item.get("due")) is not None, "a date (YYYY-MM-DD)"),
              ("completed", as_date(item.get("completed")) is not None, "a date (YYYY-MM-DD)"))
    for name, ok, expected in checks:
        if not is_empty(item.get(name)) and not ok:
            c.add(ERROR, "action-item", (*path, name), f"{label}: {name} must be {expected}, not {item[name]!s}",
                  index)
    item_id = str(item.get("id") or f"AI-{index + 1:02d}")
    if item_id in seen:
        c.add(ERROR, "action-item", path, f"{label}: the id {item_id} is repeated", index)
    seen.add(item_id)


def _action_items(c: _Checker) -> None:
    items = c.doc.get("action_items")
    if is_empty(items):
        c.add(WARNING, "no-action-items", ("action_items",), "no action items")
        return
    if not isinstance(items, list):
        c.add(ERROR, "invalid-value", ("action_items",), "action_items must be a list")
        return
    seen: set[str] = set()
    for index, item in enumerate(items):
        _action_item(c, index, item, seen)


def _lessons(c: _Checker) -> None:
    for name in _LESSONS:
        value = c.doc.get(name)
        if c.present((name,), WARNING) and not (isinstance(value, str) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value))):
            c.add(ERROR, "invalid-value", (name,), f"{name} must be a list of sentences")
    if not c.doc.body.strip():
        c.issues.append(PostmortemIssue(WARNING, "empty-body", c.doc.file, c.doc.body_line,
                                        "no narrative after the front matter", c.doc.incident_id))


def validate(doc: Postmortem, factors: Sequence[str] = DEFAULT_FACTORS) -> list[PostmortemIssue]:
    """Every issue of one parsed postmortem, in file order (ERRORs and WARNINGs)."""
    if doc.front is None:
        line = doc.error.line if doc.error and doc.error.line else 1
        message = doc.error.message if doc.error else "no front matter"
        return [PostmortemIssue(ERROR, "front-matter", doc.file, line, message, None)]
    checker = _Checker(doc, factors)
    _identity(checker)
    _impact(checker)
    _duration(checker, _timeline(checker))
    _factors(checker)
    _action_items(checker)
    _lessons(checker)
    return sorted(checker.issues, key=lambda i: i.line)
