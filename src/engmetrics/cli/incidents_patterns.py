"""`engmetrics incidents patterns | actions | correlate`: recurring patterns, action-item follow-through and
ranked evidence around one incident (semantics in engmetrics.incidents.patterns, .actions, .correlate).

`patterns` and `correlate` show incident text: with `--as-role ROLE [--team T]` they show what that reader
may see (`engmetrics.incidents.confidentiality`; default: the workspace owner, who sees everything). Every
value that comes from the data is escaped before Rich renders it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..auth.roles import ROLES
from ..errors import InputError
from ..incidents.actions import action_follow_through
from ..incidents.correlate import correlate_incident
from ..incidents.patterns import recurring_patterns
from .common import JsonOption, console, emit_json, fail, open_store, state
from .incidents_search import reader_of

__all__ = ["actions_command", "correlate_command", "patterns_command"]

AsRole = Annotated[str | None, typer.Option("--as-role", help=f"See what this role sees: {', '.join(ROLES)} "
                                            "(default: the workspace owner, who sees everything).")]
Teams = Annotated[list[str] | None, typer.Option("--team", help="A team of --as-role team-member (repeatable).")]


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def _join(values: list[str]) -> str:
    return escape(", ".join(values))


def _trend(direction: str, counts: list[dict]) -> str:
    """``rising (2 in 90 d, 1 in 10 d)``: each period's incidents and observed days."""
    periods = ", ".join(f"{c['incidents']} in {c['days']} d" for c in counts)
    return f"{direction} ({periods})"


def patterns_command(
    min_size: Annotated[int, typer.Option("--min-size", min=2, help="Smallest number of incidents in a pattern.")]
    = 2,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0,
                                             help="TF-IDF cosine similarity that links two incidents.")] = 0.3,
    period: Annotated[str, typer.Option("--period", help="Trend buckets: quarter or month.")] = "quarter",
    as_role: AsRole = None,
    team: Teams = None,
    as_json: JsonOption = False,
) -> None:
    """Recurring incident patterns: same service and similar text (a shared contributing factor lowers the
    similarity needed), with trend, responder hours and whether it recurred after its action items were
    closed. With --as-role, patterns holding an incident that role may not read are left out.

    Example: engmetrics incidents patterns --min-size 3 --as-role viewer --json
    """
    if period not in ("quarter", "month"):
        raise fail(f"--period must be quarter or month, not {period!r}")
    try:
        reader = reader_of(as_role, team)
    except InputError as exc:
        raise fail(exc) from None
    with open_store(read_only=True) as store:
        found = recurring_patterns(store, min_size=min_size, threshold=threshold, period=period,  # type: ignore[arg-type]
                                   reader=reader)
    if as_json:
        emit_json([p.to_dict() for p in found])
        return
    table = Table("pattern", "service", "incidents", "terms", "factors", "trend", "responder hours",
                  "recurred after closure")
    for p in found:
        table.add_row(p.pattern_id, escape(p.service or "-"), f"{p.size}: {_join(p.incident_ids)}", _join(p.terms),
                      _join(p.factors) or "-", _trend(p.direction, p.counts), f"{p.responder_hours:.1f}",
                      _join(p.recurrences) or "no")
    console.print(table)


def actions_command(as_json: JsonOption = False) -> None:
    """Postmortem action-item follow-through per owner team: completion rate, overdue open items, time to
    complete (median, p90).

    Example: engmetrics incidents actions --json
    """
    with open_store(read_only=True) as store:
        rows = action_follow_through(store, now=datetime.now(UTC))
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    table = Table("team", "items", "done", "open", "overdue", "won't do", "completion", "to complete p50 / p90")
    for r in rows:
        rate = "-" if r.completion_rate is None else f"{r.completion_rate * 100:.0f} %"
        table.add_row(escape(r.owner_team or "(no owner)"), str(r.items), str(r.done), str(r.open), str(r.overdue),
                      str(r.wont_do), rate, f"{_hours(r.median_seconds)} / {_hours(r.p90_seconds)} (n={r.completed})")
    console.print(table)


def correlate_command(
    incident: Annotated[str, typer.Argument(help="incident_id of the incident.")],
    as_role: AsRole = None,
    team: Teams = None,
    as_json: JsonOption = False,
) -> None:
    """Ranked evidence around an incident: deploys of the service and its dependencies (causes), metric change
    points and first alerts (symptoms), similar past incidents (hints). With --as-role, a similar incident
    that role may not read shows its id and score only.

    Example: engmetrics incidents correlate INC-1042 --as-role team-member --team payments --json
    """
    try:
        reader = reader_of(as_role, team)
        with open_store(read_only=True) as store:
            evidence = correlate_incident(store, incident, reader=reader,
                                          window_hours=state.settings.incidents.deploy_window_hours,
                                          environments=state.settings.delivery.production_environments)
    except InputError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json([e.to_dict() for e in evidence])
        return
    table = Table("score", "kind", "offset", "detail")
    for e in evidence:
        offset = "-" if e.offset_seconds is None else f"{e.offset_seconds / 60:+.0f} min"
        detail = escape(", ".join(f"{k}={v}" for k, v in e.detail.items() if v is not None))
        table.add_row(f"{e.score:.2f}", e.kind, offset, detail)
    console.print(table)
