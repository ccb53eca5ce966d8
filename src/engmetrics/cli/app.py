"""The `engmetrics` application: global options and the command groups, registered in one place.

The console script runs `run`, which imports only the module of the command it is given (every module
imports the library parts it needs, so importing them all cost most of a second at each start); `--help`
and anything else that names no known command register them all; a bare `--version` registers none.
`engmetrics.cli.main.app` is the app with every command, for tests and tools.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Collection
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


# Command groups: one module each, registered here and nowhere else, in the order `--help` lists them.
# name -> (module of engmetrics.cli, attribute): a Typer attribute is a group, a function one command.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("workspace", "init"),
    "datasets": ("datasets", "app"),
    "quarantine": ("datasets", "quarantine_app"),
    "ingest": ("ingest", "ingest"),
    "catalog": ("catalog", "app"),
    "metrics": ("metrics", "app"),
    "slo": ("slo", "app"),
    "incidents": ("incidents", "app"),
    "delivery": ("delivery", "app"),
    "cost": ("cost", "app"),
    "postmortem": ("postmortem", "app"),
    "scorecard": ("metrics", "scorecard_command"),
    "demo": ("demo", "demo"),
    "serve": ("serve", "serve"),
    "token": ("token", "app"),
    "export": ("export", "app"),
    "governance": ("governance", "app"),
    "audit": ("audit", "app"),
    "insights": ("insights", "app"),
    "telemetry": ("telemetry", "app"),
    "retention": ("retention", "app"),
    "decisions": ("decisions", "app"),
    "watch": ("watch", "watch"),
    "report": ("report", "report"),
}
_GLOBAL_VALUED = ("-w", "--workspace", "--store-url")  # global options that take a value


def register(names: Collection[str] | None = None) -> typer.Typer:
    """Add the commands `names` (all when None) to `app`, importing their modules; return `app`."""
    for name, (module, attribute) in COMMANDS.items():
        if names is None or name in names:
            target = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
            if isinstance(target, typer.Typer):
                app.add_typer(target, name=name)
            else:
                app.command(name)(target)
    return app


def command_named(args: list[str]) -> str | None:
    """The command `args` (the arguments after the program name) run: the first one that is neither a global
    option nor an option's value; None when there is none.

    >>> command_named(["-w", "ws", "--store-url=duckdb://", "ingest", "cost", "a.csv"])
    'ingest'
    >>> command_named(["-wws", "--workspace=ws", "slo", "status"])
    'slo'
    >>> command_named(["--help"]) is None
    True
    """
    rest = iter(args)
    for arg in rest:
        if arg in _GLOBAL_VALUED:
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return None


def commands_needed(args: list[str]) -> set[str] | None:
    """The commands to register for `args`: the one named, none for a bare `--version`, else all (None: help
    lists every command, and an unknown one gets "did you mean").

    >>> commands_needed(["-w", "ws", "slo", "status"]), commands_needed(["--version"])
    ({'slo'}, set())
    >>> commands_needed(["--version", "--help"]) is None, commands_needed(["sloo", "--version"]) is None
    (True, True)
    """
    name = command_named(args)
    if name in COMMANDS:
        return {name}
    if name is None and "--version" in args and not {"-h", "--help"} & set(args):
        return set()
    return None


def run() -> None:
    """The console script: register the commands needed (`commands_needed`), then run the app."""
    register(commands_needed(sys.argv[1:]))()
