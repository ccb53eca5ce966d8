"""PagerDuty REST API v2 -> `incidents`.

Documents read (recorded files or live pages, in any order and mix):

- `GET /incidents` pages: `{"incidents": [...], "limit", "offset", "more", "total"}`;
- `GET /incidents/{id}/log_entries` pages: `{"log_entries": [...]}`, each entry naming its incident in
  `incident.id`;
- an export: `{"incidents": [...]}` whose incidents carry their own `log_entries` list.

One row per incident (`incidents[]` item), in its page's order:

- `incident_id` = `pagerduty:<id>`; `title`; `service` = `service.summary`; `team` = the first of
  `teams[].summary`;
- `severity` = `priority.summary` (P1..P5) through `incidents.severity_map`; an incident without a
  priority (accounts without priorities) uses its `urgency` (high, low) through the same map; a name the
  map lacks is refused, never guessed;
- `declared_at` = `created_at` (the trigger);
- `acknowledged_at` = the earliest `acknowledge_log_entry`, `resolved_at` = the latest
  `resolve_log_entry` (their `created_at`). With no log entry known for the incident,
  `resolved_at` = `last_status_change_at` when `status` is `resolved`, and there is no acknowledgement
  time (`acknowledged_at` stays empty). A log entry with an unreadable time refuses the incident.
- `mitigated_at`, `impact_started_at`, `detected_at` stay empty: PagerDuty does not record them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from ...settings import IncidentSettings
from ..severity import severity_level, unknown_severity_reason
from .common import Converted, Options, Page, get_json, items, parse_utc, refuse, utc

__all__ = ["DATASET", "DEFAULT_URL", "convert", "fetch"]

DATASET = "incidents"
DEFAULT_URL = "https://api.pagerduty.com"
_ACK, _RESOLVE = "acknowledge_log_entry", "resolve_log_entry"


def _summary(ref: Any) -> str | None:
    return ref.get("summary") if isinstance(ref, dict) else None


def _entry_time(entries: list[dict], kind: str, latest: bool) -> Any:
    """Created time of the earliest (latest) entry of `kind`; an unreadable time is returned as it is."""
    times = [e.get("created_at") for e in entries if e.get("type") == kind]
    unreadable = [t for t in times if parse_utc(t) is None]
    if unreadable:
        return unreadable[0] if unreadable[0] is not None else refuse(f"{kind} without created_at")
    parsed = sorted(parse_utc(t) for t in times)
    if not parsed:
        return None
    return (parsed[-1] if latest else parsed[0]).isoformat()  # type: ignore[union-attr]


def _severity(incident: dict, settings: IncidentSettings) -> int | str:
    name = _summary(incident.get("priority")) or incident.get("urgency")
    level = severity_level(name, settings.severity_map)
    return level if level is not None else refuse(unknown_severity_reason(name))


def _row(incident: dict, entries: list[dict] | None, settings: IncidentSettings) -> dict:
    teams = [_summary(t) for t in incident.get("teams") or [] if _summary(t)]
    if not entries:  # no log entries known: the status change is all there is
        acknowledged = None
        resolved = incident.get("last_status_change_at") if incident.get("status") == "resolved" else None
    else:
        acknowledged, resolved = _entry_time(entries, _ACK, False), _entry_time(entries, _RESOLVE, True)
    return {
        "incident_id": f"pagerduty:{incident['id']}" if incident.get("id") else None,
        "title": incident.get("title"),
        "service": _summary(incident.get("service")),
        "team": teams[0] if teams else None,
        "severity": _severity(incident, settings),
        "declared_at": utc(incident.get("created_at")),
        "acknowledged_at": utc(acknowledged),
        "resolved_at": utc(resolved),
    }


def _log_entries(pages: Sequence[Page]) -> dict[str, list[dict]]:
    """Log entries by incident id, from log-entry pages and from incidents that embed theirs."""
    found: dict[str, list[dict]] = defaultdict(list)
    for page in pages:
        body = page.body
        if isinstance(body, dict) and "log_entries" in body:
            for entry in items(page, "log_entries", "a PagerDuty log entries page"):
                incident = entry.get("incident") if isinstance(entry, dict) else None
                if isinstance(incident, dict) and incident.get("id"):
                    found[incident["id"]].append(entry)
        elif isinstance(body, dict) and isinstance(body.get("incidents"), list):
            for incident in body["incidents"]:
                if isinstance(incident, dict) and incident.get("id") and "log_entries" in incident:
                    found[incident["id"]].extend(e for e in incident["log_entries"] or [] if isinstance(e, dict))
    return found


def convert(pages: Sequence[Page], settings: IncidentSettings, options: Options | None = None) -> list[Converted]:
    """One `Converted` per page holding incidents; log-entry pages only contribute times."""
    entries = _log_entries(pages)
    out = []
    for page in pages:
        if isinstance(page.body, dict) and "log_entries" in page.body:
            continue
        rows = [_row(i, entries.get(i.get("id")), settings) if isinstance(i, dict) else i
                for i in items(page, "incidents", "a PagerDuty GET /incidents page or export")]
        out.append(Converted(page.source, rows))
    return out


def _paged(url: str, path: str, key: str, headers: dict[str, str], limit: int) -> list[Page]:
    """Every page of a classic offset/limit/more list."""
    pages, offset = [], 0
    while True:
        page_url = f"{url}{path}?{urlencode({'limit': limit, 'offset': offset, 'time_zone': 'UTC'})}"
        if path == "/incidents":
            page_url += "&date_range=all"
        body, _ = get_json(page_url, headers)
        pages.append(Page(page_url, body))
        got = len(body.get(key) or []) if isinstance(body, dict) else 0
        if not (isinstance(body, dict) and body.get("more")) or not got:
            return pages
        offset += got


def fetch(token: str, url: str = DEFAULT_URL, options: Options | None = None) -> list[Page]:
    """All incidents (`date_range=all`) and each incident's log entries, following `more`."""
    limit = (options or Options()).page_size
    headers = {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"}
    base = url.rstrip("/")
    pages = _paged(base, "/incidents", "incidents", headers, limit)
    listed = [i for p in pages if isinstance(p.body, dict) for i in p.body.get("incidents") or []]
    ids = [i["id"] for i in listed if isinstance(i, dict) and i.get("id")]
    for incident_id in ids:
        pages += _paged(base, f"/incidents/{quote(str(incident_id), safe='')}/log_entries", "log_entries",
                        headers, limit)
    return pages
