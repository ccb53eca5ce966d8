"""The notification channel against a real local HTTP server that records what it receives (no mocks)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from engmetrics.notify import Notification, deliver, post_json, slack_payload
from engmetrics.settings import NotifySettings, Webhook

NOW = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
ALERT = Notification("budget", "budget:platform:2026-03-01:forecast:80", "Budget platform: forecast 120 %",
                     "Forecast *1,200* of 1,000 USD by 2026-03-31.", {"actual": "120 USD", "forecast": "1,200 USD"})


@dataclass
class Receiver:
    """A local webhook: records (path, headers, JSON body) and answers the queued statuses, then 200."""

    url: str
    requests: list[tuple[str, dict[str, str], dict]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec.requests.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(rec.statuses.pop(0) if rec.statuses else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def garbler() -> Iterator[str]:
    """A local server that reads the POST and answers a malformed status line (no `HTTP/1.x NNN`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.wfile.write(b"NOT-HTTP garbage\r\n\r\n")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token"
    server.shutdown()
    server.server_close()


def settings(*hooks: Webhook, attempts: int = 3) -> NotifySettings:
    return NotifySettings(webhooks=list(hooks), timeout_seconds=2, max_attempts=attempts, backoff_seconds=0)


def test_the_webhook_receives_the_slack_payload_exactly_once(store, receiver):
    config = settings(Webhook(name="ops", url=receiver.url))
    first = deliver(store, config, [ALERT], now=NOW)
    second = deliver(store, config, [ALERT], now=NOW)
    assert [d.status for d in first] == ["sent"]
    assert [(d.status, d.attempts) for d in second] == [("duplicate", 0)]
    assert len(receiver.requests) == 1
    path, headers, body = receiver.requests[0]
    assert path == "/services/T000/B000/secret-token"
    assert headers["Content-Type"] == "application/json"
    assert body == slack_payload(ALERT)
    assert body["text"] == "Budget platform: forecast 120 %: Forecast *1,200* of 1,000 USD by 2026-03-31."
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": ALERT.title}}
    assert body["blocks"][2]["fields"] == [{"type": "mrkdwn", "text": "*actual*\n120 USD"},
                                           {"type": "mrkdwn", "text": "*forecast*\n1,200 USD"}]
    assert store.sql.execute("SELECT key, channel, sent_at FROM _notifications").fetchall() == [
        (ALERT.key, "ops", NOW)]


def test_the_same_alert_in_another_period_is_sent_again(store, receiver):
    config = settings(Webhook(name="ops", url=receiver.url))
    april = Notification("budget", "budget:platform:2026-04-01:forecast:80", ALERT.title, ALERT.text)
    deliver(store, config, [ALERT], now=NOW)
    assert [d.status for d in deliver(store, config, [ALERT, april], now=NOW)] == ["duplicate", "sent"]
    assert len(receiver.requests) == 2


def test_kinds_filter_and_one_delivery_per_webhook(store, receiver):
    config = settings(Webhook(name="all", url=receiver.url), Webhook(name="anomalies", url=receiver.url,
                                                                     kinds=["anomaly"]))
    assert [(d.channel, d.status) for d in deliver(store, config, [ALERT], now=NOW)] == [("all", "sent")]
    assert len(receiver.requests) == 1


def test_server_errors_are_retried_up_to_the_bound(store, receiver):
    receiver.statuses = [500, 503]
    ok = deliver(store, settings(Webhook(name="ops", url=receiver.url)), [ALERT], now=NOW)
    assert [(d.status, d.attempts) for d in ok] == [("sent", 3)]  # 500, 503, then 200
    receiver.statuses = [502, 502, 502]
    again = Notification("budget", "other", "t", "x")
    failed = deliver(store, settings(Webhook(name="ops", url=receiver.url)), [again], now=NOW)
    assert [(d.status, d.attempts, d.error) for d in failed] == [("failed", 3, "HTTP 502")]
    assert store.sql.execute("SELECT count(*) FROM _notifications WHERE key = 'other'").fetchone() == (0,)
    assert len(receiver.requests) == 6


def test_a_client_error_is_not_retried(receiver):
    receiver.statuses = [404]
    assert post_json(receiver.url, {"text": "x"}, timeout=2, max_attempts=3, backoff=0) == (1, "HTTP 404")
    assert len(receiver.requests) == 1


def test_an_unreachable_webhook_fails_without_leaking_its_url(store, caplog):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/secret-token"
    with caplog.at_level(logging.INFO, logger="engmetrics.notify"):
        result = deliver(store, settings(Webhook(name="ops", url=url), attempts=2), [ALERT], now=NOW)
    assert [(d.status, d.attempts) for d in result] == [("failed", 2)]
    assert "secret-token" not in (result[0].error or "")
    assert caplog.records and all("secret-token" not in r.getMessage() for r in caplog.records)
    assert "webhook ops" in caplog.records[-1].getMessage()


def test_a_malformed_answer_is_a_failed_delivery_and_the_next_webhook_still_gets_its_message(store, receiver,
                                                                                              garbler):
    config = settings(Webhook(name="broken", url=garbler), Webhook(name="ops", url=receiver.url), attempts=2)
    result = deliver(store, config, [ALERT], now=NOW)
    assert [(d.channel, d.status, d.attempts) for d in result] == [("broken", "failed", 2), ("ops", "sent", 1)]
    assert (result[0].error or "").startswith("BadStatusLine") and "secret-token" not in (result[0].error or "")
    assert len(receiver.requests) == 1
    assert store.sql.execute("SELECT channel FROM _notifications").fetchall() == [("ops",)]


def test_a_url_the_http_client_refuses_never_raises(store, receiver, monkeypatch):
    # http.client's InvalidURL (an HTTPException, not an OSError): a failed POST, not an exception
    attempts, error = post_json("http://127.0.0.1:12ab/hook", {"text": "x"}, timeout=2, max_attempts=1, backoff=0)
    assert (attempts, error) == (1, "InvalidURL: nonnumeric port: '12ab'")
    # such a port is refused in the settings, and in the environment at delivery (the other webhook still gets it)
    with pytest.raises(ValidationError, match="port"):
        Webhook(name="x", url="https://host:12ab/")
    monkeypatch.setenv("BAD_WEBHOOK_URL", "https://host:12ab/")
    config = settings(Webhook(name="bad", url_env="BAD_WEBHOOK_URL"), Webhook(name="ops", url=receiver.url))
    assert [(d.channel, d.status, d.attempts) for d in deliver(store, config, [ALERT], now=NOW)] == [
        ("bad", "failed", 0), ("ops", "sent", 1)]


def test_the_url_may_come_from_the_environment(store, receiver, monkeypatch):
    hook = Webhook(name="ops", url_env="OPS_WEBHOOK_URL")
    missing = deliver(store, settings(hook), [ALERT], now=NOW)
    assert [(d.status, d.error) for d in missing] == [("failed", "environment variable OPS_WEBHOOK_URL is not set")]
    monkeypatch.setenv("OPS_WEBHOOK_URL", receiver.url)
    assert [d.status for d in deliver(store, settings(hook), [ALERT], now=NOW)] == ["sent"]


def test_settings_refuse_bad_webhooks():
    with pytest.raises(ValidationError, match="exactly one of url and url_env"):
        Webhook(name="x")
    with pytest.raises(ValidationError, match="http:// or https://"):
        Webhook(name="x", url="file:///etc/passwd")
    for url in ("https://host:0/", "https://host:65536/", "http://:80/", "http://[::1/"):
        with pytest.raises(ValidationError, match="a webhook URL"):
            Webhook(name="x", url=url)
    assert Webhook(name="x", url="https://host:8443/hook").resolve_url() == "https://host:8443/hook"
    with pytest.raises(ValidationError, match="unique"):
        NotifySettings(webhooks=[Webhook(name="x", url="https://a.example"), Webhook(name="x", url="https://b.example")])
    assert "secret" not in repr(Webhook(name="x", url="https://hooks.example/secret"))


def test_long_texts_are_cut_to_slack_limits():
    payload = slack_payload(Notification("k", "key", "t" * 200, "x" * 4000, {f"f{i}": "v" for i in range(12)}))
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    assert len(payload["blocks"][1]["text"]["text"]) == 3000
    assert len(payload["blocks"][2]["fields"]) == 10
