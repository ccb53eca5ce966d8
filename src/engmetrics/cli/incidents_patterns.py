"""`engmetrics incidents patterns | actions | correlate`: recurring patterns, action-item follow-through and
ranked evidence around one incident (semantics in engmetrics.incidents.patterns, .actions, .correlate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError
from ..incidents.actions import action_follow_through
from ..incidents.correlate import correlate_incident
from ..incidents.patterns import recurring_patterns
from .common import JsonOption, console, emit_json, fail, open_store, state

__all__ = ["actions_command", "correlate_command", "patterns_command"]


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def patterns_command(
    min_size: Annotated[int, typer.Option("--min-size", min=2, help="Smallest number of incidents in a pattern.")]
    = 2,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0,
                                             help="TF-IDF cosine similarity that links two incidents.")] = 0.3,
    period: Annotated[str, typer.Option("--period", help="Trend buckets: quarter or month.")] = "quarter",
    as_json: JsonOption = False,
) -> None:
    """Recurring incident patterns: same service and similar text or a shared contributing factor, with trend,
    responder hours and whether it recurred after its action items were closed.

    Example: engmetrics incidents patterns --min-size 3 --json
    """
    if period not in ("quarter", "month"):
        raise fail(f"--period must be quarter or month, not {period!r}")
    with open_store(read_only=True) as store:
        found = recurring_patterns(store, min_size=min_size, threshold=threshold, period=period)  # type: ignore[arg-type]
    if as_json:
        emit_json([p.to_dict() for p in found])
        return
    table = Table("pattern", "service", "incidents", "terms", "factors", "trend", "responder hours",
                  "recurred after closure")
    for p in found:
        trend = f"{p.direction} ({', '.join(str(c['incidents']) for c in p.counts)})"
        table.add_row(p.pattern_id, p.service or "-", f"{p.size}: {', '.join(p.incident_ids)}", ", ".join(p.terms),
                      ", ".join(p.factors) or "-", trend, f"{p.responder_hours:.1f}",
                      ", ".join(p.recurrences) or "no")
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
        table.add_row(r.owner_team or "(no owner)", str(r.items), str(r.done), str(r.open), str(r.overdue),
                      str(r.wont_do), rate, f"{_hours(r.median_seconds)} / {_hours(r.p90_seconds)} (n={r.completed})")
    console.print(table)


def correlate_command(
    incident: Annotated[str, typer.Argument(help="incident_id of the incident.")],
    as_json: JsonOption = False,
) -> None:
    """Ranked evidence around an incident: deploys of the service and its dependencies, metric change points,
    first alerts, similar past incidents.

    Example: engmetrics incidents correlate INC-1042 --json
    """
    with open_store(read_only=True) as store:
        try:
            evidence = correlate_incident(store, incident, window_hours=state.settings.incidents.deploy_window_hours)
        except InputError as exc:
            raise fail(exc) from None
    if as_json:
        emit_json([e.to_dict() for e in evidence])
        return
    table = Table("score", "kind", "offset", "detail")
    for e in evidence:
        offset = "-" if e.offset_seconds is None else f"{e.offset_seconds / 60:+.0f} min"
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if v is not None)
        table.add_row(f"{e.score:.2f}", e.kind, offset, detail)
    console.print(table)
