"""`engmetrics delivery silos`, `guardrails` and `feedback`: thin shells over `engmetrics.delivery.silos`,
`.support`, `.docs_freshness`, `.guardrails` and `.feedback` (semantics in those modules' docstrings)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.table import Table

from ..delivery.feedback import feedback_report
from ..delivery.guardrails import guardrails, latest_numbers, month_window
from ..delivery.silos import silos_report
from .common import JsonOption, console, emit_json, fail, open_store, state

__all__ = ["feedback_command", "guardrails_command", "silos_command"]

AsOf = Annotated[str | None, typer.Option("--as-of", help="ISO date the state is read at (default today, UTC).")]


def _as_of(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else datetime.now(UTC).date()
    except ValueError:
        raise fail(f"--as-of must be an ISO date (got {value!r})") from None


def _month(value: str, option: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise fail(f"{option} must be a month YYYY-MM (got {value!r})") from None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _silos_table(rows: list[dict], column: str, title: str) -> Table:
    table = Table(column, "files", "owners", "truck factor", "single-owner files", "leaver files", "orphaned",
                  title=title)
    for r in rows:
        table.add_row(r[column], str(r["files"]), str(r["owners"]), str(r["truck_factor"]),
                      str(r["single_owner_files"]), str(r["leaver_files"]), str(r["orphaned_files"]))
    return table


def silos_command(as_of: AsOf = None,
                  min_dependents: Annotated[int, typer.Option(help="Teams asking a team to call it a bottleneck.")] = 3,
                  as_json: JsonOption = False) -> None:
    """Truck factors, single-owner and leaver-owned file counts, the support graph, documentation freshness, as they
    stood at the start of --as-of (UTC midnight): later commits and support requests do not count yet.

    Example: engmetrics delivery silos --as-of 2026-06-01 --json
    """
    day = _as_of(as_of)
    with open_store(read_only=True) as store:
        data = silos_report(store, day, min_dependents)
    if as_json:
        emit_json(data)
        return
    repos, services = (_silos_table(data[key], column, f"Knowledge silos per {column} (counts; nobody is named)")
                       for key, column in (("repositories", "repo"), ("services", "service")))
    teams = Table("team", "single-owner files", "leaver files", title="Files per team of the owner")
    for t in data["teams"]:
        teams.add_row(str(t["team"]), str(t["single_owner_files"]), str(t["leaver_files"]))
    support = Table("team", "asked by teams", "requests", "open", "p50 h", "bottleneck", "own requests",
                    title="Support requests from other teams")
    for s in data["support"]["teams"]:
        support.add_row(s["team"], str(s["in_degree"]), str(s["requests"]), str(s["open"]), _fmt(s["p50_hours"], 1),
                        "[red]yes[/]" if s["bottleneck"] else "no", str(s["self_requests"]))
    docs = [_docs_table(data[key], column) for key, column in (("docs", "team"), ("docs_by_service", "service"))]
    for table in (repos, services, teams, support, *docs):
        console.print(table)


def _docs_table(rows: list[dict], column: str) -> Table:
    table = Table(column, "docs", "median age d", "fresh (90 d)", "stale",
                  title=f"Documentation freshness per {column}")
    for d in rows:
        table.add_row(str(d[column]), str(d["docs"]), _fmt(d["median_age_days"], 0),
                      f"{d['fresh_share'] * 100:.0f} %", str(d["stale"]))
    return table


def _window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    try:
        return month_window(_month(start, "--from") if start else None, _month(end, "--to") if end else None)
    except ValueError as exc:
        raise fail(f"--to: {exc}") from None


def _guardrails(store, start: datetime, end: datetime):
    settings = state.settings
    return guardrails(store, settings.delivery, start=start, end=end,
                      deploy_window_hours=settings.incidents.deploy_window_hours)


def guardrails_command(
    start: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM (default 6 months before --to).")]
    = None,
    end: Annotated[str | None, typer.Option("--to", help="Month YYYY-MM after the last (default this month).")]
    = None,
    as_json: JsonOption = False,
) -> None:
    """Velocity beside its guardrail per team and month; flags debt risk (velocity up, guardrail worse).

    Example: engmetrics delivery guardrails --from 2026-01 --to 2026-07 --json
    """
    begin, stop = _window(start, end)
    with open_store(read_only=True) as store:
        teams = _guardrails(store, begin, stop)
    if as_json:
        emit_json([t.to_dict() for t in teams])
        return
    for t in teams:
        table = Table("metric", *t.months, title=f"Guardrails of {t.team}")
        for metric, values in t.series.items():
            table.add_row(metric, *(_fmt(v) for v in values))
        console.print(table)
        for f in t.flags:
            console.print(f"[red]debt risk[/] {t.team}: {f.velocity} improved while {f.guardrail} worsened "
                          f"({f.previous} -> {f.month})")


def feedback_command(as_of: AsOf = None, as_json: JsonOption = False) -> None:
    """Peer feedback per team and dimension, calibrated for rater leniency, suppressed below the group size.

    Example: engmetrics delivery feedback --json
    """
    day = _as_of(as_of)
    settings = state.settings
    begin, stop = _window(None, None)
    with open_store(read_only=True) as store:
        delivery = latest_numbers(_guardrails(store, begin, stop))
        report = feedback_report(store, min_group_size=settings.privacy.min_group_size, as_of=day, delivery=delivery)
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(f"[yellow]{report.caveat}[/]")
    table = Table("team", "period", "dimension", "ratees", "mean z", "mean score", "deploys", "change fail rate",
                  title="Peer feedback per team (calibrated; no individual results)")
    for g in report.groups:
        d = g.delivery or {}
        if g.suppressed:
            table.add_row(str(g.team), g.period, g.dimension, f"suppressed (< {report.min_group_size})", "-", "-",
                          _fmt(d.get("deploys"), 0), _fmt(d.get("change_fail_rate")))
            continue
        table.add_row(str(g.team), g.period, g.dimension, str(g.ratees), _fmt(g.mean_z), _fmt(g.mean_score),
                      _fmt(d.get("deploys"), 0), _fmt(d.get("change_fail_rate")))
    console.print(table)
