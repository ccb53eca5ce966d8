"""`engmetrics audit log` and `engmetrics audit verify`: the tamper-evident audit log (a thin shell over
`engmetrics.governance.audit`).

Exit codes of `verify`: 0 the chain is intact, 3 it is not (an entry edited, removed or reordered, or the
newest entries cut off when `--expect-head` names a hash the chain no longer has): the first bad entry and
the problem are printed; 1 bad input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from ..governance.audit import AuditEntry, Verification, entries, verify
from ..incidents.search import parse_bound
from .common import JsonOption, console, emit_json, fail, open_store

__all__ = ["BROKEN", "app", "log_command", "verify_command"]

app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log: list and verify.")

BROKEN = 3  # exit code of `verify` when the chain is not intact


def _bound(option: str, text: str | None, *, end: bool) -> datetime | None:
    try:
        return parse_bound(text, end=end)
    except InputError as exc:
        raise fail(f"{option}: {exc}") from None


def _details(entry: AuditEntry) -> str:
    if not entry.details:
        return ""
    return ", ".join(f"{k}={v}" for k, v in entry.details.items())


def _table(found: list[AuditEntry]) -> Table:
    table = Table("seq", "at (UTC)", "actor", "action", "target", "reason", "details",
                  title=f"Audit log: {len(found)} entr{'y' if len(found) == 1 else 'ies'}")
    for e in found:
        table.add_row(str(e.seq), e.at.strftime("%Y-%m-%d %H:%M:%S"), escape(e.actor), escape(e.action),
                      escape(e.target or ""), escape(e.reason or ""), escape(_details(e)))
    return table


@app.command("log")
def log_command(
    since: Annotated[str | None, typer.Option("--since", help="Entries at or after this ISO date or instant "
                                              "(UTC unless it has an offset).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Entries before this instant; a date includes "
                                              "that whole day.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only entries by this actor.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only actions starting with this, e.g. "
                                               "`governance.` or `read.dataset`.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only entries about this target.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N (after filtering).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List audit entries, oldest first: who did what, to what, when and why.

    JSON: a list of entries with seq, at, actor, action, target, reason, details, prev_hash and hash.

    Example: engmetrics audit log --action read. --since 2026-03-01 --limit 50
    """
    start, stop = _bound("--since", since, end=False), _bound("--until", until, end=True)
    with open_store(read_only=True) as store:
        found = entries(store, since=start, until=stop, actor=actor, action=action, target=target, limit=limit)
    if as_json:
        emit_json([e.to_dict() for e in found])
        return
    console.print(_table(found))


def _print(result: Verification) -> None:
    if result.ok:
        head = f"head #{result.head_seq} {result.head}" if result.head else "empty"
        console.print(f"[green]audit log intact[/]: {result.entries} entries, {head}", highlight=False)
        return
    where = f"entry #{result.first_bad}" if result.first_bad is not None else "the chain"
    console.print(f"[bold red]audit log BROKEN[/] at {where}: {escape(result.problem or '')} "
                  f"({result.entries} entries)", highlight=False, soft_wrap=True)


@app.command("verify")
def verify_command(
    expect_head: Annotated[str | None, typer.Option("--expect-head", help="A head hash kept elsewhere (e.g. an "
                                                    "export bundle's manifest): fail when the chain no longer "
                                                    "contains it (its newest entries were removed).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the audit log's hash chain: exit 0 when intact, 3 naming the first bad entry when not.

    JSON: ok, entries, head_seq, head, first_bad, problem.

    Example: engmetrics audit verify --expect-head 3f2a...c9 --json
    """
    with open_store(read_only=True) as store:
        result = verify(store, expect_head=expect_head)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print(result)
    if not result.ok:
        raise typer.Exit(BROKEN)
