"""`engmetrics incidents search QUERY`: BM25 full-text search over the incident archive (and postmortems),
with the confidentiality policy of `engmetrics.incidents.confidentiality` applied for `--as-role`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..auth.roles import ROLES, Principal, Role
from ..errors import InputError
from ..incidents.search import IncidentFilter, parse_bound, search_incidents
from .common import JsonOption, console, emit_json, fail, open_store

__all__ = ["reader_of", "search_command"]


def reader_of(role: str | None, teams: list[str] | None) -> Principal | None:
    """The reader `--as-role ROLE [--team T ...]` stands for; None (the workspace owner) without a role."""
    if role is None:
        if teams:
            raise InputError("--team needs --as-role team-member")
        return None
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if teams and role != Role.team_member:
        raise InputError(f"--team applies to --as-role team-member, not {role}")
    return Principal("cli", Role(role), tuple(teams or ()))


def search_command(
    query: Annotated[str, typer.Argument(help="Words to search for (case-insensitive; any of them may match).")],
    service: Annotated[str | None, typer.Option("--service", help="Only incidents of this service.")] = None,
    severity: Annotated[int | None, typer.Option("--severity", min=1, max=5, help="Only this severity.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="declared_at on or after this date/instant (UTC).")
                     ] = None,
    end: Annotated[str | None, typer.Option("--to", help="declared_at before this instant; a date includes "
                                            "that whole day (UTC).")] = None,
    factor: Annotated[str | None, typer.Option("--factor", help="Only incidents with this contributing factor.")
                      ] = None,
    as_role: Annotated[str | None, typer.Option("--as-role", help=f"See what this role sees: {', '.join(ROLES)} "
                                                "(default: the workspace owner, who sees everything).")] = None,
    team: Annotated[list[str] | None, typer.Option("--team", help="A team of --as-role team-member "
                                                   "(repeatable).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many results.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Search incidents (title, summary, root cause, contributing factors, service, postmortem text), best
    BM25 score first, with a snippet around the best match. Text the role may not read is neither searched
    nor shown.

    Example: engmetrics incidents search "database connection pool" --service checkout --from 2026-01-01 --json
    """
    try:
        reader = reader_of(as_role, team)
        filters = IncidentFilter(service, severity, parse_bound(start), parse_bound(end, end=True), factor)
        with open_store(read_only=True) as store:
            hits = search_incidents(store, query, reader, filters, limit=limit)
    except InputError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    table = Table("incident", "score", "severity", "service", "declared", "title", "snippet")
    for h in hits:
        snippet = "".join(f"[bold]{escape(text)}[/]" if match else escape(text) for text, match in h.parts)
        table.add_row(escape(h.incident_id), f"{h.score:.3f}", str(h.severity), escape(h.service or "-"),
                      "-" if h.declared_at is None else f"{h.declared_at:%Y-%m-%d %H:%M}",
                      escape(h.title or "-"), snippet)
    console.print(table if hits else f"no incident matches {escape(query)!r}")
