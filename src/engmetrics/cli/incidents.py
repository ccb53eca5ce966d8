"""`engmetrics incidents ...`: incident, alert and on-call analytics.

Each command lives in its own module (`incidents_*.py`) and is registered below, one line each.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Incidents, alerts and on-call: durations, fatigue, patterns, search.")

# --- commands (one import and one registration line per command module) ----------------------------------
