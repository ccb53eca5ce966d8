"""`engmetrics telemetry scrape` and `engmetrics telemetry import-prometheus`: thin shells over
`engmetrics.telemetry.scrape` and `engmetrics.telemetry.prom_import` (docs/telemetry-pull.md).

Exit codes: 0 ok (a target that is down is data, `up` = 0, not an error); 1 bad input, an error answer from
Prometheus, or a bounded scrape (`--once`, `--max-runs`) whose last write failed; 2 bad usage.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..durations import duration_seconds
from ..errors import InputError
from ..ingest import IngestResult
from ..jsonio import encode
from ..telemetry.prom_api import parse_instant
from ..telemetry.prom_import import ImportResult, SliQuery, import_samples, import_sli
from ..telemetry.pull_write import SampleWrite
from ..telemetry.scrape import ScrapeRun, scrape_loop
from .common import JsonOption, console, emit_json, fail, open_store, state, stderr, stop_on_signals
from .telemetry import app

__all__ = ["import_prometheus", "scrape"]

_INTO = ("telemetry_samples", "sli_events")


def _print_accounting(label: str, i: IngestResult) -> None:
    """The write's accounting: read = inserted + updated + unchanged + quarantined (overlaps within unchanged)."""
    dropped = f" (unchanged includes {i.dropped:,} dropped as overlaps)" if isinstance(i, SampleWrite) else ""
    console.print(f"{label}: read {i.read:,} = inserted {i.inserted:,} + updated {i.updated:,} + unchanged "
                  f"{i.unchanged:,} + quarantined {i.quarantined:,}{dropped}", highlight=False)


def _print_run(run: ScrapeRun) -> None:
    table = Table("target", "up", "samples", "seconds", "error", title=f"Scrape run {run.run} at "
                  f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC")
    for t in run.targets:
        table.add_row(escape(t.target), "[green]1[/]" if t.up else "[red]0[/]", f"{t.samples:,}",
                      f"{t.duration_seconds:.3f}", escape(t.error or ""))
    console.print(table)
    if run.ingest is not None:
        _print_accounting("stored", run.ingest)
    if run.error:
        stderr.print(f"[yellow]write failed, {run.pending_rows:,} rows kept for the next run: {escape(run.error)}[/]",
                     highlight=False)
    if run.pending_dropped:
        stderr.print(f"[yellow]{run.pending_dropped:,} oldest waiting rows dropped (telemetry.scrape."
                     "max_pending_samples)[/]", highlight=False)


@app.command("scrape")
def scrape(
    once: Annotated[bool, typer.Option("--once", help="Scrape every target once and exit (--max-runs 1).")] = False,
    interval: Annotated[str | None, typer.Option(
        "--interval", help="Time between scrapes of every target, e.g. 15s, 1m (default: each target's interval, "
        "else telemetry.scrape.interval).")] = None,
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="Stop after N runs.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print each run as one JSON line.")] = False,
) -> None:
    """Scrape the Prometheus text / OpenMetrics targets of engmetrics.yaml (telemetry.scrape.targets) into
    telemetry_samples, with health samples up, scrape_duration_seconds and scrape_samples_scraped per target.
    A run scrapes the targets that are due; Ctrl-C or SIGTERM stops between runs. Samples are written like pushed
    ones: quarantined when refused, kept once by telemetry.receivers.source_priority when another source sends the
    same series. While the store is locked (engmetrics serve) at most telemetry.scrape.max_pending_samples rows
    wait for the next run.

    Example: engmetrics telemetry scrape --once --json
    """
    try:
        seconds = duration_seconds(interval) if interval else None
    except ValueError as exc:
        raise fail(f"--interval: {exc}", code=2) from None
    last = None
    with stop_on_signals() as stop:
        telemetry = state.settings.telemetry
        for last in scrape_loop(telemetry.scrape, open_store, interval=seconds, max_runs=1 if once else max_runs,
                                stop=stop, clocks=telemetry.clocks, priority=telemetry.receivers.source_priority,
                                window=telemetry.receivers.overlap_window_seconds):
            if json_out:
                sys.stdout.write(json.dumps(last.to_dict(), default=encode, allow_nan=False) + "\n")
                sys.stdout.flush()
            else:
                _print_run(last)
    if last is not None and last.error and (once or max_runs):
        raise fail(f"{last.pending_rows:,} scraped rows were not stored: {last.error}")


def _print_import(result: ImportResult) -> None:
    d = result.to_dict()
    console.print(f"{d['samples']:,} points of {d['series']:,} series in {d['requests']} request(s), "
                  f"{result.start:%Y-%m-%d %H:%M:%S} to {result.end:%Y-%m-%d %H:%M:%S} UTC, step "
                  f"{d['step_seconds']} s", highlight=False)
    if result.into == "sli_events":
        console.print(f"{d['service']}/{d['indicator']}: {d['buckets']:,} buckets, good {d['good']:,.0f} of "
                      f"total {d['total']:,.0f}", highlight=False)
    _print_accounting(result.into, result.ingest)
    for warning in result.warnings:
        stderr.print(f"[yellow]Prometheus warning: {escape(warning)}[/]", highlight=False)


@app.command("import-prometheus")
def import_prometheus(
    url: Annotated[str, typer.Option("--url", help="Prometheus base URL, e.g. http://localhost:9090.")],
    query: Annotated[str, typer.Option("--query", help="PromQL; into sli_events: the total events' counter, "
                                       "or with --le the histogram, NAME{matchers}.")],
    start: Annotated[str, typer.Option("--from", help="Start: now-6h, Unix seconds or ISO (UTC unless it has "
                                       "an offset); rounded down to a multiple of --step.")],
    end: Annotated[str, typer.Option("--to", help="End, same forms (default: now); a date alone is its end.")
                   ] = "now",
    step: Annotated[str, typer.Option("--step", help="Resolution and sli_events bucket, e.g. 15s, 1m, 1h.")] = "1m",
    into: Annotated[str, typer.Option("--into", help="telemetry_samples or sli_events.")] = "telemetry_samples",
    service: Annotated[str | None, typer.Option("--service", help="sli_events: the service.")] = None,
    indicator: Annotated[str | None, typer.Option("--indicator", help="sli_events: the indicator, e.g. "
                                                  "availability.")] = None,
    good_query: Annotated[str | None, typer.Option("--good-query", help="sli_events, counters: the good events."
                                                   )] = None,
    bad_query: Annotated[str | None, typer.Option("--bad-query", help="sli_events, counters: the bad events "
                                                  "(good = total - bad).")] = None,
    le: Annotated[float | None, typer.Option("--le", help="sli_events, histogram: the latency threshold in "
                                             "seconds (a bucket bound).")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="telemetry_samples: the metric name of result "
                                               "series without one (after rate(), sum()).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Import a range query from a Prometheus HTTP API into telemetry_samples, or as good/total counts per step
    into sli_events: counters become per-step increases (resets handled), a histogram good (at most --le) and
    total events.

    Example: engmetrics telemetry import-prometheus --url http://localhost:9090 --query 'up' --from now-6h --step 1m

    SLI: engmetrics telemetry import-prometheus --url http://prom:9090 --into sli_events --service api --indicator
    latency --query 'http_request_seconds{job="api"}' --le 0.3 --from 2026-03-01 --to 2026-03-31 --step 5m
    """
    if into not in _INTO:
        raise fail(f"--into {into!r}: expected one of {', '.join(_INTO)}", code=2)
    try:
        seconds = duration_seconds(step)
    except ValueError as exc:
        raise fail(f"--step: {exc}", code=2) from None
    begin, finish = parse_instant(start), parse_instant(end, end=True)
    if into == "telemetry_samples":
        if service or indicator or good_query or bad_query or le is not None:
            raise InputError("--service, --indicator, --good-query, --bad-query and --le apply to --into sli_events")
        with open_store() as store:
            receivers = state.settings.telemetry.receivers
            result = import_samples(store, url, query, begin, finish, seconds, metric=metric,
                                    priority=receivers.source_priority, window=receivers.overlap_window_seconds)
    else:
        if not service or not indicator:
            raise InputError("--into sli_events needs --service and --indicator")
        if metric:
            raise InputError("--metric applies to --into telemetry_samples")
        spec = SliQuery(query, good_query, bad_query, le)
        with open_store() as store:
            result = import_sli(store, url, spec, begin, finish, seconds, service=service, indicator=indicator)
    if json_out:
        emit_json(result.to_dict())
    else:
        _print_import(result)
