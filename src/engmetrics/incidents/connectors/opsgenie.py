"""Opsgenie Alert API v2 -> `alerts`.

Documents read: `GET /v2/alerts` pages, `{"data": [...], "paging": {"next", "first", "last"}, "took",
"requestId"}` (a bare list of alerts is accepted too). One row per `data[]` item:

- `alert_id` = `opsgenie:<id>`; `rule` = `alias`, else the `message` with every run of digits replaced
  by `#` (its template: "disk 91% on db-7" and "disk 95% on db-2" are one rule); `source` = `source`;
- `service` = the value of a `service:X` (or `service=X`) tag; `team` = the first of `teams[]` (its
  `name`, else its `id`, which is all the list response gives);
- `urgency` = `high` when `priority` (P1-P5) maps to level 1 or 2 in `incidents.severity_map`, else
  `low`; a priority the map lacks is refused, never guessed;
- `fired_at` = `createdAt`; `acknowledged_at` = `createdAt` + `report.ackTime` and `resolved_at` =
  `createdAt` + `report.closeTime` (both elapsed milliseconds; resolved only for `status` closed);
- `responder` = `report.acknowledgedBy` (a person column: the ingest pseudonymises it);
- `auto_resolved` = closed without ever being acknowledged; `actionable` and `incident_id` stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from ...settings import IncidentSettings
from ..severity import severity_level, unknown_severity_reason
from .common import Converted, Options, Page, get_json, items, refuse, utc, utc_plus_ms

__all__ = ["DATASET", "DEFAULT_URL", "HIGH_URGENCY_LEVEL", "convert", "fetch", "rule_of"]

DATASET = "alerts"
DEFAULT_URL = "https://api.opsgenie.com"
HIGH_URGENCY_LEVEL = 2  # priorities mapping to this level or a more severe one page as high urgency
_SERVICE_TAG = re.compile(r"^service\s*[:=]\s*(?P<name>.+)$", re.IGNORECASE)


def rule_of(alert: dict) -> str | None:
    """The alert's rule: its alias, else its message template.

    >>> rule_of({"message": "disk 91% on db-7"})
    'disk #% on db-#'
    """
    if alert.get("alias"):
        return str(alert["alias"])
    message = alert.get("message")
    return re.sub(r"\d+", "#", str(message)) if message else None


def _urgency(priority: Any, settings: IncidentSettings) -> str:
    level = severity_level(priority, settings.severity_map)
    if level is None:
        return refuse(unknown_severity_reason(priority).replace("severity", "priority", 1))
    return "high" if level <= HIGH_URGENCY_LEVEL else "low"


def _service(tags: Any) -> str | None:
    for tag in tags or []:
        found = _SERVICE_TAG.match(str(tag))
        if found:
            return found["name"].strip()
    return None


def _team(teams: Any) -> str | None:
    for team in teams or []:
        if isinstance(team, dict) and (team.get("name") or team.get("id")):
            return team.get("name") or team.get("id")
    return None


def _row(alert: dict, settings: IncidentSettings) -> dict:
    report = alert.get("report") if isinstance(alert.get("report"), dict) else {}
    created, closed = alert.get("createdAt"), alert.get("status") == "closed"
    acknowledged = bool(alert.get("acknowledged")) or report.get("ackTime") is not None
    return {
        "alert_id": f"opsgenie:{alert['id']}" if alert.get("id") else None,
        "rule": rule_of(alert),
        "source": alert.get("source"),
        "service": _service(alert.get("tags")),
        "team": _team(alert.get("teams")),
        "urgency": _urgency(alert.get("priority"), settings),
        "fired_at": utc(created),
        "acknowledged_at": utc_plus_ms(created, report.get("ackTime")),
        "resolved_at": utc_plus_ms(created, report.get("closeTime")) if closed else None,
        "responder": report.get("acknowledgedBy"),
        "auto_resolved": closed and not acknowledged,
    }


def convert(pages: Sequence[Page], settings: IncidentSettings, options: Options | None = None) -> list[Converted]:
    """One `Converted` per page: a row per alert, in order."""
    return [Converted(p.source, [_row(a, settings) if isinstance(a, dict) else a
                                 for a in items(p, "data", "an Opsgenie GET /v2/alerts page")]) for p in pages]


def fetch(token: str, url: str = DEFAULT_URL, options: Options | None = None) -> list[Page]:
    """All alerts, oldest first, following `paging.next` (an absolute URL) until there is none."""
    limit = min((options or Options()).page_size, 100)
    query = urlencode({"limit": limit, "offset": 0, "sort": "createdAt", "order": "asc"})
    next_url: str | None = f"{url.rstrip('/')}/v2/alerts?{query}"
    pages = []
    while next_url:
        body, _ = get_json(next_url, {"Authorization": f"GenieKey {token}"})
        pages.append(Page(next_url, body))
        paging = body.get("paging") if isinstance(body, dict) else None
        data = body.get("data") if isinstance(body, dict) else None
        next_url = paging.get("next") if isinstance(paging, dict) and data else None
    return pages
