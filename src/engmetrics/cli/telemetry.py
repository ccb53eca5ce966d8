"""`engmetrics telemetry ...`: scrape targets, import from a Prometheus HTTP API, clock checks and pipeline
overlaps. Commands live in `telemetry_*.py` modules, which add themselves to `app`; they are imported at the
bottom so `--help` lists them.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Scrape, import, sample, clock checks and overlaps of telemetry.")

from . import telemetry_clocks, telemetry_pull, telemetry_sample  # noqa: E402,F401
