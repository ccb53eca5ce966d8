"""`engmetrics governance ...`: review board, discrepancies, legal holds, the definition archive and export
bundles. Commands live in `governance_*.py` modules, which add themselves to `app`; they are imported at
the bottom so `--help` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Review board, discrepancies, legal holds, archive and bundles.")

AsOption = Annotated[str | None, typer.Option(
    "--as", help="Who is acting (default: $ENGMETRICS_USER, else the login name); recorded in the audit log.")]

from . import governance_archive, governance_board, governance_discrepancies  # noqa: E402,F401
