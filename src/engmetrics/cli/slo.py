"""`engmetrics slo ...`: SLO specs (OpenSLO and Sloth documents in slos/*.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import Issue
from ..slo import check_files, check_slos
from .common import JsonOption, console, emit_json, state, stderr

app = typer.Typer(no_args_is_help=True, help="SLOs: OpenSLO and Sloth specs in slos/*.yaml.")


def _issue_dict(i: Issue) -> dict[str, object]:
    """The catalog's lint fields, plus `slo` (the SLO or document the issue is about)."""
    return {"level": i.level, "rule": i.rule, "file": i.file, "line": i.line, "message": i.message,
            "slo": i.metric}


@app.command()
def validate(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Spec files or directories (default: the workspace's slos/).", exists=True)] = None,
    as_json: JsonOption = False,
) -> None:
    """Check SLO specs: schema, model, budgeting method, references, names. Exits 1 on any error.

    Example: engmetrics slo validate slos/checkout.yaml --json
    """
    root = state.settings.workspace
    report = check_files(files, root) if files else check_slos(root)
    if as_json:
        emit_json([_issue_dict(i) for i in report.issues])
    else:
        for i in report.issues:
            colour = "red" if i.level == "ERROR" else "yellow"
            stderr.print(f"[{colour}]{escape(str(i))}[/]", highlight=False, soft_wrap=True)
        if not report.errors:
            specs = report.specs
            console.print(f"OK: {len(specs.documents)} documents, {len(specs.slos)} OpenSLO SLOs, "
                          f"{sum(len(d.model.slos) for d in specs.sloth_specs)} Sloth SLOs")
    if report.errors:
        raise typer.Exit(1)
