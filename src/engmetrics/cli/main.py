"""The `engmetrics` app with every command registered (`engmetrics.cli.app.register`), for tests and tools;
the console script is `engmetrics.cli.app.run`, which imports only the command it runs."""

from __future__ import annotations

from .app import register

app = register()

__all__ = ["app"]
