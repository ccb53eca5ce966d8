"""`engmetrics slo rules`: Prometheus recording and alerting rules for the SLOs, with Sloth's names."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import Issue
from ..slo import check_files, check_slos
from ..slo.rules import prometheus_rules, rules_yaml
from .common import console, fail, state, stderr

__all__ = ["rules_command"]


def _print_issues(issues: list[Issue]) -> None:
    for i in issues:
        colour = "red" if i.level == "ERROR" else "yellow"
        stderr.print(f"[{colour}]{escape(str(i))}[/]", highlight=False, soft_wrap=True)


def rules_command(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Spec files or directories (default: the workspace's slos/).", exists=True)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the rules to this file (default: standard output).", dir_okay=False)] = None,
) -> None:
    """Write Prometheus rules (Sloth's groups, records and alerts) for every SLO with a Prometheus query.

    Sloth `prometheus/v1` specs and OpenSLO SLOs whose metric sources are of type Prometheus get SLI,
    meta and alert rules; SLOs read from the engmetrics store are skipped. Exits 1 when a spec has errors.

    Example: engmetrics slo rules --out prometheus/rules/slos.yml
    """
    root = state.settings.workspace
    report = check_files(files, root) if files else check_slos(root)
    _print_issues(report.issues)
    if report.errors:
        raise fail(f"{len(report.errors)} error(s) in the SLO specs: no rules written "
                   "(see `engmetrics slo validate`)")
    result = prometheus_rules(report.specs)
    _print_issues(result.issues)
    text = rules_yaml(result.groups)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"Wrote {len(result.groups)} rule groups to {escape(str(out))}", highlight=False)
