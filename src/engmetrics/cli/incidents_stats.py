"""`engmetrics incidents stats` (lifecycle durations with intervals) and `engmetrics incidents oncall`
(on-call load per rotation). Thin shells over `engmetrics.incidents.durations` and `.oncall`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..incidents.durations import DURATIONS, GroupStats, duration_stats
from ..incidents.oncall import oncall_load
from ..timeutil import as_utc
from .common import JsonOption, console, emit_json, fail, open_store, state

__all__ = ["oncall_command", "stats_command"]

FromOption = Annotated[datetime | None, typer.Option("--from", help="Start (UTC unless it has an offset).")]
ToOption = Annotated[datetime | None, typer.Option("--to", help="End, exclusive (UTC unless it has an offset).")]
_DEFAULT_DAYS = 28


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


def stats_command(
    by: Annotated[str | None, typer.Option("--by", help="Group by severity, service, team, month or week.")] = None,
    start: FromOption = None,
    end: ToOption = None,
    compare_previous: Annotated[bool, typer.Option(
        "--compare-previous", help=f"Compare each median with the previous period of the same length (default "
        f"window: the {_DEFAULT_DAYS} days before --to, --to default now).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Time to detect, acknowledge, mitigate and resolve: p50, p90, p95, mean with bootstrap 95 % intervals.

    Example: engmetrics incidents stats --by severity --from 2026-01-01 --to 2026-04-01 --json
    """
    if by is not None and by not in ("severity", "service", "team", "month", "week"):
        raise fail(f"--by must be one of severity, service, team, month, week (got {by!r})")
    start, end = start and as_utc(start), end and as_utc(end)
    if compare_previous:
        end = end or datetime.now(UTC).replace(second=0, microsecond=0)
        start = start or end - timedelta(days=_DEFAULT_DAYS)
    if start and end and end <= start:
        raise fail(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    with open_store(read_only=True) as store:
        groups = duration_stats(store, state.settings.incidents, by=by, start=start, end=end,  # type: ignore[arg-type]
                                compare_previous=compare_previous)
    if as_json:
        emit_json([g.to_dict() for g in groups])
        return
    console.print(_stats_table(groups, by))
    if compare_previous:
        console.print(_compare_table(groups))


def _share(value: float | None) -> str:
    return "suppressed" if value is None else f"{value * 100:.0f} %"


def oncall_command(start: FromOption = None, end: ToOption = None, as_json: JsonOption = False) -> None:
    """On-call load per rotation: pages per shift, incidents per 12 hours, time on call, severity-adjusted
    response times, and the SRE-book limits (2 incidents per 12-hour shift, 25 % of time on call).

    Example: engmetrics incidents oncall --from 2026-01-01 --to 2026-04-01 --json
    """
    start, end = start and as_utc(start), end and as_utc(end)
    if start and end and end <= start:
        raise fail(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    settings = state.settings
    with open_store(read_only=True) as store:
        loads = oncall_load(store, settings.incidents, start=start, end=end,
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
                      str(r.people_over_time_limit), _minutes(r.tta["mean"]), _minutes(r.ttr["mean"]),  # type: ignore[arg-type]
                      f"[red]{', '.join(broken)}[/]" if broken else "[green]ok[/]")
    console.print(table)
