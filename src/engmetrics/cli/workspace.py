"""`engmetrics init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..workspace import init_workspace
from .common import console


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.", file_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Overwrite the templates of an existing workspace.")
                     ] = False,
) -> None:
    """Scaffold a workspace: settings, an example indicator, folders and a .gitignore.

    Example: engmetrics init my-metrics
    """
    root = init_workspace(directory, force=force)
    console.print(f"Created workspace [bold]{root}[/]. Next: engmetrics -w {directory} catalog validate")
