"""The engmetrics notification channel: alerts posted to webhooks as Slack-compatible JSON, each once per webhook.

Shared by every feature that alerts (cost budgets now, anomaly `watch` later). A feature builds
`Notification`s and calls `deliver(store, settings.notify, notifications)`.

**Webhooks** (`NotifySettings.webhooks`): each has a `name` (what logs, results and the dedup state show),
a URL given inline (`url`) or, better for a reviewed workspace, as the name of an environment variable that
holds it (`url_env`: a Slack incoming-webhook URL is a secret), and an optional `kinds` filter (empty: every
kind). Only `http` and `https` URLs are accepted.

**Payload**: `slack_payload(notification)`: `{"text": ..., "blocks": [...]}` with a header block (the
title), a section (the text, Slack mrkdwn), a section of up to 10 fields and a context line naming the kind
and the dedup key. `text` is the fallback Slack shows in notifications; other receivers (Mattermost, Rocket.Chat,
Teams workflows, a plain HTTP endpoint) read the same JSON.

**Delivery**: one POST per (notification, webhook), `Content-Type: application/json`, with a timeout per
attempt (`timeout_seconds`), and up to `max_attempts` attempts in all: a network error, a timeout, a malformed
answer (`http.client.HTTPException`: a bad status line, a cut-off body) or a URL the HTTP client refuses, HTTP
429 and HTTP 5xx are retried after `backoff_seconds x 2^(attempt - 1)`; any other status >= 300 is final. A 2xx
answer is a success. Whatever a receiver does, `deliver` does not raise: the delivery is `failed` and the
other webhooks and notifications are still tried.

**Once per key and webhook, at least once**: the store table `_notifications (key, channel, sent_at)` records
every successful delivery; a notification whose `key` is recorded for a webhook is skipped (`duplicate`), so a
recorded message is never sent again. The key names the alert and its period (e.g.
``budget:platform:2026-03-01:forecast:80``), so the same alert for the same period goes to each webhook once,
and again in the next period. A failed delivery records nothing and is retried on the next run. The POST comes
before the record, so delivery is at least once, not at most once: a crash between the two, or a receiver that
took the message but answered an error or too late, can repeat one message on the next run. Delivery is
sequential under the store's write lock, so two runs cannot both send.

**No secret in logs**: logs and results name the webhook, never its URL; error texts have the URL removed.

>>> slack_payload(Notification("budget", "k1", "Budget platform at 85 %", "Spent *850* of 1,000 USD."))["text"]
'Budget platform at 85 %: Spent *850* of 1,000 USD.'
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .settings import NotifySettings, Webhook
from .store import Store

__all__ = ["Delivery", "Notification", "deliver",
           "post_json", "slack_payload"]

log = logging.getLogger("engmetrics.notify")

_HEADER_MAX, _TEXT_MAX, _FIELD_MAX, _FIELDS_MAX = 150, 3000, 2000, 10  # Slack Block Kit limits


@dataclass(frozen=True)
class Notification:
    """One alert. `key` identifies the alert and its period (the dedup key); `text` is Slack mrkdwn."""

    kind: str
    key: str
    title: str
    text: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification at one webhook."""

    key: str
    channel: str
    status: Literal["sent", "duplicate", "failed"]
    attempts: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "channel": self.channel, "status": self.status, "attempts": self.attempts,
                "error": self.error}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(n: Notification) -> dict[str, Any]:
    """The Slack-compatible JSON of a notification (Block Kit; texts cut to Slack's limits).

    >>> p = slack_payload(Notification("budget", "k", "T", "body", {"actual": "850 USD"}))
    >>> [b["type"] for b in p["blocks"]], p["blocks"][2]["fields"][0]["text"]
    (['header', 'section', 'section', 'context'], '*actual*\\n850 USD')
    """
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(n.title, _HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(n.text, _TEXT_MAX)}},
    ]
    if n.fields:
        shown = list(n.fields.items())[:_FIELDS_MAX]
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{k}*\n{v}", _FIELD_MAX)} for k, v in shown]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"engmetrics {n.kind} · {n.key}"}]})
    return {"text": _cut(f"{n.title}: {n.text}", _TEXT_MAX), "blocks": blocks}


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


def _attempt(url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
    """(HTTP status or None for no answer, error text or None) of one POST."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "engmetrics"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError; ValueError: a bad host
        reason = getattr(exc, "reason", exc)
        return None, f"{type(reason).__name__}: {reason}".replace(url, "<url>")
    return status, None if 200 <= status < 300 else f"HTTP {status}"


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float, max_attempts: int,
              backoff: float) -> tuple[int, str | None]:
    """POST `payload` as JSON with bounded retries (module docstring); (attempts made, last error or None)."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    attempt = 1
    while True:
        status, error = _attempt(url, body, timeout)
        if error is None or not _retryable(status) or attempt == max_attempts:
            return attempt, error
        time.sleep(backoff * 2 ** (attempt - 1))
        attempt += 1


def _already_sent(store: Store, key: str, channel: str) -> bool:
    found = store.sql.execute("SELECT count(*) FROM _notifications WHERE key = ? AND channel = ?",
                              [key, channel]).fetchone()
    return bool(found and found[0])


def _deliver_one(store: Store, settings: NotifySettings, hook: Webhook, n: Notification, now: datetime) -> Delivery:
    if _already_sent(store, n.key, hook.name):
        return Delivery(n.key, hook.name, "duplicate")
    try:
        url = hook.resolve_url()
    except ValueError as exc:
        log.warning("notification %s to webhook %s not sent: %s", n.key, hook.name, exc)
        return Delivery(n.key, hook.name, "failed", 0, str(exc))
    attempts, error = post_json(url, slack_payload(n), timeout=settings.timeout_seconds,
                                max_attempts=settings.max_attempts, backoff=settings.backoff_seconds)
    if error is not None:
        log.warning("notification %s to webhook %s failed after %d attempts: %s", n.key, hook.name, attempts, error)
        return Delivery(n.key, hook.name, "failed", attempts, error)
    store.sql.execute("INSERT INTO _notifications (key, channel, sent_at) VALUES (?, ?, ?)", [n.key, hook.name, now])
    log.info("notification %s sent to webhook %s", n.key, hook.name)
    return Delivery(n.key, hook.name, "sent", attempts)


def deliver(store: Store, settings: NotifySettings, notifications: Sequence[Notification], *,
            now: datetime | None = None) -> list[Delivery]:
    """Send each notification to each webhook that wants its kind, once per (key, webhook) (module docstring).

    Needs the store open for writing (the dedup state). Returns one `Delivery` per (notification, webhook),
    in order; never raises for a receiver's failure (it is a `failed` delivery).
    """
    sent_at = now or datetime.now(UTC)
    return [_deliver_one(store, settings, hook, n, sent_at)
            for n in notifications for hook in settings.webhooks if hook.wants(n.kind)]
