"""`engmetrics insights ...`: anomaly scan and marks, experiments on process changes, CSAT against backend
health. Commands live in `insights_*.py` modules, which add themselves to `app`; they are imported at the
bottom so `--help` lists them.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Anomalies, experiments on process changes, CSAT against backend health.")

from . import insights_anomalies, insights_csat, insights_experiment  # noqa: E402,F401
