"""incident.io API v2 -> `incidents`.

Documents read: `GET /v2/incidents` pages, `{"incidents": [...], "pagination_meta": {"after",
"page_size", "total_record_count"}}`. One row per `incidents[]` item:

- `incident_id` = `incidentio:<id>`; `title` = `name`; `summary` = `summary`;
- `severity` = `severity.name` through `incidents.severity_map` (a name the map lacks is refused);
- `declared_at` = `created_at`;
- `impact_started_at`, `detected_at`, `acknowledged_at`, `mitigated_at`, `resolved_at` from the
  incident's timestamps, by name (case-insensitive; `TIMESTAMP_NAMES` by default, each replaceable):
  either the documented `incident_timestamp_values[]` (`{"incident_timestamp": {"name"}, "value":
  {"value"}}`) or a flat `incident_timestamps[]` of `{"name", "value"}`; a timestamp without a value
  stays empty;
- `service` and `team` from the custom fields named in `FIELD_NAMES` (the first value: text, option or
  catalog entry name);
- an incident whose `incident_status.category` is `declined`, `merged` or `canceled` was never an
  incident: it is quarantined (`declared_at: ... "never declared (status category declined)"`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ...errors import InputError
from ...settings import IncidentSettings
from ..severity import severity_level, unknown_severity_reason
from .common import Converted, Options, Page, get_json, items, refuse, utc

__all__ = ["DATASET", "DEFAULT_URL", "FIELD_NAMES", "TIMESTAMP_NAMES", "convert", "fetch", "timestamp_names"]

DATASET = "incidents"
DEFAULT_URL = "https://api.incident.io"
TIMESTAMP_NAMES = {"impact_started_at": "Impact started", "detected_at": "Detected",
                   "acknowledged_at": "Acknowledged", "mitigated_at": "Mitigated", "resolved_at": "Resolved"}
FIELD_NAMES = {"service": ("service", "affected service", "affected services"), "team": ("team", "owning team")}
_NOT_INCIDENTS = ("declined", "merged", "canceled")


def timestamp_names(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """`TIMESTAMP_NAMES` with `overrides` (column -> incident.io timestamp name) applied.

    >>> timestamp_names({"mitigated_at": "Fixed"})["mitigated_at"]
    'Fixed'
    """
    names = dict(TIMESTAMP_NAMES)
    for column, name in (overrides or {}).items():
        if column not in TIMESTAMP_NAMES:
            raise InputError(f"--timestamp: unknown column {column!r}; one of {', '.join(TIMESTAMP_NAMES)}")
        names[column] = name
    return names


def _timestamps(incident: dict) -> dict[str, Any]:
    """Timestamp values by lower-cased name, from either documented shape."""
    found: dict[str, Any] = {}
    for entry in incident.get("incident_timestamp_values") or []:
        if isinstance(entry, dict) and isinstance(entry.get("incident_timestamp"), dict):
            value = entry.get("value")
            found[str(entry["incident_timestamp"].get("name", "")).lower()] = (
                value.get("value") if isinstance(value, dict) else value)
    for entry in incident.get("incident_timestamps") or []:
        if isinstance(entry, dict):
            value = entry.get("value")
            found[str(entry.get("name", "")).lower()] = value.get("value") if isinstance(value, dict) else value
    return found


def _field_value(entry: dict) -> Any:
    for value in entry.get("values") or []:
        if not isinstance(value, dict):
            continue
        option, catalog = value.get("value_option"), value.get("value_catalog_entry")
        for candidate in (value.get("value_text"), option and option.get("value"), catalog and catalog.get("name")):
            if candidate:
                return candidate
    return None


def _field(incident: dict, column: str) -> Any:
    for entry in incident.get("custom_field_entries") or []:
        field = entry.get("custom_field") if isinstance(entry, dict) else None
        if isinstance(field, dict) and str(field.get("name", "")).lower() in FIELD_NAMES[column]:
            return _field_value(entry)
    return None


def _row(incident: dict, settings: IncidentSettings, names: dict[str, str]) -> dict:
    severity = incident.get("severity")
    name = severity.get("name") if isinstance(severity, dict) else severity
    level = severity_level(name, settings.severity_map)
    status = incident.get("incident_status")
    category = status.get("category") if isinstance(status, dict) else None
    declared = utc(incident.get("created_at"))
    if category in _NOT_INCIDENTS:
        declared = refuse(f"never declared (status category {category})")
    stamps = _timestamps(incident)
    row = {
        "incident_id": f"incidentio:{incident['id']}" if incident.get("id") else None,
        "title": incident.get("name"), "summary": incident.get("summary"),
        "service": _field(incident, "service"), "team": _field(incident, "team"),
        "severity": level if level is not None else refuse(unknown_severity_reason(name)),
        "declared_at": declared,
    }
    row.update({column: utc(stamps.get(stamp.lower())) for column, stamp in names.items()})
    return row


def convert(pages: Sequence[Page], settings: IncidentSettings, options: Options | None = None) -> list[Converted]:
    """One `Converted` per page: a row per incident, in order."""
    names = timestamp_names((options or Options()).timestamp_names)
    return [Converted(p.source, [_row(i, settings, names) if isinstance(i, dict) else i
                                 for i in items(p, "incidents", "an incident.io GET /v2/incidents page")])
            for p in pages]


def fetch(token: str, url: str = DEFAULT_URL, options: Options | None = None) -> list[Page]:
    """All incidents, following `pagination_meta.after` until a page has none (or no incidents)."""
    size = min((options or Options()).page_size, 250)
    base = f"{url.rstrip('/')}/v2/incidents"
    pages, after = [], None
    while True:
        query = {"page_size": size} | ({"after": after} if after else {})
        page_url = f"{base}?{urlencode(query)}"
        body, _ = get_json(page_url, {"Authorization": f"Bearer {token}"})
        pages.append(Page(page_url, body))
        meta = body.get("pagination_meta") if isinstance(body, dict) else None
        after = meta.get("after") if isinstance(meta, dict) else None
        if not after or not body.get("incidents"):
            return pages
