"""What every command shares: the workspace option, settings, store access, JSON and error output."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import EngmetricsError
from ..jsonio import encode
from ..settings import Settings, load_settings
from ..store import Store

__all__ = ["JsonOption", "State", "console", "emit_json", "fail", "open_store", "state", "stderr", "stop_on_signals"]

console = Console()
stderr = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@dataclass
class State:
    """Global options, set by the app callback."""

    workspace: Path | None = None
    store_url: str | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.workspace, store_url=self.store_url)
        return self._settings


state = State()


@contextmanager
def open_store(*, read_only: bool = False) -> Iterator[Store]:
    """The workspace's store, locked for the duration of the block."""
    settings = state.settings
    store = Store.open(settings.store_url or "", read_only=read_only, lock_timeout=settings.store_lock_timeout)
    try:
        yield store
    finally:
        store.close()


def emit_json(data: Any) -> None:
    """Print `data` as JSON on stdout."""
    sys.stdout.write(json.dumps(data, default=encode, indent=2, allow_nan=False) + "\n")


def fail(error: EngmetricsError | str, code: int = 1) -> typer.Exit:
    """Print an error on stderr and return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(getattr(error, "exit_code", code))


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C) or SIGTERM, so the loop ends between cycles; handlers restored after."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(ValueError):  # not the main thread: no handlers, the caller stops the loop another way
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
