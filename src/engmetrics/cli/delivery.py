"""`engmetrics delivery ...`: DORA, cycle time, reviews, knowledge silos, guardrails, peer feedback.

Each command lives in its own module (`delivery_*.py`) and is registered here, in the order of `--help`.
"""

from __future__ import annotations

import typer

from .delivery_cycle import cycle_time_command, reviews_command
from .delivery_dora import dora_command
from .delivery_silos import feedback_command, guardrails_command, silos_command

app = typer.Typer(no_args_is_help=True, help="Delivery: DORA, cycle time, review latency, knowledge silos.")

app.command("dora")(dora_command)
app.command("cycle-time")(cycle_time_command)
app.command("reviews")(reviews_command)
app.command("guardrails")(guardrails_command)
app.command("silos")(silos_command)
app.command("feedback")(feedback_command)
