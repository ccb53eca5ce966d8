"""The audit log under `/api/v1/governance`: its entries (filters as `engmetrics audit log`) and the verdict of
its hash chain (as `engmetrics audit verify --json`; a broken chain is still a 200 answer with `ok: false`).
Auditors and metrics-admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from ...errors import InputError
from ...governance.audit import entries, verify
from ...incidents.search import parse_bound
from ..auth import AUDITORS, requires
from ..deps import StoreDep
from ..problems import bad_parameter
from .governance import router

__all__ = ["audit_filters", "router"]

Since = Annotated[str | None, Query(max_length=40, description="Entries at or after this ISO date or instant (UTC "
                                    "unless it has an offset).")]
Until = Annotated[str | None, Query(max_length=40, description="Entries before this instant; a date includes that "
                                    "whole day.")]


def _bound(name: str, text: str | None, *, end: bool) -> datetime | None:
    try:
        return parse_bound(text or None, end=end)
    except InputError as exc:
        raise bad_parameter(name, str(exc)) from None


def audit_filters(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` as instants (422 naming the parameter when unreadable or not in order)."""
    start, stop = _bound("since", since, end=False), _bound("until", until, end=True)
    if start and stop and start >= stop:
        raise bad_parameter("until", f"must be after since ({start.isoformat()})")
    return start, stop


@router.get("/audit", dependencies=[requires(*AUDITORS)])
def list_audit_entries(
    store: StoreDep, since: Since = None, until: Until = None,
    actor: Annotated[str | None, Query(max_length=200, description="Only entries by this actor.")] = None,
    action: Annotated[str | None, Query(max_length=200, description="Only actions starting with this, e.g. "
                                        "`read.` or `governance.approve`.")] = None,
    target: Annotated[str | None, Query(max_length=500, description="Only entries about this target.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Only the newest N (after filtering).")] = 1000,
) -> list[dict[str, Any]]:
    """Audit entries, oldest first (the newest `limit` of those passing the filters), as `engmetrics audit log
    --json`: seq, at, actor, action, target, reason, details, prev_hash, hash."""
    start, stop = audit_filters(since, until)
    found = entries(store, since=start, until=stop, actor=actor or None, action=action or None,
                    target=target or None, limit=limit)
    return [e.to_dict() for e in found]


@router.get("/audit/verify", dependencies=[requires(*AUDITORS)])
def verify_audit_log(
    store: StoreDep,
    expect_head: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-f]{64}$", description="A head hash "
                                             "kept elsewhere: the chain must still contain it.")] = None,
) -> dict[str, Any]:
    """The hash chain recomputed, as `engmetrics audit verify --json`: ok, entries, head_seq, head, first_bad
    (seq of the first edited, removed or reordered entry) and problem."""
    return verify(store, expect_head=expect_head).to_dict()
