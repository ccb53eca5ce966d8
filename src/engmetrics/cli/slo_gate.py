"""`engmetrics slo gate SERVICE`: may the service release now? Error budgets judged by its error-budget policy.

Exit codes: 0 releases allowed (also when overridden), 3 the policy blocks releases, 2 bad usage (e.g.
`--override` without `--reason`), 1 bad input (SLO or policy files with errors, a service without SLO).
"""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape

from ..durations import duration_seconds
from ..errors import EngmetricsError, Issue, ValidationFailed
from ..slo import check_slos
from ..slo.gate import GateDecision, evaluate_gate, record_override
from ..slo.policy import INSUFFICIENT_DATA, check_policies
from .common import JsonOption, console, emit_json, fail, open_store, state, stderr

__all__ = ["BLOCKED", "gate_command"]

BLOCKED = 3  # exit code when the policy blocks releases


def _print_issues(issues: list[Issue]) -> None:
    for i in issues:
        colour = "red" if i.level == "ERROR" else "yellow"
        stderr.print(f"[{colour}]{escape(str(i))}[/]", highlight=False, soft_wrap=True)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _print(decision: GateDecision) -> None:
    d = decision
    if d.override is not None:
        verdict = "[green]releases allowed: overridden[/]"
    elif d.allowed:
        verdict = "[green]releases allowed[/]"
    else:
        verdict = "[bold red]releases BLOCKED[/]"
    console.print(f"{escape(d.service)}: {verdict} (stage [bold]{escape(d.stage)}[/], policy "
                  f"{escape(d.policy.name)!r} from {escape(d.policy.source)})", highlight=False, soft_wrap=True)
    if d.driven_by:
        b = d.driven_by
        budget = ("too few events to judge the error budget" if d.stage == INSUFFICIENT_DATA
                  else f"{_percent(b['remaining'])} of the error budget left")
        console.print(f"driven by SLO {escape(b['slo'])}, objective {escape(str(b['objective']))}, window "
                      f"{escape(b['window'])}: {budget}", highlight=False, soft_wrap=True)
    if d.actions:
        console.print("actions:", highlight=False)
        for action in d.actions:
            console.print(f"  - {escape(action)}", highlight=False, soft_wrap=True)
    if d.override is not None:
        o = d.override
        how = "recorded" if o.get("recorded") else "in force"
        console.print(f"overridden by {escape(o['overridden_by'])} ({how} {o['override_id']}, until "
                      f"{o['expires_at']}): {escape(o['reason'])}", highlight=False, soft_wrap=True)
    for note in d.notes:
        stderr.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)


def gate_command(
    service: Annotated[str, typer.Argument(help="The service about to release.")],
    at: Annotated[datetime | None, typer.Option(
        "--at", help="Judge the budgets at this instant (UTC unless it has an offset; default: now).")] = None,
    override: Annotated[bool, typer.Option(
        "--override", help="Release anyway: record an override (needs --reason) and exit 0.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the override is justified.")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who decides the override (default: the login name).")] = None,
    expires_in: Annotated[str, typer.Option(
        "--expires-in", help="How long the override opens the gate, e.g. 4h, 1d.")] = "24h",
    as_json: JsonOption = False,
) -> None:
    """Release gate: exit 0 when the service may release, 3 when its error-budget policy blocks releases.

    The stage is that of the lowest remaining error budget over every SLO objective and window of the
    service (policies/*.yaml, `kind: ErrorBudgetPolicy`; a built-in default otherwise). `--override`
    records who released anyway and why (dataset release_gate_overrides) and opens the gate for that
    service and stage until it expires. Exit 1: SLO or policy files with errors, or no SLO for the service.

    Example: engmetrics slo gate checkout --override --reason "fix for INC-42" --by alice
    """
    if override and not (reason or "").strip():
        raise fail("--override needs --reason TEXT (a non-empty reason, recorded with the override)", 2)
    if not override and (reason is not None or by is not None):
        raise fail("--reason and --by go with --override", 2)
    try:
        lifetime = timedelta(seconds=duration_seconds(expires_in))
    except ValueError as exc:
        raise fail(f"--expires-in: {exc}", 2) from None
    try:
        decision = _decide(service, at, override, reason or "", by, lifetime)
    except ValidationFailed as exc:
        _print_issues(exc.issues)
        raise typer.Exit(1) from None
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json(decision.to_dict())
    else:
        _print(decision)
    if not decision.allowed:
        raise typer.Exit(BLOCKED)


def _decide(service: str, at: datetime | None, override: bool, reason: str, by: str | None,
            lifetime: timedelta) -> GateDecision:
    settings = state.settings
    specs = check_slos(settings.workspace)
    policies = check_policies(settings.workspace)
    _print_issues([i for i in policies.issues if i.level != "ERROR"])
    errors = specs.errors + policies.errors
    if errors:
        raise ValidationFailed(errors)
    with open_store(read_only=not override) as store:
        decision = evaluate_gate(store, specs.specs, policies.policies, service, at, zone=settings.timezone,
                                 min_events=settings.slo.min_events,
                                 warning_remaining=settings.slo.warning_remaining)
        if not override:
            return decision
        if decision.allowed:
            decision.notes.append("releases are allowed" + (" by an override in force" if decision.override else "")
                                  + ": no override recorded")
            return decision
        recorded = record_override(store, decision, reason=reason, by=by or _login(), expires_in=lifetime)
    decision.allowed, decision.override = True, {**recorded, "recorded": True}
    return decision


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
