"""Filled by the insights work in progress."""

import typer

app = typer.Typer(no_args_is_help=True, help="The decision log: what was decided and on which indicators.")
