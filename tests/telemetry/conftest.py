"""A capture HTTP server on 127.0.0.1: real clients (Prometheus, the OpenTelemetry SDK) post to it and the
tests decode what it received."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Captured:
    """Requests received so far: (path, headers with lower-case names, body)."""

    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, done, timeout: float) -> bool:
        """Wait until `done(requests)` is true (checked on every arrival) or `timeout` seconds pass."""
        with self.arrived:
            return self.arrived.wait_for(lambda: done(list(self.requests)), timeout=timeout)


@pytest.fixture
def capture():
    """A server answering 200 to every POST and recording it; yields a `Captured`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    captured = Captured(f"http://127.0.0.1:{server.server_port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with captured.arrived:
                captured.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                captured.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield captured
    server.shutdown()
    server.server_close()
