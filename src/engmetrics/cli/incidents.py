"""`engmetrics incidents ...`: incident, alert and on-call analytics.

Each command lives in its own module (`incidents_*.py`) and is registered here, in the order of `--help`.
"""

from __future__ import annotations

import typer

from .incidents_fatigue import fatigue_command
from .incidents_patterns import actions_command, correlate_command, patterns_command
from .incidents_search import search_command
from .incidents_stats import oncall_command, stats_command

app = typer.Typer(no_args_is_help=True, help="Incidents, alerts and on-call: durations, fatigue, patterns, search.")

app.command("stats")(stats_command)
app.command("oncall")(oncall_command)
app.command("fatigue")(fatigue_command)
app.command("patterns")(patterns_command)
app.command("actions")(actions_command)
app.command("correlate")(correlate_command)
app.command("search")(search_command)
