"""`engmetrics governance snapshot | history | hold ... | export-bundle`: the definition archive, legal holds
and discovery bundles. A thin shell over `engmetrics.governance.archive`, `.holds` and `.bundle`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from ..governance.archive import KINDS, history, record_definitions
from ..governance.bundle import export_bundle
from ..governance.holds import SCOPES, list_holds, place_hold, release_hold
from ..governance.identity import actor
from .common import JsonOption, console, emit_json, fail, open_store, state
from .governance import AsOption, app

__all__ = ["export_bundle_command", "history_command", "hold_app", "snapshot_command"]

hold_app = typer.Typer(no_args_is_help=True, help="Legal holds: data that retention must not delete.")
app.add_typer(hold_app, name="hold")

@app.command("snapshot")
def snapshot_command(
    at: Annotated[datetime | None, typer.Option(
        "--at", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        help="When the definitions took effect (UTC unless an offset is given; default: now). Backfill an "
             "older state, e.g. from the workspace's git history.")] = None,
    as_name: AsOption = None, as_json: JsonOption = False,
) -> None:
    """Record every definition (indicators, SLOs, budgets, policies, assessments) whose version changed in
    the archive; prints what changed. `metrics evaluate` and the API server do this too.

    Example: engmetrics governance snapshot --json
    """
    with open_store() as store:
        changes = record_definitions(store, state.settings.workspace, at=at, actor=actor(as_name))
    if as_json:
        emit_json([c.to_dict() for c in changes])
        return
    if not changes:
        console.print("archive up to date: no definition changed")
        return
    table = Table("kind", "id", "change", "version", "previous")
    for c in changes:
        table.add_row(c.kind, escape(c.id), c.change, c.version or "-", c.previous_version or "-")
    console.print(table)


@app.command("history")
def history_command(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    ident: Annotated[str, typer.Argument(metavar="ID", help="Indicator id, `SLO/NAME`, `Budget/NAME`, ...")],
    content: Annotated[bool, typer.Option("--content", help="Show each version's definition.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Every archived version of one definition, oldest first, with when it took effect.

    Example: engmetrics governance history indicator change_failure_rate --content
    """
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    with open_store(read_only=True) as store:
        rows = history(store, kind, ident)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        raise fail(f"the archive has no {kind} {ident!r}; record with `engmetrics governance snapshot`")
    for r in rows:
        what = r.version or "removed"
        console.print(f"[bold]{r.effective_at.isoformat()}[/]  {what}  [dim]{escape(r.source or '')}[/]")
        if content and r.content is not None:
            console.print(yaml.safe_dump(r.content, sort_keys=False, allow_unicode=True), markup=False,
                          highlight=False, soft_wrap=True)


def _holds_table(holds: list) -> Table:
    table = Table("hold", "scope", "target", "from", "to", "reason", "placed", "released")
    for h in holds:
        d = h.to_dict()
        released = f"{d['released_at']} by {d['released_by']}" if d["released_at"] else "-"
        table.add_row(d["hold_id"], d["scope"], escape(d["target"] or "(all)"), d["from"] or "-", d["to"] or "-",
                      escape(d["reason"]), f"{d['created_at']} by {escape(d['created_by'])}", escape(released))
    return table


@hold_app.command("place")
def hold_place_command(
    scope: Annotated[str, typer.Option("--scope", help=f"One of: {', '.join(SCOPES)}.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (a matter, a request); required.")],
    target: Annotated[str | None, typer.Option(
        "--target", help="Dataset name (scope dataset) or metric id (scope metric); none for a period.")] = None,
    from_day: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], help="First day held, inclusive (dataset/metric: default open).")] = None,
    to_day: Annotated[datetime | None, typer.Option(
        "--to", formats=["%Y-%m-%d"], help="Last day held, inclusive (dataset/metric: default open).")] = None,
    as_name: AsOption = None, as_json: JsonOption = False,
) -> None:
    """Place a legal hold: retention deletes nothing it covers until it is released.

    Example: engmetrics governance hold place --scope dataset --target cost --from 2026-01-01 --to 2026-03-31 \\
    --reason "matter 42"
    """
    with open_store() as store:
        hold = place_hold(store, scope, target, reason=reason, actor=actor(as_name),
                          from_date=from_day.date() if from_day else None, to_date=to_day.date() if to_day else None)
    if as_json:
        emit_json(hold.to_dict())
        return
    console.print(f"placed legal hold {hold.hold_id}")


@hold_app.command("list")
def hold_list_command(
    include_released: Annotated[bool, typer.Option("--all", help="Include released holds.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The legal holds in force (with --all, released ones too).

    Example: engmetrics governance hold list --all --json
    """
    with open_store(read_only=True) as store:
        holds = list_holds(store, include_released=include_released)
    if as_json:
        emit_json([h.to_dict() for h in holds])
        return
    console.print(_holds_table(holds) if holds else "no legal holds")


@hold_app.command("release")
def hold_release_command(
    hold_id: Annotated[str, typer.Argument(help="The hold's id, e.g. hold-1.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why it is released.")] = None,
    as_name: AsOption = None, as_json: JsonOption = False,
) -> None:
    """Release a legal hold (who and when are recorded; the hold stays listed with --all).

    Example: engmetrics governance hold release hold-1 --reason "matter closed"
    """
    with open_store() as store:
        hold = release_hold(store, hold_id, actor=actor(as_name), reason=reason)
    if as_json:
        emit_json(hold.to_dict())
        return
    console.print(f"released legal hold {hold.hold_id}")


@app.command("export-bundle")
def export_bundle_command(
    from_day: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, inclusive (UTC).")],
    to_day: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive (UTC).")],
    out: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
    as_name: AsOption = None, as_json: JsonOption = False,
) -> None:
    """Write the definitions, values, approvals, holds and audit log of a period to a zip, with a manifest
    of SHA-256 hashes and the audit chain's head; the export itself is audited.

    Example: engmetrics governance export-bundle --from 2026-01-01 --to 2026-03-31 --out q1.zip
    """
    with open_store() as store:
        bundle = export_bundle(store, from_day.date(), to_day.date(), out, actor=actor(as_name))
    if as_json:
        emit_json(bundle.to_dict())
        return
    table = Table("file", "rows", "bytes", "sha256", title=f"{out} ({bundle.manifest['period']['from']} to "
                  f"{bundle.manifest['period']['to']})")
    for f in bundle.manifest["files"]:
        table.add_row(f["name"], str(f["rows"]), str(f["bytes"]), f["sha256"])
    console.print(table)
    verdict = bundle.manifest["audit"]
    state_text = "[green]verified[/]" if verdict["verified"] else f"[red]BROKEN at {verdict['first_bad']}[/]"
    console.print(f"audit head {verdict['head'] or '-'} ({state_text}); manifest sha256 {bundle.manifest_sha256}")
