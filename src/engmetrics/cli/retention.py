"""Filled by the telemetry work in progress."""

import typer

app = typer.Typer(no_args_is_help=True, help="Retention and downsampling: plan, then apply.")
