"""`engmetrics incidents stats` (lifecycle durations with intervals) and `engmetrics incidents oncall`
(on-call load per rotation). Thin shells over `engmetrics.incidents.durations` and `.oncall`.

`--from` and `--to` are ISO dates or instants (UTC unless they carry an offset), read like the API's
`from`/`to` (`engmetrics.incidents.search.parse_bound`): a date alone as `--to` includes that whole day."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError
from ..incidents.durations import DURATIONS, GROUPINGS, GroupStats, duration_stats
from ..incidents.oncall import oncall_load
from ..incidents.search import parse_bound
from ..timeutil import DEFAULT_WINDOW_DAYS
from ..timeutil import default_window as library_window
from .common import JsonOption, console, emit_json, fail, open_store, state

__all__ = ["FromOption", "ToOption", "default_window", "oncall_command", "parse_window", "stats_command"]

FromOption = Annotated[str | None, typer.Option("--from", help="Start, ISO date or instant (UTC unless it has an "
                                                "offset).")]
ToOption = Annotated[str | None, typer.Option("--to", help="End, exclusive (UTC unless it has an offset); a date "
                                              "alone includes that whole day.")]


def parse_window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """(--from, --to) as UTC instants (`parse_bound`); exit 1 on a bad value or when --to is not after --from."""
    try:
        begin, stop = parse_bound(start), parse_bound(end, end=True)
    except InputError as exc:
        raise fail(exc) from None
    if begin and stop and stop <= begin:
        raise fail(f"--to ({stop.isoformat()}) must be after --from ({begin.isoformat()})")
    return begin, stop


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value / 60:.1f}"


def _interval(ci: list[float] | None) -> str:
    return "-" if ci is None else f"{ci[0] / 60:.1f}-{ci[1] / 60:.1f}"


def _stats_table(groups: list[GroupStats], by: str | None) -> Table:
    table = Table(by or "group", "incidents", "duration", "n", "p50 min", "95 % CI p50", "p90 min", "p95 min",
                  "mean min", "invalid", "missing", title="Incident durations (minutes)")
    for g in groups:
        for d in DURATIONS:
            s = g.durations[d].to_dict()
            table.add_row(g.group, str(g.count), d, str(s["n"]), _minutes(s["p50"]), _interval(s["ci95"]),
                          _minutes(s["p90"]), _minutes(s["p95"]), _minutes(s["mean"]), str(s["invalid"]),
                          str(s["missing"]))
    return table


def _compare_table(groups: list[GroupStats]) -> Table:
    table = Table("group", "duration", "n prev", "n now", "p50 prev", "p50 now", "change", "95 % CI change",
                  "MDE", "verdict", title="Change of the median from the previous period (minutes)")
    for g in groups:
        for d, c in (g.compare_previous or {}).items():
            verdict = "-" if c.within_noise is None else "within noise" if c.within_noise else "real change"
            table.add_row(g.group, d, str(c.n_previous), str(c.n_current), _minutes(c.previous_p50),
                          _minutes(c.current_p50), _minutes(c.change),
                          _interval(list(c.ci95_change) if c.ci95_change else None), _minutes(c.mde), verdict)
    return table


def default_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """`engmetrics.timeutil.default_window` for --from/--to; exit 1 when --to is not after --from."""
    try:
        return library_window(start, end)
    except ValueError as exc:
        raise fail(f"--to: {exc}") from None


def stats_command(
    by: Annotated[str | None, typer.Option("--by", help=f"Group by {', '.join(GROUPINGS)}.")] = None,
    start: FromOption = None,
    end: ToOption = None,
    compare_previous: Annotated[bool, typer.Option(
        "--compare-previous", help=f"Compare each median with the previous period of the same length (default "
        f"window: the {DEFAULT_WINDOW_DAYS} days before --to, --to default now).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Time to detect, acknowledge, mitigate and resolve: p50, p90, p95, mean with bootstrap 95 % intervals.

    Example: engmetrics incidents stats --by severity --from 2026-01-01 --to 2026-04-01 --json
    """
    if by is not None and by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)} (got {by!r})")
    begin, stop = parse_window(start, end)
    if compare_previous:
        begin, stop = default_window(begin, stop)
    with open_store(read_only=True) as store:
        groups = duration_stats(store, state.settings.incidents, by=by, start=begin, end=stop,  # type: ignore[arg-type]
                                compare_previous=compare_previous)
    if as_json:
        emit_json([g.to_dict() for g in groups])
        return
    console.print(_stats_table(groups, by))
    if compare_previous:
        console.print(_compare_table(groups))


def _share(value: float | None) -> str:
    return "suppressed" if value is None else f"{value * 100:.0f} %"


def _count(value: int | None) -> str:
    return "suppressed" if value is None else str(value)


def oncall_command(start: FromOption = None, end: ToOption = None, as_json: JsonOption = False) -> None:
    """On-call load per rotation: pages per shift, incidents per 12 hours, time on call, severity-adjusted
    response times, and the SRE-book limits (2 incidents per 12-hour shift, 25 % of time on call).

    Example: engmetrics incidents oncall --from 2026-01-01 --to 2026-04-01 --json
    """
    begin, stop = parse_window(start, end)
    settings = state.settings
    with open_store(read_only=True) as store:
        loads = oncall_load(store, settings.incidents, start=begin, end=stop,
                            min_group_size=settings.privacy.min_group_size)
    if as_json:
        emit_json([r.to_dict() for r in loads])
        return
    table = Table("rotation", "team", "shifts", "people", "pages/shift", "incidents/12h", "max in 12h",
                  "max on call", "median on call", "> 25 %", "tta adj min", "ttr adj min", "limits",
                  title="On-call load (rotation aggregates; nobody is named)")
    for r in loads:
        broken = [name for name, hit in (("incidents", r.incident_limit_exceeded),
                                         ("time on call", r.time_limit_exceeded)) if hit]
        table.add_row(r.rotation, r.team, str(r.shifts), str(r.people), f"{r.pages_per_shift_mean:.1f}",
                      "-" if r.incidents_per_12h is None else f"{r.incidents_per_12h:.2f}",
                      str(r.max_incidents_per_12h), _share(r.max_share_on_call), _share(r.median_share_on_call),
                      _count(r.people_over_time_limit), _minutes(r.tta["mean"]), _minutes(r.ttr["mean"]),  # type: ignore[arg-type]
                      f"[red]{', '.join(broken)}[/]" if broken else "[green]ok[/]")
    console.print(table)
