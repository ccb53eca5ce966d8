"""`engmetrics delivery ...`: DORA, cycle time, reviews, knowledge silos.

Each command lives in its own module (`delivery_*.py`) and is registered here.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Delivery: DORA, cycle time, review latency, knowledge silos.")

# --- commands (one import and one registration line per command module) ----------------------------------
