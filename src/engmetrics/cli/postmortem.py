"""`engmetrics postmortem ...`: the postmortem standard (docs/incidents.md, "Postmortems").

Commands: `new` (a postmortem pre-filled from the incident), `validate` (issues with file and line),
`import` (validated postmortems into incidents, action_items and postmortems), `completeness` (scores
per postmortem or per team). Exit 1 on bad input: a validation ERROR, a rejected file, an unknown incident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..incidents.postmortem import (
    PostmortemIssue,
    completeness_by_team,
    completeness_per_postmortem,
    has_errors,
    import_postmortems,
    load_taxonomy,
    parse_file,
    validate,
    write_postmortem,
)
from .common import JsonOption, console, emit_json, open_store, state, stderr

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Postmortems: template, validation, import, completeness.")


def _print_issues(issues: list[PostmortemIssue]) -> None:
    for issue in issues:
        colour = "red" if issue.level == "ERROR" else "yellow"
        stderr.print(f"[{colour}]{escape(str(issue))}[/]", highlight=False, soft_wrap=True)


@app.command("new")
def new(
    incident: Annotated[str, typer.Argument(help="The incident id (in the incidents dataset).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder to write to (default: postmortems/ in the workspace).", file_okay=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing postmortem.")] = False,
) -> None:
    """Write <INCIDENT>.md pre-filled from the incident's row: title, service, team, severity, timeline.

    Example: engmetrics postmortem new INC-0042
    """
    workspace = state.settings.workspace
    with open_store(read_only=True) as store:
        path = write_postmortem(store, incident, out or workspace / "postmortems", force=force,
                                factors=load_taxonomy(workspace))
    console.print(f"wrote {escape(str(path))}", highlight=False, soft_wrap=True)


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Postmortem files (Markdown with YAML front matter).")],
    as_json: JsonOption = False,
) -> None:
    """Check postmortems against the standard; every issue names file and line. Exit 1 on any ERROR.

    `--json`: a list of {level, rule, file, line, message, incident}.

    Example: engmetrics postmortem validate postmortems/*.md
    """
    factors = load_taxonomy(state.settings.workspace)
    issues = [issue for path in files for issue in validate(parse_file(path), factors)]
    if as_json:
        emit_json([i.as_dict() for i in issues])
    else:
        _print_issues(issues)
        errors = sum(i.level == "ERROR" for i in issues)
        console.print(f"{len(files)} file(s): {errors} error(s), {len(issues) - errors} warning(s)", highlight=False)
    if has_errors(issues):
        raise typer.Exit(1)


@app.command("import")
def import_command(
    folder: Annotated[Path, typer.Argument(help="Folder of postmortems (*.md).", file_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """Validate every postmortem of FOLDER and load the valid ones (timeline into incidents, action_items,
    postmortems). Files with errors are reported and skipped; exit 1 when any was skipped.

    `--json`: {files: [{file, incident, status, errors, warnings, completeness}], issues: [...],
    ingests: {dataset: {dataset, files, read, inserted, updated, unchanged, quarantined}}}.

    Example: engmetrics postmortem import postmortems/
    """
    with open_store() as store:
        result = import_postmortems(store, folder, load_taxonomy(state.settings.workspace))
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_issues([i for i in result.issues if i.level == "ERROR"])
        table = Table("file", "incident", "status", "errors", "warnings", "completeness")
        for f in result.files:
            status = "[green]imported[/]" if f.imported else "[red]rejected[/]"
            table.add_row(escape(f.file), escape(f.incident or "-"), status, str(f.errors), str(f.warnings),
                          f"{f.completeness:.0%}")
        console.print(table)
        for name, r in result.ingests.items():
            console.print(f"{name}: read {r.read}, inserted {r.inserted}, updated {r.updated}, unchanged "
                          f"{r.unchanged}, quarantined {r.quarantined}", highlight=False)
    if result.rejected:
        raise typer.Exit(1)


def _rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pyarrow().to_pylist()


@app.command("completeness")
def completeness(
    by: Annotated[str | None, typer.Option("--by", help="Aggregate by: team.")] = None,
    max_severity: Annotated[int, typer.Option(
        "--max-severity", min=1, max=5, help="Incidents this severe or more without a postmortem count as 0.")] = 2,
    as_json: JsonOption = False,
) -> None:
    """Completeness of imported postmortems (0 to 1, weighted fields present and valid), per postmortem or
    per team; severe incidents without a postmortem count as 0.

    `--json`: per postmortem [{incident_id, team, has_postmortem, score}]; `--by team` [{team, postmortems,
    missing, n, mean_score, min_score, max_score, below_50, from_50, from_80, complete}].

    Example: engmetrics postmortem completeness --by team
    """
    if by not in (None, "team"):
        stderr.print(f"[bold red]error:[/] --by must be 'team', not {escape(by)!r}", highlight=False)
        raise typer.Exit(2)
    with open_store(read_only=True) as store:
        compute = completeness_by_team if by else completeness_per_postmortem
        rows = _rows(compute(store, max_severity))
    if as_json:
        emit_json(rows)
        return
    if by:
        table = Table("team", "postmortems", "missing", "mean", "min", "max", "<50%", "50-80%", "80-99%", "100%")
        for r in rows:
            table.add_row(escape(str(r["team"])), str(r["postmortems"]), str(r["missing"]), f"{r['mean_score']:.0%}",
                          f"{r['min_score']:.0%}", f"{r['max_score']:.0%}", str(r["below_50"]), str(r["from_50"]),
                          str(r["from_80"]), str(r["complete"]))
    else:
        table = Table("incident", "team", "postmortem", "score")
        for r in rows:
            table.add_row(escape(r["incident_id"]), escape(str(r["team"])), "yes" if r["has_postmortem"] else
                          "[red]missing[/]", f"{r['score']:.0%}")
    console.print(table)
