"""`engmetrics cost validate FILE`: a FOCUS conformance report, rule by rule with counts and example lines.
A thin shell over `engmetrics.cost.conformance.validate_focus` (rules and semantics there).

Exit codes: 0 the file conforms, 3 it does not (some rule has violations), 1 the file cannot be read or an
option is wrong. The store is not touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..cost.conformance import VERSIONS, ConformanceReport, validate_focus
from ..errors import InputError
from .common import JsonOption, console, emit_json, fail

__all__ = ["NOT_CONFORMANT", "validate_command"]

NOT_CONFORMANT = 3  # exit code when a rule has violations (2 is click's usage error)


def _example(example: dict[str, object]) -> str:
    values = ", ".join(f"{k}={v!r}" for k, v in example.items() if k != "line")
    return f"line {example.get('line')}: {values}"


def _table(report: ConformanceReport) -> Table:
    table = Table("rule", "status", "violations", "lines (first)",
                  title=f"FOCUS {report.focus_version} conformance of {report.file} ({report.rows:,} rows)")
    for r in report.rules:
        style = {"fail": "red", "pass": "green"}.get(r.status, "dim")
        lines = ", ".join(str(e.get("line")) for e in r.examples)
        table.add_row(r.rule, f"[{style}]{r.status}[/]", f"{r.violations:,}", lines)
    return table


def _details(report: ConformanceReport) -> None:
    for r in report.rules:
        if r.violations:
            console.print(f"[bold]{r.rule}[/]: {r.description} (FOCUS: {r.reference})", highlight=False)
            console.print(f"  {_example(r.examples[0])}", markup=False, highlight=False)


def validate_command(
    file: Annotated[Path, typer.Argument(help="A FOCUS export: CSV, CSV.gz or Parquet.")],
    focus_version: Annotated[str | None, typer.Option(
        "--focus-version", help=f"Check against FOCUS {' / '.join(VERSIONS)} (default: detected from the columns)."
    )] = None,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0, help="Relative tolerance of ListCost = ListUnitPrice x PricingQuantity (and "
        "ContractedCost), on top of an absolute 1e-9.")] = 1e-6,
    examples: Annotated[int, typer.Option("--examples", min=0, help="Example rows per rule (malformed CSV records "
                                          "included).")] = 5,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or parquet (default: by suffix).")] = None,
    as_json: JsonOption = False,
) -> None:
    """FOCUS conformance report: mandatory columns, allowed values, cost formulas, commitment rules.

    `--json`: {file, focus_version, rows, conformant, rules: [{rule, description, reference, status,
    violations, examples: [{line, COLUMN: value...}]}]}. Exit 0 when conformant, 3 when not, 1 on bad input.

    Example: engmetrics cost validate focus_export.csv.gz --focus-version 1.0 --json
    """
    try:
        report = validate_focus(file, focus_version=focus_version, tolerance=tolerance, examples=examples, fmt=fmt)
    except InputError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json(report.as_dict())
    else:
        console.print(_table(report))
        _details(report)
        failed = sum(1 for r in report.rules if r.violations)
        console.print("conformant" if report.conformant else f"not conformant: {failed} rule(s) with violations")
    if not report.conformant:
        raise typer.Exit(NOT_CONFORMANT)
