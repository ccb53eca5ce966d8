"""`engmetrics token create|list|revoke`: API tokens for the server and web login."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..auth.roles import ROLES
from ..auth.tokens import MAX_DAYS, create_token, list_tokens, revoke_token
from .common import JsonOption, console, emit_json, open_store, stderr

app = typer.Typer(no_args_is_help=True, help="API tokens: create (shown once), list, revoke.")


@app.command()
def create(
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    team: Annotated[list[str] | None, typer.Option(
        "--team", help="A team a team-member token is scoped to (repeatable).")] = None,
    expires_in: Annotated[int, typer.Option("--expires-in", min=1, max=MAX_DAYS,
                                            help="Days until the token expires.")] = 90,
    description: Annotated[str, typer.Option("--description", help="What the token is for.")] = "",
    user: Annotated[str | None, typer.Option(
        "--user", help="The person the token belongs to (their name on review-board decisions and in the "
        "audit log; lets them see their own individual numbers).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it once (only its SHA-256 is stored). Human output: the token alone on
    stdout, the details on stderr.

    Example: engmetrics token create --role team-member --team payments --expires-in 30
    """
    with open_store() as store:
        new = create_token(store, role, team or [], expires_in_days=expires_in, description=description,
                           user=user)
    if as_json:
        emit_json({"token": new.token, **new.info.to_dict()})
        return
    info = new.info
    stderr.print(f"token {info.token_id}: role {info.role.value}"
                 f"{' teams ' + ', '.join(info.teams) if info.teams else ''}, expires {info.expires_at:%Y-%m-%d}. "
                 "Store it now; it is not shown again.", markup=False, highlight=False, soft_wrap=True)
    typer.echo(new.token)


@app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """List tokens with role, teams, expiry and status (never their secrets).

    Example: engmetrics token list --json
    """
    with open_store(read_only=True) as store:
        tokens = list_tokens(store)
    if as_json:
        emit_json([t.to_dict() for t in tokens])
        return
    table = Table("id", "role", "teams", "status", "expires", "description")
    for t in tokens:
        table.add_row(t.token_id, t.role.value, escape(", ".join(t.teams)), t.status(),
                      f"{t.expires_at:%Y-%m-%d %H:%M}", escape(t.description))
    console.print(table)


@app.command()
def revoke(token_id: Annotated[str, typer.Argument(help="Token id (see `engmetrics token list`).")],
           as_json: JsonOption = False) -> None:
    """Revoke a token at once; web sessions opened with it end too.

    Example: engmetrics token revoke 3f9a0c1b2d4e
    """
    with open_store() as store:
        info = revoke_token(store, token_id)
    if as_json:
        emit_json(info.to_dict())
        return
    console.print(f"token {info.token_id} revoked at {info.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
