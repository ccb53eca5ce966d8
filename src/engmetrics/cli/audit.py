"""`engmetrics audit log` and `engmetrics audit verify`: the tamper-evident audit log."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log: list and verify.")
