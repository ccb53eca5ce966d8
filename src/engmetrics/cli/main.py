"""The `engmetrics` application: global options and the command groups, registered in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import EngmetricsError
from .common import fail, state


class _Group(TyperGroup):
    """Turns library errors into a message on stderr and the error's exit code."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except EngmetricsError as exc:
            raise fail(exc) from None


app = typer.Typer(
    name="engmetrics", cls=_Group, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
    help="Metrics-as-code for engineering organisations: indicators, SLOs, incidents, delivery, cost.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"engmetrics {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    workspace: Annotated[Path | None, typer.Option(
        "-w", "--workspace", help="Workspace directory (default: $ENGMETRICS_WORKSPACE or the current one).",
        file_okay=False)] = None,
    store_url: Annotated[str | None, typer.Option(
        "--store-url", help="Store URL (default: $ENGMETRICS_STORE_URL, engmetrics.yaml, the embedded DuckDB).")
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Global options apply to every command: `engmetrics -w DIR GROUP COMMAND`."""
    state.workspace, state.store_url, state._settings = workspace, store_url, None


# Command groups: one module each, registered here and nowhere else.
from . import (  # noqa: E402
    audit,
    catalog,
    cost,
    datasets,
    decisions,
    delivery,
    demo,
    export,
    governance,
    incidents,
    ingest,
    insights,
    metrics,
    postmortem,
    report,
    retention,
    serve,
    slo,
    telemetry,
    token,
    watch,
    workspace,
)

app.command("init")(workspace.init)
app.add_typer(datasets.app, name="datasets")
app.add_typer(datasets.quarantine_app, name="quarantine")
app.command("ingest")(ingest.ingest)
app.add_typer(catalog.app, name="catalog")
app.add_typer(metrics.app, name="metrics")
app.add_typer(slo.app, name="slo")
app.add_typer(incidents.app, name="incidents")
app.add_typer(delivery.app, name="delivery")
app.add_typer(cost.app, name="cost")
app.add_typer(postmortem.app, name="postmortem")
app.command("scorecard")(metrics.scorecard_command)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.add_typer(token.app, name="token")
app.add_typer(export.app, name="export")
app.add_typer(governance.app, name="governance")
app.add_typer(audit.app, name="audit")
app.add_typer(insights.app, name="insights")
app.add_typer(telemetry.app, name="telemetry")
app.add_typer(retention.app, name="retention")
app.add_typer(decisions.app, name="decisions")
app.command("watch")(watch.watch)
app.command("report")(report.report)
