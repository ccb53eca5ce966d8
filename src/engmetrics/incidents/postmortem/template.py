"""`postmortem new`: a postmortem pre-filled from the incident's row in `incidents`.

Pre-filled: incident_id, title, service, team, severity, confidentiality (default `internal`), summary,
detection_source, the timeline (impact_started_at, detected_at, declared_at, acknowledged_at,
mitigated_at, resolved_at, in UTC with offset `+00:00`) and impact.duration_minutes (mitigated, else
resolved, minus impact started, rounded to the minute). Everything else is left for the authors. The
template is `engmetrics/templates/postmortem/postmortem.md.j2`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ...errors import InputError
from ...store import Store
from .model import DEFAULT_FACTORS

__all__ = ["fetch_incident", "render_postmortem", "write_postmortem"]

_TIMELINE_COLUMNS = {"impact_started": "impact_started_at", "detected": "detected_at", "declared": "declared_at",
                     "acknowledged": "acknowledged_at", "mitigated": "mitigated_at", "resolved": "resolved_at"}


def _yaml(value: Any) -> str:
    """A YAML scalar: empty for None, ISO text for timestamps, JSON-quoted (valid YAML) for text.

    >>> _yaml(None), _yaml(2), _yaml('a: "b"')
    ('', '2', '"a: \\\\"b\\\\""')
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _environment() -> jinja2.Environment:
    folder = Path(str(resources.files("engmetrics") / "templates" / "postmortem"))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=False, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["yaml"] = _yaml
    return env


def _minutes(incident: Mapping[str, Any]) -> int | None:
    start, end = incident.get("impact_started_at"), incident.get("mitigated_at") or incident.get("resolved_at")
    return round((end - start).total_seconds() / 60) if start and end else None


def render_postmortem(incident: Mapping[str, Any], factors: Sequence[str] = DEFAULT_FACTORS) -> str:
    """The template filled from an `incidents` row (a mapping of column to value; absent ones stay empty).

    >>> text = render_postmortem({"incident_id": "INC-7", "title": "Search: slow", "severity": 2})
    >>> 'title: "Search: slow"' in text and "severity: 2 " in text
    True
    """
    values = {name: incident.get(column) for name, column in _TIMELINE_COLUMNS.items()}
    values |= {name: incident.get(name) for name in ("incident_id", "title", "service", "team", "severity",
                                                      "summary", "detection_source")}
    values |= {"confidentiality": incident.get("confidentiality") or "internal",
               "duration_minutes": _minutes(incident), "factors": list(factors)}
    return _environment().get_template("postmortem.md.j2").render(values)


def fetch_incident(store: Store, incident_id: str) -> dict[str, Any]:
    """The incident's row (one key lookup), or InputError when it is not in `incidents`."""
    t = store.table("incidents")
    rows = t.filter(t.incident_id == incident_id).limit(1).to_pyarrow().to_pylist()
    if not rows:
        raise InputError(f"unknown incident {incident_id!r}: it is not in the incidents dataset (ingest it first)")
    return rows[0]


def write_postmortem(store: Store, incident_id: str, folder: Path, *, force: bool = False,
                     factors: Sequence[str] = DEFAULT_FACTORS) -> Path:
    """Write `folder/<incident_id>.md` pre-filled from the store; refuses to overwrite unless `force`."""
    if not incident_id or Path(incident_id).name != incident_id:
        raise InputError(f"the incident id {incident_id!r} cannot be a file name")
    path = folder / f"{incident_id}.md"
    if path.exists() and not force:
        raise InputError("the postmortem exists already (use --force to overwrite it)", file=path)
    text = render_postmortem(fetch_incident(store, incident_id), factors)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
