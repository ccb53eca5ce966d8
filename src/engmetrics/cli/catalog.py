"""`engmetrics catalog ...`: validate, lint and browse the indicator definitions in metrics/*.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from ..catalog.lint import lint
from ..catalog.loader import check_catalog, load_catalog
from ..catalog.views import TreeNode, catalog_tree, indicator_detail, indicator_summary
from ..errors import Issue
from .common import JsonOption, console, emit_json, open_store, state, stderr

app = typer.Typer(no_args_is_help=True,
                  help="Indicator definitions (metrics/*.yaml): validate, lint, browse.")

TodayOption = Annotated[datetime | None, typer.Option(
    "--today", formats=["%Y-%m-%d"],
    help="Date that review dates are checked against (default: today, UTC).")]


def _issue_dict(i: Issue) -> dict[str, object]:
    return {"level": i.level, "rule": i.rule, "metric": i.metric, "file": i.file, "line": i.line,
            "message": i.message}


def _print_issues(issues: list[Issue]) -> None:
    for i in issues:
        colour = "red" if i.level == "ERROR" else "yellow"
        stderr.print(f"[{colour}]{escape(str(i))}[/]", highlight=False, soft_wrap=True)


@app.command()
def validate(as_json: JsonOption = False) -> None:
    """Check every definition: schema, model and cross-definition rules. Exits 1 on any error.

    Example: engmetrics catalog validate
    """
    report = check_catalog(state.settings.workspace)
    if as_json:
        emit_json([_issue_dict(i) for i in report.issues])
    else:
        _print_issues(report.issues)
        if not report.errors:
            c = report.catalog
            console.print(f"OK: {len(c.definitions)} indicators, {len(c.outcomes)} outcomes")
    if report.errors:
        raise typer.Exit(1)


def _assessed_versions() -> dict[str, set[str]] | None:
    """Indicator versions the definition archive shows in force with an assessment, when the workspace has a
    store (read-only); None without one (no version is then assessed for the `assessment` rule)."""
    from ..governance.archive import assessed_versions
    from ..store.connection import duckdb_path

    path = duckdb_path(state.settings.store_url or "")
    if path is not None and not path.exists():
        return None
    with open_store(read_only=True) as store:
        return assessed_versions(store)


@app.command("lint")
def lint_command(as_json: JsonOption = False, today: TodayOption = None) -> None:
    """Find definitions that mislead: missing owners, vanity and unguarded velocity indicators, overdue
    reviews, dangling links, only-lagging catalogs, bad threshold bands, duplicates, new or changed team and
    individual indicators without an impact assessment (assessments/METRIC.yaml). Exits 1 on an ERROR.

    Example: engmetrics catalog lint --json
    """
    report = check_catalog(state.settings.workspace)
    issues = report.errors or lint(report.catalog, today=today.date() if today else datetime.now(UTC).date(),
                                   assessed_versions=_assessed_versions())
    if as_json:
        emit_json([_issue_dict(i) for i in issues])
    else:
        _print_issues(issues)
        if not issues:
            console.print(f"OK: {len(report.catalog.definitions)} indicators, no lint findings")
    if any(i.level == "ERROR" for i in issues):
        raise typer.Exit(1)


@app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """List the indicators.

    Example: engmetrics catalog list --json
    """
    rows = [indicator_summary(d) for d in load_catalog(state.settings.workspace).definitions]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "name", "kind", "cadence", "status", "owner", "outcome", "guardrail")
    for r in rows:
        table.add_row(*(escape(str(r[k] or "")) for k in ("id", "name", "kind", "cadence", "status", "owner",
                                                          "outcome", "guardrail")))
    console.print(table)


@app.command()
def show(metric: Annotated[str, typer.Argument(help="Indicator id.")], as_json: JsonOption = False,
         as_of: Annotated[datetime | None, typer.Option(
             "--as-of", formats=["%Y-%m-%d"],
             help="Show the definition in force at the end of this day (UTC), from the definition archive, "
                  "with its version and when it took effect: when it was recorded (wall clock), not the as-of "
                  "dates whose values used it; `metrics evaluate --as-defined-then` shows those.")] = None) -> None:
    """Show one indicator's full definition, where it is defined and its definition version.

    Example: engmetrics catalog show change_failure_rate --as-of 2026-03-31
    """
    if as_of is not None:
        from ..governance.archive import indicator_as_of

        with open_store(read_only=True) as store:
            detail = indicator_as_of(store, metric, as_of.date())
    else:
        detail = indicator_detail(load_catalog(state.settings.workspace).get(metric))
    if as_json:
        emit_json(detail)
        return
    console.print(yaml.safe_dump(detail, sort_keys=False, allow_unicode=True), highlight=False,
                  soft_wrap=True, markup=False)


def _add(tree: Tree, node: TreeNode) -> None:
    name = escape(node.name)
    label = f"[bold]{name}[/] ({node.id})" if node.type == "outcome" else f"{node.id}: {name}"
    if node.guardrail:
        label += f"  [dim]guardrail: {escape(node.guardrail)}[/]"
    branch = tree.add(label)
    for child in node.children:
        _add(branch, child)


@app.command()
def tree(as_json: JsonOption = False) -> None:
    """Show outcomes -> indicators -> guardrails.

    Example: engmetrics catalog tree
    """
    roots = catalog_tree(load_catalog(state.settings.workspace))
    if as_json:
        emit_json([r.to_dict() for r in roots])
        return
    top = Tree("outcomes")
    for root in roots:
        _add(top, root)
    console.print(top)


from .catalog_publish import publish_command  # noqa: E402

app.command("publish")(publish_command)

from .catalog_review import review_command  # noqa: E402

app.command("review")(review_command)
