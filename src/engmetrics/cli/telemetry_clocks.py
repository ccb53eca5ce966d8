"""`engmetrics telemetry clocks` (clock checks per source) and `engmetrics telemetry overlaps` (series that two
pipelines delivered, kept once): thin shells over `engmetrics.telemetry.clocks` and `engmetrics.telemetry.dedup`.

Both read restricted data (`telemetry_samples`); on a local store the CLI acts as the workspace owner.

Exit codes of `clocks`: 0, also for bad verdicts, unless `--fail-on` names verdicts: then 3 when a listed source
has one of them; 1 bad input; 2 bad usage (e.g. an unknown verdict in `--fail-on`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from ..incidents.search import parse_bound
from ..telemetry.clocks import VERDICTS, StoredClock, stored_clocks
from ..telemetry.dedup import overlaps
from .common import JsonOption, console, emit_json, fail, open_store, state
from .telemetry import app

__all__ = ["FAILING", "clocks_command", "overlaps_command"]

FAILING = 3  # exit code of `clocks --fail-on` when a source has one of the named verdicts
_COLOURS = {"ok": "green", "insufficient_data": "yellow", "out_of_order": "yellow"}


def _verdicts(text: str | None) -> frozenset[str]:
    names = frozenset(v.strip() for v in (text or "").split(",") if v.strip())
    unknown = sorted(names - set(VERDICTS))
    if unknown:
        raise typer.BadParameter(f"unknown verdict(s) {', '.join(unknown)}; known: {', '.join(VERDICTS)}",
                                 param_hint="--fail-on")
    return names


def _since(text: str | None) -> datetime | None:
    try:
        return parse_bound(text)
    except InputError as exc:
        raise fail(f"--since: {exc}") from None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _clock_table(checks: list[StoredClock]) -> Table:
    table = Table("source", "samples", "no received_at", "quarantined skew", "skew median s", "skew p99 s",
                  "future", "out of order", "tz offset h", "verdict",
                  title="Clock checks per source (skew = received_at - ts)")
    for check in checks:
        c = check.clock
        colour = _COLOURS.get(c.verdict, "red")
        offset = "-" if c.timezone_offset_hours is None else f"{c.timezone_offset_hours:+d}"
        table.add_row(escape(c.source or "(none)"), f"{c.samples:,}", f"{check.without_received_at:,}",
                      f"{check.quarantined_skew:,}", _seconds(c.skew_median_seconds), _seconds(c.skew_p99_seconds),
                      f"{c.future:,}",
                      f"{c.out_of_order:,}", offset, f"[{colour}]{c.verdict}[/]")
    return table


@app.command("clocks")
def clocks_command(
    since: Annotated[str | None, typer.Option(
        "--since", help="Only samples received at or after this ISO date or instant (UTC unless it has an "
        "offset); samples without a receive time: taken at or after it.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source (exact name).")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help=f"Comma-separated verdicts ({', '.join(VERDICTS)}): exit 3 when a source has one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Clock checks per source: skew, future and out-of-order samples, timezone offsets, verdict.

    Skew is received_at - ts (median, p99); a median near whole hours is a timezone offset. Thresholds:
    telemetry.clocks in engmetrics.yaml. Samples without received_at (loaded from files without it) are counted,
    not judged. Samples the receivers, scrape or import quarantined for skew count towards 'skewed'
    (quarantined_skew). See docs/telemetry-clocks.md.

    JSON: a list, one entry per source, with source, samples, skew_median_seconds, skew_p99_seconds, future,
    out_of_order, timezone_offset_hours, verdict, without_received_at and quarantined_skew.

    Example: engmetrics telemetry clocks --since 2026-03-01 --fail-on timezone_offset,skewed --json
    """
    failing, start = _verdicts(fail_on), _since(since)
    with open_store(read_only=True) as store:
        checks = stored_clocks(store.table("telemetry_samples"), state.settings.telemetry.clocks, since=start,
                               source=source, quarantine=store.table("_quarantine"))
    if as_json:
        emit_json([c.to_json() for c in checks])
    elif checks:
        console.print(_clock_table(checks))
    else:
        console.print("no telemetry samples" + (f" from source {escape(source)}" if source else "")
                      + (f" since {start.isoformat()}" if start else ""), highlight=False)
    if any(c.clock.verdict in failing for c in checks):
        raise typer.Exit(FAILING)


def _overlap_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("series", "kept source", "dropped source", "first ts (UTC)", "last ts (UTC)", "samples dropped",
                  title="Series delivered by two pipelines, kept once (by source priority)")
    for row in rows:
        table.add_row(escape(row["series"]), escape(row["kept_source"]), escape(row["dropped_source"]),
                      f"{row['first_ts']:%Y-%m-%d %H:%M:%S}", f"{row['last_ts']:%Y-%m-%d %H:%M:%S}",
                      f"{row['samples']:,}")
    return table


@app.command("overlaps")
def overlaps_command(as_json: JsonOption = False) -> None:
    """Series that arrived from two pipelines and were kept once, by source priority.

    Two sources overlap where their samples of a series lie within telemetry.receivers.overlap_window_seconds
    (an HA pair of Prometheus replicas, a scrape and a remote-write). Per series: the source kept, the source
    dropped, the span of the dropped (or evicted) samples and how many.

    JSON: a list of series, kept_source, dropped_source, first_ts, last_ts (ISO, UTC) and samples.

    Example: engmetrics telemetry overlaps --json
    """
    with open_store(read_only=True) as store:
        rows = overlaps(store)
    if as_json:
        emit_json(rows)
    elif rows:
        console.print(_overlap_table(rows))
    else:
        console.print("no overlaps: no series has arrived from two pipelines", highlight=False)
