"""GitHub issues labelled as incidents -> `incidents`.

Documents read: `GET /repos/{owner}/{repo}/issues?labels=incident&state=all` pages (a JSON list of
issues; the next page is in the `Link` header). One row per issue:

- `incident_id` = `github:<owner>/<repo>#<number>`, the repository taken from the issue's
  `repository_url`, else from `--repo`; `title`; `summary` = `body`;
- `severity` from the issue's severity labels, looked up in `incidents.severity_map`: a label
  `severity: X` (or `severity/X`, `severity=X`, and the same with `priority`) gives X; a label like
  `sev1`, `SEV-2`, `p1` (sev or p, then a number) is looked up as it is. No severity label, a label the
  map lacks, or labels giving different levels refuse the issue (never guessed);
- `service` and `team` from labels `service: X` and `team: X`;
- `declared_at` = `created_at`; `resolved_at` = `closed_at` (empty while open).

Pull requests come through the same endpoint (they carry a `pull_request` key) and are read like
issues: a pull request labelled as an incident is one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from ...errors import InputError
from ...settings import IncidentSettings
from ..severity import severity_level, unknown_severity_reason
from .common import Converted, Options, Page, get_json, items, refuse, utc

__all__ = ["DATASET", "DEFAULT_URL", "convert", "fetch", "next_link", "severity_labels"]

DATASET = "incidents"
DEFAULT_URL = "https://api.github.com"
_KEYED = re.compile(r"^(?P<key>severity|priority|service|team)\s*[:/=]\s*(?P<value>.+)$", re.IGNORECASE)
_SHORT = re.compile(r"^(sev|p)[\s_-]*\d+$", re.IGNORECASE)
_REPO = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/?$")
_NEXT = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="?next"?')


def severity_labels(labels: Sequence[str]) -> list[str]:
    """The severity names an issue's labels give, in label order.

    >>> severity_labels(["incident", "severity: High", "sev2", "team: payments"])
    ['High', 'sev2']
    """
    names = []
    for label in labels:
        keyed = _KEYED.match(label.strip())
        if keyed and keyed["key"].lower() in ("severity", "priority"):
            names.append(keyed["value"].strip())
        elif _SHORT.match(label.strip()):
            names.append(label.strip())
    return names


def _labelled(labels: Sequence[str], key: str) -> str | None:
    for label in labels:
        keyed = _KEYED.match(label.strip())
        if keyed and keyed["key"].lower() == key:
            return keyed["value"].strip()
    return None


def _severity(labels: Sequence[str], settings: IncidentSettings) -> int | str:
    names = severity_labels(labels)
    if not names:
        return refuse("no severity label (e.g. sev1 or severity: high)")
    levels = {n: severity_level(n, settings.severity_map) for n in names}
    unknown = [n for n, level in levels.items() if level is None]
    if unknown:
        return refuse(unknown_severity_reason(unknown[0]))
    if len(set(levels.values())) > 1:
        return refuse("conflicting severity labels " + ", ".join(names))
    return next(iter(levels.values()))  # type: ignore[return-value]


def _repo(issue: dict, options: Options) -> str | None:
    found = _REPO.search(str(issue.get("repository_url") or ""))
    return found["repo"] if found else options.repo


def _row(issue: dict, settings: IncidentSettings, options: Options, source: str) -> dict:
    labels = [str(lb.get("name")) if isinstance(lb, dict) else str(lb) for lb in issue.get("labels") or []]
    repo, number = _repo(issue, options), issue.get("number")
    if repo is None and number is not None:
        raise InputError("issues without repository_url: pass --repo owner/name", file=source)
    return {
        "incident_id": f"github:{repo}#{number}" if number is not None else None,
        "title": issue.get("title"), "summary": issue.get("body"),
        "service": _labelled(labels, "service"), "team": _labelled(labels, "team"),
        "severity": _severity(labels, settings),
        "declared_at": utc(issue.get("created_at")),
        "resolved_at": utc(issue.get("closed_at")),
    }


def convert(pages: Sequence[Page], settings: IncidentSettings, options: Options | None = None) -> list[Converted]:
    """One `Converted` per page: a row per issue, in order."""
    opts = options or Options()
    return [Converted(p.source, [_row(i, settings, opts, p.source) if isinstance(i, dict) else i
                                 for i in items(p, "issues", "a GitHub GET /repos/{owner}/{repo}/issues page")])
            for p in pages]


def next_link(header: str | None) -> str | None:
    """The `rel="next"` URL of a `Link` header.

    >>> next_link('<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"')
    'https://api.github.com/x?page=2'
    """
    for part in (header or "").split(","):
        found = _NEXT.search(part)
        if found:
            return found["url"]
    return None


def fetch(token: str, url: str = DEFAULT_URL, options: Options | None = None) -> list[Page]:
    """Every issue (open and closed) with the incident label, following the `Link` header."""
    opts = options or Options()
    if not opts.repo or not re.fullmatch(r"[^/\s]+/[^/\s]+", opts.repo):
        raise InputError("--repo owner/name is required to pull GitHub issues")
    query = urlencode({"labels": opts.label, "state": "all", "per_page": min(opts.page_size, 100)})
    next_url: str | None = f"{url.rstrip('/')}/repos/{quote(opts.repo)}/issues?{query}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28"}
    pages = []
    while next_url:
        body, response_headers = get_json(next_url, headers)
        pages.append(Page(next_url, body))
        next_url = next_link(response_headers.get("Link"))
    return pages
