"""A free TCP port on 127.0.0.1 for tests that start servers (engmetrics serve, Prometheus, exporters)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a race with other processes is unlikely)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
