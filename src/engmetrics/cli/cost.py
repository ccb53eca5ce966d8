"""`engmetrics cost ...`: FOCUS validation, allocation, idle resources, budgets, commitments, unit cost,
what-if pricing and reconciliation.

Each command lives in its own module (`cost_*.py`) and is registered here, in the order of `--help`.
"""

from __future__ import annotations

import typer

from .cost_allocate import allocate_command
from .cost_budgets import budgets_command
from .cost_commitments import commitments_command
from .cost_idle import idle_command
from .cost_reconcile import reconcile_command
from .cost_unit import unit_command, whatif_command
from .cost_validate import validate_command

app = typer.Typer(no_args_is_help=True, help="Cloud cost on FOCUS: allocation, idle, budgets, commitments.")

app.command("validate")(validate_command)
app.command("allocate")(allocate_command)
app.command("idle")(idle_command)
app.command("budgets")(budgets_command)
app.command("commitments")(commitments_command)
app.command("unit")(unit_command)
app.command("whatif")(whatif_command)
app.command("reconcile")(reconcile_command)
