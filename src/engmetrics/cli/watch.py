"""`engmetrics watch`: evaluation, anomaly scan, SLO and budget alerts on a schedule (a thin shell over
`engmetrics.insights.watch`; docs/watch.md)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..insights.config import interval_seconds
from ..jsonio import encode
from .common import console, fail, state, stderr, stop_on_signals

if TYPE_CHECKING:
    from ..insights.watch import CycleSummary

__all__ = ["watch"]


def _print(summary: CycleSummary) -> None:
    d = summary.to_dict()
    a = d["alerts"]
    console.print(f"run {d['run']} at {summary.started_at:%Y-%m-%d %H:%M:%S} UTC: evaluated "
                  f"{'-' if d['evaluated'] is None else d['evaluated']}, findings "
                  f"{'-' if d['findings'] is None else d['findings']}, alerts sent {a['sent']}, duplicate "
                  f"{a['duplicate']}, failed {a['failed']}", highlight=False)
    for e in d["errors"]:
        stderr.print(f"[yellow]{escape(e['job'])}: {escape(e['error'])}[/]", highlight=False)


def watch(
    interval: Annotated[str | None, typer.Option(
        "--interval", help="Time from one cycle's start to the next, e.g. 15m, 1h, 0s (default: insights.watch."
        "interval, 1h).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (same as --max-runs 1).")] = False,
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="Stop after N cycles.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each cycle's summary as one JSON line.")] = False,
) -> None:
    """Run the indicator evaluation, anomaly scan, SLO burn-rate alerts and cost budget alerts on a schedule,
    sending new alerts to the configured webhooks (each once). Ctrl-C or SIGTERM stops between cycles.
    A cycle that cannot open the store (another process, e.g. `engmetrics serve`, holds its lock) reports the
    error and the next cycle tries again. Exits 1 when a cycle had an error in a bounded run (--once, --max-runs).

    Example: engmetrics watch --interval 15m --json
    """
    from ..insights.watch import watch_loop  # here: the anomaly scan loads scipy, which other commands skip

    settings = state.settings
    try:
        seconds = interval_seconds(interval or settings.insights.watch.interval)
    except ValueError as exc:
        raise fail(f"--interval: {exc}", code=2) from None
    runs = 1 if once else max_runs
    failed = False
    with stop_on_signals() as stop:
        for summary in watch_loop(settings, interval=seconds, max_runs=runs, stop=stop):
            failed = failed or bool(summary.errors)
            if as_json:
                sys.stdout.write(json.dumps(summary.to_dict(), default=encode, allow_nan=False) + "\n")
                sys.stdout.flush()
            else:
                _print(summary)
    if failed and runs is not None:
        raise typer.Exit(1)
