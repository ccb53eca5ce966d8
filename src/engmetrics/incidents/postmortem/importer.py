"""`postmortem import DIR`: validate every `*.md` postmortem of a folder and load the valid ones.

Files with an ERROR are reported and not loaded; the others are written as JSON Lines and loaded with
the normal ingestion (`ingest_files`), so the accounting (read = inserted + updated + unchanged +
quarantined) and the quarantine hold, once per dataset:

- `incidents`: the timeline (impact_started_at, detected_at, declared_at, acknowledged_at, mitigated_at,
  resolved_at) is the postmortem's where it gives a value, else the stored one. The other columns keep
  their stored values; where a column is empty (or the incident is new) the postmortem fills it (service,
  team, severity, title, summary, detection_source, users_affected, contributing_factors,
  confidentiality). A new incident's declared_at is timeline.declared, else detected.
- `action_items`: one row per listed item; item_id is the item's `id`, else `AI-<n>` (position, from 01).
  created_at is the item's `created`, else the day of timeline.resolved; dates are 00:00 UTC. Items
  removed from a postmortem stay in the dataset (ingestion only upserts).
- `postmortems`: one row per file (see the dataset's columns); `imported_at` is kept while the file's
  text (content_sha256) is unchanged, so re-importing the same files leaves every dataset unchanged.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...ingest import IngestResult, ingest_files
from ...store import Store
from .completeness import score
from .model import DEFAULT_FACTORS, Postmortem, parse_file
from .validate import PostmortemIssue, as_date, as_timestamp, has_errors, validate

__all__ = ["FileOutcome", "ImportResult", "import_postmortems", "load_folder"]

_TIMELINE = {"impact_started": "impact_started_at", "detected": "detected_at", "declared": "declared_at",
             "acknowledged": "acknowledged_at", "mitigated": "mitigated_at", "resolved": "resolved_at"}


@dataclass
class FileOutcome:
    """One file: imported or rejected, its counts of issues and its completeness score."""

    file: str
    incident: str | None
    imported: bool
    errors: int
    warnings: int
    completeness: float

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "incident": self.incident, "status": "imported" if self.imported else "rejected",
                "errors": self.errors, "warnings": self.warnings, "completeness": self.completeness}


@dataclass
class ImportResult:
    """Every file's outcome, every issue, and the ingestion accounting per dataset."""

    files: list[FileOutcome] = field(default_factory=list)
    issues: list[PostmortemIssue] = field(default_factory=list)
    ingests: dict[str, IngestResult] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(not f.imported for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {"files": [f.as_dict() for f in self.files], "issues": [i.as_dict() for i in self.issues],
                "ingests": {name: r.as_dict() for name, r in self.ingests.items()}}


def load_folder(folder: Path, factors: Sequence[str] = DEFAULT_FACTORS
                ) -> list[tuple[Postmortem, list[PostmortemIssue]]]:
    """Every `*.md` file of `folder` (sorted by name), parsed and validated."""
    if not folder.is_dir():
        raise InputError("not a folder of postmortems", file=folder)
    docs = [parse_file(path) for path in sorted(folder.glob("*.md"))]
    return [(doc, validate(doc, factors)) for doc in docs]


def _midnight(value: Any) -> datetime | None:
    day = as_date(value)
    return datetime.combine(day, time(), UTC) if day else None


def _lines(value: Any) -> str | None:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value) or None
    return value or None


def _existing(store: Store, dataset: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Stored rows of `dataset` for these incident ids (a key lookup of the files being imported)."""
    t = store.table(dataset)
    return {row["incident_id"]: row for row in t.filter(t.incident_id.isin(ids)).to_pyarrow().to_pylist()}


def _incident_row(doc: Postmortem, stored: dict[str, Any] | None) -> dict[str, Any]:
    row = dict(stored or {"incident_id": doc.incident_id})
    for name, column in _TIMELINE.items():
        stamp = as_timestamp(doc.get("timeline", name))
        row[column] = stamp or row.get(column)
    row["declared_at"] = row.get("declared_at") or row.get("detected_at")
    fill = {"service": doc.get("service"), "team": doc.get("team"), "severity": doc.get("severity"),
            "title": doc.get("title"), "summary": doc.get("summary"), "detection_source": doc.get("detection_source"),
            "users_affected": doc.get("impact", "users_affected"),
            "contributing_factors": doc.get("contributing_factors"), "confidentiality": doc.get("confidentiality")}
    for column, value in fill.items():
        if row.get(column) in (None, []):
            row[column] = value
    return row


def _action_rows(doc: Postmortem) -> list[dict[str, Any]]:
    resolved = _midnight(as_timestamp(doc.get("timeline", "resolved")))
    return [{"incident_id": doc.incident_id, "item_id": str(item.get("id") or f"AI-{n:02d}"), "type": item["type"],
             "owner_team": item["owner_team"], "created_at": _midnight(item.get("created")) or resolved,
             "due_at": _midnight(item["due"]), "completed_at": _midnight(item.get("completed")),
             "status": item["status"]} for n, item in enumerate(doc.get("action_items") or [], start=1)]


def _postmortem_row(doc: Postmortem, completeness: float, stored: dict[str, Any] | None, now: datetime) -> dict:
    sha = hashlib.sha256(Path(doc.file).read_bytes()).hexdigest()
    imported_at = stored["imported_at"] if stored and stored["content_sha256"] == sha else now
    return {"incident_id": doc.incident_id, "file": doc.file, "team": doc.get("team"), "summary": doc.get("summary"),
            "users_affected": doc.get("impact", "users_affected"),
            "duration_minutes": doc.get("impact", "duration_minutes"),
            "slo_budget_consumed": doc.get("impact", "slo_budget_consumed"),
            "detection_source": doc.get("detection_source"), "trigger": doc.get("trigger"),
            "resolution": doc.get("resolution"), "contributing_factors": doc.get("contributing_factors"),
            "went_well": _lines(doc.get("went_well")), "went_wrong": _lines(doc.get("went_wrong")),
            "got_lucky": _lines(doc.get("got_lucky")), "confidentiality": doc.get("confidentiality"),
            "authors": doc.get("authors"), "action_items": len(doc.get("action_items") or []),
            "completeness": completeness, "content_sha256": sha, "imported_at": imported_at}


def _json(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _ingest(store: Store, dataset: str, rows: list[dict[str, Any]], folder: Path, tmp: Path) -> IngestResult:
    path = tmp / f"{dataset}.jsonl"
    path.write_text("".join(json.dumps(r, default=_json) + "\n" for r in rows), encoding="utf-8")
    return ingest_files(store, dataset, [path], fmt="jsonl", names=[f"{folder} (postmortems as {dataset})"])


def import_postmortems(store: Store, folder: Path, factors: Sequence[str] = DEFAULT_FACTORS, *,
                       now: datetime | None = None) -> ImportResult:
    """Validate the postmortems of `folder` and load the valid ones into incidents, action_items and
    postmortems (see the module doc)."""
    result = ImportResult()
    valid: list[tuple[Postmortem, float]] = []
    for doc, issues in load_folder(folder, factors):
        completeness = score(doc, issues)
        ok = not has_errors(issues)
        errors = sum(i.level == "ERROR" for i in issues)
        result.files.append(FileOutcome(doc.file, doc.incident_id, ok, errors, len(issues) - errors, completeness))
        result.issues.extend(issues)
        if ok:
            valid.append((doc, completeness))
    if not valid:
        return result
    ids = [str(doc.incident_id) for doc, _ in valid]
    incidents, postmortems = _existing(store, "incidents", ids), _existing(store, "postmortems", ids)
    stamp = now or datetime.now(UTC)
    rows = {
        "incidents": [_incident_row(doc, incidents.get(doc.incident_id)) for doc, _ in valid],
        "action_items": [row for doc, _ in valid for row in _action_rows(doc)],
        "postmortems": [_postmortem_row(doc, c, postmortems.get(doc.incident_id), stamp) for doc, c in valid],
    }
    with tempfile.TemporaryDirectory(prefix="engmetrics-postmortems-") as tmp:
        for dataset, records in rows.items():
            if records:
                result.ingests[dataset] = _ingest(store, dataset, records, folder, Path(tmp))
    return result
