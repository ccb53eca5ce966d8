"""Export bundles for legal discovery: what the metrics meant and showed over a period, in one zip.

The zip holds, in this order:

- `definitions.jsonl`: archive rows in force at any time in the period, with `effective_at`, and every
  archived indicator version a row of `values.jsonl` references (values for a date are often computed after
  it, with a version that took effect later);
- `values.jsonl`: `_metric_results` rows whose `as_of` falls in the period, with their definition version;
- `approvals.jsonl`: review-board decisions made in the period, and the approval rounds behind its values
  even when decided outside it: for each indicator version of `definitions.jsonl` the round in force when
  the period began, and for each version `values.jsonl` references the rounds in force while those values
  were computed (`evaluated_at`, often after the period). A round runs from the version's last proposal on;
- `holds.jsonl`: legal holds placed before the period ended (released ones too, with who and when);
- `audit.jsonl`: audit entries logged in the period;
- `manifest.json`: name, bytes and SHA-256 of every other file, the period, when and by whom the bundle was
  made, and the audit chain's head hash and `verify` verdict at export time (keep the head: `engmetrics
  audit verify --expect-head HASH` later proves no entry was removed since).

The period is the UTC days `from..to`, inclusive. Rows are sorted, JSON keys sorted, and the zip entries
carry the export time, so the same store and time give the same bytes. Exporting appends a `bundle.export`
audit entry holding the manifest's SHA-256.

>>> import tempfile, pathlib, zipfile
>>> from datetime import date
>>> from engmetrics.store import Store
>>> out = pathlib.Path(tempfile.mkdtemp()) / "b.zip"
>>> bundle = export_bundle(Store.open("duckdb://"), date(2026, 3, 1), date(2026, 3, 31), out, actor="legal")
>>> zipfile.ZipFile(out).namelist()
['definitions.jsonl', 'values.jsonl', 'approvals.jsonl', 'holds.jsonl', 'audit.jsonl', 'manifest.json']
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..jsonio import encode
from ..timeutil import as_utc
from . import audit
from .archive import ArchivedDefinition, end_of_day, in_force_during, result_definitions
from .board import approval_version
from .holds import list_holds

__all__ = ["FILES", "Bundle", "export_bundle"]

FILES = ("definitions.jsonl", "values.jsonl", "approvals.jsonl", "holds.jsonl", "audit.jsonl")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Bundle:
    """A written bundle: where, its manifest, and the SHA-256 of the manifest's bytes."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "manifest_sha256": self.manifest_sha256, **self.manifest}


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=encode, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
                   for r in rows).encode()


def _dicts(store: Any, query: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = store.sql.execute(query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _definitions(store: Any, start: date, end: date) -> list[ArchivedDefinition]:
    """Rows in force during the period plus the indicator versions its values reference, each once."""
    rows = {(r.kind, r.id, r.effective_at): r for r in [*in_force_during(store, start, end),
                                                        *result_definitions(store, start, end)]}
    return [rows[key] for key in sorted(rows)]


def _approvals(store: Any, definitions: list[ArchivedDefinition], values: list[dict[str, Any]], begin: datetime,
               stop: datetime) -> list[dict[str, Any]]:
    """Decisions made in `begin..stop`, plus the approval rounds the values depend on: for every indicator
    version of `definitions`, the round in force at `begin`; for every version the values reference, the
    rounds in force from the first to the last `evaluated_at` of its values. A round runs from the version's
    last proposal on; decisions name the approval version (`board.approval_version`), the definition version
    is matched too."""
    from ..catalog.model import Indicator

    content = {(d.id, d.version): d.content for d in definitions if d.kind == "indicator" and d.content is not None}

    def keys(metric: str, version: str) -> set[tuple[str, str]]:
        found = content.get((metric, version))
        return {(metric, version)} | ({(metric, approval_version(Indicator.model_validate(found)))} if found else set())

    spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for row in values:
        pair, when = (row["metric"], row["definition_version"]), row["evaluated_at"]
        low, high = spans.get(pair, (when, when))
        spans[pair] = (min(low, when), max(high, when))
    windows = [(key, begin, begin) for pair in content for key in keys(*pair)]
    windows += [(key, low, high) for pair, (low, high) in spans.items() for key in keys(*pair)]
    decided = _dicts(store, "SELECT * FROM _board_decisions ORDER BY decided_at, metric, actor", [])
    proposals: dict[tuple[str, str], list[datetime]] = {}
    for d in decided:
        if d["action"] == "propose":
            proposals.setdefault((d["metric"], d["version"]), []).append(d["decided_at"])
    ranges: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for key, low, high in windows:  # a round in force at `low` began at the last proposal up to it
        start = max((t for t in proposals.get(key, []) if t <= low), default=low)
        ranges.setdefault(key, []).append((start, high))
    return [d for d in decided if begin <= d["decided_at"] < stop or any(
        start <= d["decided_at"] <= high for start, high in ranges.get((d["metric"], d["version"]), []))]


def _contents(store: Any, start: date, end: date) -> dict[str, list[dict[str, Any]]]:
    begin, stop = end_of_day(start - timedelta(days=1)), end_of_day(end)
    definitions = _definitions(store, start, end)
    values = _dicts(store, 'SELECT * FROM _metric_results WHERE as_of BETWEEN ? AND ? ORDER BY as_of, metric, '
                    '"group" NULLS FIRST, definition_version, evaluated_at', [start, end])
    return {
        "definitions.jsonl": [d.to_dict() for d in definitions],
        "values.jsonl": values,
        "approvals.jsonl": _approvals(store, definitions, values, begin, stop),
        "holds.jsonl": [h.to_dict() for h in list_holds(store, include_released=True) if h.created_at < stop],
        "audit.jsonl": [e.to_dict() for e in audit.entries(store, since=begin, until=stop)],
    }


def _write_zip(path: Path, files: list[tuple[str, bytes]], stamp: datetime) -> None:
    """Write atomically: a temporary file beside `path`, renamed when complete."""
    tmp = path.with_name(f".{path.name}.partial")
    when = stamp.timetuple()[:6]
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files:
                info = zipfile.ZipInfo(name, date_time=max(when, (1980, 1, 1, 0, 0, 0)))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_bundle(store: Any, start: date, end: date, out: Path, *, actor: str,
                  at: datetime | None = None) -> Bundle:
    """Write the bundle of the days `start..end` to `out` (a .zip) and append a `bundle.export` entry."""
    if end < start:
        raise InputError(f"the bundle's --to ({end}) is before its --from ({start})")
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: the directory {out.parent} does not exist")
    stamp = as_utc(at) if at is not None else datetime.now(UTC)
    files = [(name, _jsonl(rows)) for name, rows in _contents(store, start, end).items()]
    verdict = audit.verify(store)
    manifest = {
        "format": "engmetrics-bundle/1",
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "created_at": stamp.isoformat(), "created_by": actor,
        "files": [{"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "rows": data.count(b"\n")} for name, data in files],
        "audit": {"head": verdict.head, "head_seq": verdict.head_seq, "entries": verdict.entries,
                  "verified": verdict.ok, "first_bad": verdict.first_bad, "problem": verdict.problem},
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    _write_zip(out, [*files, (MANIFEST, manifest_bytes)], stamp)
    audit.append(store, actor, "bundle.export", out.name, at=stamp,
                 details={"from": start, "to": end, "manifest_sha256": digest,
                          "rows": {f["name"]: f["rows"] for f in manifest["files"]}})
    return Bundle(out, manifest, digest)
