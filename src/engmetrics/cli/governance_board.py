"""`engmetrics governance propose|approve|reject|status`: the review board's decisions (a thin shell over
`engmetrics.governance.board`; the rules and states are documented there)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..catalog.loader import load_catalog
from ..governance import board
from ..governance.identity import actor
from .common import JsonOption, console, emit_json, open_store, state
from .governance import AsOption, app

__all__ = ["approve_command", "propose_command", "reject_command", "status_command"]

MetricArgument = Annotated[str, typer.Argument(help="Indicator id.")]
RationaleOption = Annotated[str, typer.Option("--rationale", help="Why, for the record (required).")]


def _decide(metric: str, action: str, who: str | None, rationale: str | None, as_json: bool) -> None:
    catalog = load_catalog(state.settings.workspace)
    definition = catalog.get(metric)
    with open_store() as store:
        if action == "propose":
            decision = board.propose(store, catalog.review_board, definition, actor(who))
        else:
            decide = board.approve if action == "approve" else board.reject
            decision = decide(store, catalog.review_board, definition, actor(who), rationale or "")
        status = board.approval_status(store, catalog.review_board, definition.indicator)
    if as_json:
        emit_json({"decision": decision.to_dict(), "status": status.to_dict()})
        return
    console.print(f"{escape(decision.actor)}: {action} {escape(metric)} {decision.version}; now "
                  f"{_state(status.to_dict())}", highlight=False)


def _state(s: dict[str, object]) -> str:
    quorum = s["quorum"] if s["quorum"] is not None else "?"
    return f"{s['state']} ({s['approvals']}/{quorum} approvals)" if s["state"] == "pending" else str(s["state"])


@app.command("propose")
def propose_command(metric: MetricArgument, who: AsOption = None, as_json: JsonOption = False) -> None:
    """Ask the review board to approve the indicator's current approval version (its definition without
    status, review_by and tags). Refused when the members other than you cannot reach the quorum.

    Example: engmetrics governance propose reviews_per_person --as alice
    """
    _decide(metric, "propose", who, None, as_json)


@app.command("approve")
def approve_command(metric: MetricArgument, rationale: RationaleOption, who: AsOption = None,
                    as_json: JsonOption = False) -> None:
    """Approve the proposed current version (a board member other than the proposer).

    Example: engmetrics governance approve reviews_per_person --rationale "weekly, groups of 5+" --as bob
    """
    _decide(metric, "approve", who, rationale, as_json)


@app.command("reject")
def reject_command(metric: MetricArgument, rationale: RationaleOption, who: AsOption = None,
                   as_json: JsonOption = False) -> None:
    """Reject the proposed current version (a board member).

    Example: engmetrics governance reject reviews_per_person --rationale "invites ranking people" --as carol
    """
    _decide(metric, "reject", who, rationale, as_json)


@app.command("status")
def status_command(metric: Annotated[str | None, typer.Argument(help="One indicator (with its decisions).")] = None,
                   as_json: JsonOption = False) -> None:
    """Every indicator that needs review-board approval: state, approval version, approvals/quorum, last
    decision.

    Example: engmetrics governance status --json
    """
    catalog = load_catalog(state.settings.workspace)
    with open_store(read_only=True) as store:
        if metric is not None:
            rows = [board.approval_detail(store, catalog.review_board, catalog.get(metric).indicator)]
        else:
            rows = [s.to_dict() for s in board.approval_queue(store, catalog.review_board, catalog)]
    if as_json:
        emit_json(rows[0] if metric is not None else rows)
        return
    if catalog.review_board is None:
        console.print(f"no review board: create {board.BOARD_FILE}", style="yellow")
    table = Table("metric", "state", "version", "approvals", "reasons", "last decision", title="Review board")
    for r in rows:
        last = r["last_decision"]
        table.add_row(escape(r["metric"]), r["state"], r["version"], f"{r['approvals']}/{r['quorum'] or '?'}",
                      escape(", ".join(r["reasons"]) or "-"),
                      escape(f"{last['action']} by {last['actor']} {last['decided_at'][:10]}") if last else "-")
    console.print(table)
    for d in rows[0].get("decisions", []) if metric is not None else []:
        console.print(f"{d['decided_at'][:16]} {escape(d['actor'])} {d['action']} {d['version']}: "
                      f"{escape(d['rationale'] or '')}", highlight=False)
