"""What every vendor connector shares: pages of vendor JSON, conversion results, timestamps, HTTP, loading.

A connector turns vendor JSON documents (`Page`: a recorded file or one page of a live API response)
into one `Converted` per document: one row per vendor item, in the document's order. The rows go
through the normal ingestion (`engmetrics.ingest.ingest_files`) as JSON Lines, one temporary file per
document, named after the document (its path or URL), so the quarantine shows `source_file` = that
document and `line` = the item's 1-based position in it. Accounting is the engine's:
`read = inserted + updated + unchanged + quarantined`, one read per vendor item.

How a vendor-level problem reaches the quarantine with its reason: a connector that cannot trust an
item (an unknown severity, a declined incident) puts a `Refusal` (`refuse(reason)`) in the column the
problem concerns; `load` writes such a row with the JSON Lines key `_reason` = `<column>: <reason>`, which
the ingestion quarantines as given, e.g. `severity: unknown severity 'SEV-9' (add it to
incidents.severity_map)`. Problems the dataset's own validation sees (a missing id, an unparseable
timestamp, resolved before declared) pass through unchanged and are quarantined with the validation's
reason. An item that is not a JSON object is written as it is and quarantined as `not a JSON object`.

>>> utc("2026-03-02T11:07:00+01:00")
'2026-03-02T10:07:00+00:00'
>>> utc("yesterday")  # left as it is: the ingest refuses it with the column's reason
'yesterday'
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...ingest import IngestResult, ingest_files
from ...ingest.sources import REASON_KEY
from ...store import Store

__all__ = ["Converted", "Options", "Page", "Refusal", "get_json", "items", "load", "parse_utc", "read_pages",
           "refuse", "utc", "utc_plus_ms"]



@dataclass(frozen=True)
class Refusal:
    """Why an item cannot be trusted, standing in for the value of the column it concerns."""

    reason: str


@dataclass(frozen=True)
class Page:
    """One vendor JSON document: where it came from (file path or URL) and its decoded body."""

    source: str
    body: Any


@dataclass
class Converted:
    """The rows of one document, one per vendor item in order: a dict, or the item itself if it is not one."""

    source: str
    rows: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    """Vendor-specific choices: GitHub repository and label, incident.io timestamp names, live page size."""

    repo: str | None = None
    label: str = "incident"
    timestamp_names: Mapping[str, str] = field(default_factory=dict)
    page_size: int = 100


def refuse(reason: str) -> Refusal:
    """A stand-in value that sends the item to the quarantine with `reason` (see the module docstring)."""
    return Refusal(reason)


def _jsonable(row: Any) -> Any:
    """A row as written to JSON Lines: refused columns emptied and named, with their reasons, in `_reason`."""
    if not isinstance(row, dict):
        return row
    refused = {column: value.reason for column, value in row.items() if isinstance(value, Refusal)}
    if not refused:
        return row
    kept = {column: None if column in refused else value for column, value in row.items()}
    return {**kept, REASON_KEY: "; ".join(f"{column}: {reason}" for column, reason in refused.items())}


def parse_utc(value: Any) -> datetime | None:
    """An ISO-8601 text with a UTC offset as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def utc(value: Any) -> Any:
    """An ISO-8601 timestamp normalised to UTC; None for a missing value; anything unreadable (or
    without an offset) unchanged, for the ingest to refuse with the column's reason (or `--assume-tz`)."""
    if value is None or value == "":
        return None
    parsed = parse_utc(value)
    return parsed.isoformat() if parsed else value


def utc_plus_ms(start: Any, milliseconds: Any) -> Any:
    """`start` plus an elapsed time in milliseconds, as UTC ISO text; None when either is missing.

    >>> utc_plus_ms("2026-03-02T10:00:00Z", 420000)
    '2026-03-02T10:07:00+00:00'
    """
    if milliseconds is None or start is None:
        return None
    begin = parse_utc(start)
    if begin is None:
        return None  # the start itself is refused by the ingest
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, int | float):
        return refuse(f"elapsed time {str(milliseconds)[:20]!r} is not milliseconds")
    return (begin + timedelta(milliseconds=milliseconds)).isoformat()


def read_pages(paths: Sequence[Path]) -> list[Page]:
    """The JSON documents in `paths` (recorded API responses or exports); InputError names a bad file."""
    pages = []
    for path in paths:
        if not path.is_file():
            raise InputError("no such file", file=path)
        try:
            body = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno, column=exc.colno) from None
        except UnicodeDecodeError:
            raise InputError("not a UTF-8 text file", file=path) from None
        pages.append(Page(str(path), body))
    return pages


def items(page: Page, key: str, what: str) -> list[Any]:
    """The list under `key` in `page`, or the page itself when it is a bare list; else an InputError."""
    body = page.body
    found = body.get(key) if isinstance(body, dict) else body
    if not isinstance(found, list):
        raise InputError(f"expected {what} (a JSON object with a {key!r} list)", file=page.source)
    return found


def get_json(url: str, headers: Mapping[str, str], timeout: float = 60) -> tuple[Any, Message]:
    """GET `url` (http or https) and decode its JSON body; returns (body, response headers)."""
    if not url.startswith(("https://", "http://")):
        raise InputError(f"--url must be an http(s) URL, got {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "engmetrics",
                                                   **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response), response.headers
    except urllib.error.HTTPError as exc:
        raise InputError(f"GET {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise InputError(f"GET {url}: {exc.reason}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"GET {url}: the response is not JSON ({exc})") from None


def load(store: Store, dataset: str, converted: Sequence[Converted], *, pseudonym_key: bytes | None = None,
         strict: bool = False, assume_tz: str | None = None) -> IngestResult:
    """Ingest the converted rows into `dataset` (one JSON Lines file per document, named after it)."""
    batches = [c for c in converted if c.rows]
    if not batches:
        return IngestResult(dataset, [c.source for c in converted])
    with tempfile.TemporaryDirectory(prefix="engmetrics-vendor-") as tmp:
        paths = []
        for index, batch in enumerate(batches):
            path = Path(tmp) / f"{index}.jsonl"
            path.write_text("".join(json.dumps(_jsonable(row)) + "\n" for row in batch.rows), encoding="utf-8")
            paths.append(path)
        return ingest_files(store, dataset, paths, fmt="jsonl", assume_tz=assume_tz, strict=strict,
                            pseudonym_key=pseudonym_key, names=[b.source for b in batches], reasons=True)
