"""The release gate: may a service release now, given its error budgets and its error-budget policy?

`decide` judges one service from `slo_status` items (one per SLO, objective and window):

1. every item of the service with enough events gets the policy stage of its remaining budget
   (`BudgetPolicy.stage_for`); the item with the **lowest remaining budget** drives the decision (stages
   are monotonic, so it also has the harshest stage; on a tie the first item in status order);
2. releases are blocked when that stage has `block_releases: true`;
3. items without enough events (`insufficient_data`, or no computable budget) are ignored under
   `insufficient_data: allow`; under `insufficient_data: block` the first of them blocks releases (pseudo-
   stage `insufficient_data`) unless a budget stage already blocks. When no item has enough events and
   the policy allows it, releases are allowed in stage `insufficient_data`;
4. a blocked gate is opened by an **override**: recorded in the `release_gate_overrides` dataset with a
   reason, who decided, and an expiry; an override of the same service and stage that is in force
   (`created_at <= at < expires_at`, `at` the exact time of the check unless given) opens the gate for
   later checks too (e.g. the pipeline's own gate step after someone overrode it);
5. a service with no SLO item at all is an error (`NoSloError`, exit 1 in the CLI): an unknown or
   misspelled service must not pass silently.

>>> item = lambda slo, remaining, state="ok": {"slo": slo, "service": "checkout", "objective": "Available",
...     "window": "28d", "target": 0.999, "error_budget": {"remaining": remaining}, "state": state}
>>> from engmetrics.slo.policy import DEFAULT_POLICY
>>> d = decide([item("a", 0.6), item("b", 0.3)], "checkout", DEFAULT_POLICY)
>>> d.allowed, d.stage, d.driven_by["slo"], d.actions
(True, 'warn', 'b', ['notify the team', 'review risky changes'])
>>> d = decide([item("a", -0.2), item("b", None, "insufficient_data")], "checkout", DEFAULT_POLICY)
>>> d.allowed, d.stage, d.driven_by["remaining"]
(False, 'freeze', -0.2)
>>> decide([item("a", 0.6)], "payments", DEFAULT_POLICY)
Traceback (most recent call last):
...
engmetrics.slo.gate.NoSloError: no SLO for service 'payments'; services with SLOs: checkout
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..timeutil import as_utc
from .loader import SloSet
from .openslo import SLO, V1AlphaSLO
from .policy import INSUFFICIENT_DATA, BudgetPolicy, PolicySet
from .status import slo_status

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["OVERRIDES", "GateDecision", "NoSloError", "active_override", "decide", "evaluate_gate", "has_budget",
           "lowest_budget", "record_override", "slo_services"]

OVERRIDES = "release_gate_overrides"  # the dataset overrides are recorded in
INSUFFICIENT_ACTIONS = ["collect enough events in every SLO window before releasing, or override the gate"]


class NoSloError(InputError):
    """The service has no SLO the gate can judge."""


@dataclass
class GateDecision:
    """The gate's verdict for one service at one instant."""

    service: str
    allowed: bool
    stage: str
    actions: list[str]
    blocked_by_policy: bool  # what the policy says, before any override
    driven_by: dict[str, Any] | None
    policy: BudgetPolicy
    slos: list[dict[str, Any]] = field(default_factory=list)
    override: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "allowed": self.allowed, "stage": self.stage, "actions": self.actions,
                "blocked_by_policy": self.blocked_by_policy, "driven_by": self.driven_by,
                "override": self.override,
                "policy": {"name": self.policy.name, "source": self.policy.source,
                           "insufficient_data": self.policy.model.insufficient_data},
                "slos": self.slos, "notes": self.notes}


def has_budget(item: dict[str, Any]) -> bool:
    """The status item has enough events and a computable remaining budget, so the policy can judge it."""
    return item["state"] != INSUFFICIENT_DATA and item["error_budget"]["remaining"] is not None


def lowest_budget(items: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The judged item (`has_budget`) with the least budget left, the first on a tie; None when none is judged.

    It drives the gate's decision (and the report's summary line).
    """
    judged = [i for i in items if has_budget(i)]
    return min(judged, key=lambda i: i["error_budget"]["remaining"]) if judged else None


def _driver(item: dict[str, Any]) -> dict[str, Any]:
    return {"slo": item["slo"], "objective": item["objective"], "window": item["window"],
            "remaining": item["error_budget"]["remaining"]}


def decide(items: list[dict[str, Any]], service: str, policy: BudgetPolicy) -> GateDecision:
    """The policy's verdict for `service` from `slo_status` items (no override considered)."""
    mine = [i for i in items if i["service"] == service]
    if not mine:
        known = sorted({i["service"] for i in items})
        raise NoSloError(f"no SLO for service {service!r}; services with SLOs: {', '.join(known) or 'none'}")
    slos = []
    for i in mine:
        stage = policy.stage_for(i["error_budget"]["remaining"]).name if has_budget(i) else INSUFFICIENT_DATA
        slos.append({"slo": i["slo"], "objective": i["objective"], "window": i["window"],
                     "target": i.get("target"), "remaining": i["error_budget"]["remaining"],
                     "state": i["state"], "stage": stage})
    lacking = [i for i in mine if not has_budget(i)]
    notes = []
    if lacking:
        notes.append(f"{len(lacking)} SLO objective/window(s) without enough events: "
                     + ", ".join(f"{i['slo']} {i['objective']} {i['window']}" for i in lacking)
                     + f" (policy: insufficient_data: {policy.model.insufficient_data})")
    worst = lowest_budget(mine)
    if worst is not None:
        stage = policy.stage_for(worst["error_budget"]["remaining"])
        if stage.block_releases or not (lacking and policy.model.insufficient_data == "block"):
            return GateDecision(service, not stage.block_releases, stage.name, list(stage.actions),
                                stage.block_releases, _driver(worst), policy, slos, notes=notes)
    blocks = policy.model.insufficient_data == "block"
    return GateDecision(service, not blocks, INSUFFICIENT_DATA, list(INSUFFICIENT_ACTIONS) if blocks else [],
                        blocks, _driver(lacking[0]), policy, slos, notes=notes)


def slo_services(specs: SloSet) -> set[str]:
    """Every service some SLO spec names (also those the store cannot compute, e.g. Prometheus ones)."""
    services = {d.model.spec.service for d in specs.of(SLO)}
    services |= {d.model.spec.service for d in specs.of(V1AlphaSLO)}
    services |= {d.model.service for d in specs.sloth_specs}
    return services


def _override_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("override_id", "service", "slo", "stage", "reason", "overridden_by")}
    for k in ("created_at", "expires_at"):
        out[k] = as_utc(row[k]).isoformat() if row[k] is not None else None
    return out


def active_override(store: Store, service: str, stage: str, at: datetime) -> dict[str, Any] | None:
    """The latest override of `service` in `stage` in force at `at` (created_at <= at < expires_at)."""
    at = as_utc(at)
    t = store.table(OVERRIDES)
    rows = (t.filter((t.service == service) & (t.stage == stage) & (t.created_at <= at) & (t.expires_at > at))
            .order_by(t.created_at.desc()).limit(1).to_pyarrow().to_pylist())
    return _override_dict(rows[0]) if rows else None


def record_override(store: Store, decision: GateDecision, *, reason: str, by: str, expires_in: timedelta,
                    now: datetime | None = None) -> dict[str, Any]:
    """Write an override of `decision` to the store (opened read-write) and return it."""
    reason, by = reason.strip(), by.strip()
    if not reason:
        raise InputError("an override needs a reason (--reason TEXT)")
    if not by:
        raise InputError("an override needs the name of who decides it (--by NAME)")
    if expires_in <= timedelta(0):
        raise InputError("an override must expire after it is made")
    created = as_utc(now or datetime.now(UTC))
    row = {"override_id": secrets.token_hex(8), "service": decision.service,
           "slo": decision.driven_by["slo"] if decision.driven_by else None, "stage": decision.stage,
           "reason": reason, "overridden_by": by, "created_at": created, "expires_at": created + expires_in}
    columns = ", ".join(f'"{k}"' for k in row)
    store.sql.execute(f'INSERT INTO "{OVERRIDES}" ({columns}) VALUES ({", ".join("?" * len(row))})',
                      list(row.values()))
    return _override_dict(row)


def evaluate_gate(store: Store, specs: SloSet, policies: PolicySet, service: str, at: datetime | None = None, *,
                  zone: str = "UTC", min_events: float = 100, warning_remaining: float = 0.25) -> GateDecision:
    """The gate for `service` at `at` (default: now, to the minute), an override in force included."""
    checked = as_utc(at) if at is not None else datetime.now(UTC)  # overrides: in force when the check runs
    at = checked if at is not None else checked.replace(second=0, microsecond=0)
    report = slo_status(store, specs, at, zone=zone, min_events=min_events, warning_remaining=warning_remaining)
    policy = policies.for_service(service)
    try:
        decision = decide(report.items, service, policy)
    except NoSloError:
        skipped = sorted(name for name, _ in report.skipped)
        if service in slo_services(specs):
            raise NoSloError(f"no SLO of service {service!r} can be computed from the store "
                             f"(not computed here: {', '.join(skipped) or 'none'})") from None
        raise
    if decision.blocked_by_policy:
        found = active_override(store, service, decision.stage, checked)
        if found is not None:
            decision = replace(decision, allowed=True, override={**found, "recorded": False})
    return decision
