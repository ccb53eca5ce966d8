"""Postmortem action-item follow-through per owning team (`action_items`).

Semantics, per `owner_team` (items without an owner form the group `None`):

- An item is **done** when its status is ``done``, or it has no status and `completed_at` is set (`is_done`,
  the one definition: `engmetrics.incidents.patterns` uses it too).
  ``wont_do`` items are dropped on purpose: they count in `wont_do` only. Every other item is **open**.
- `completion_rate` = done / (items - wont_do); None when that is 0.
- `overdue` = open items with `due_at` before `now` (an item without a due date is never overdue).
- Time to complete = `completed_at` - `created_at` of the done items that have a `completed_at`, in
  seconds: `completed` is how many, `median_seconds` and `p90_seconds` are exact quantiles with linear
  interpolation between closest ranks (None when `completed` is 0).

Teams only: no person is named or ranked. Computed in Ibis (group by team); the rows are returned sorted
by team.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from ..store import Store
from ..timeutil import UTC_TIMESTAMP, as_utc

__all__ = ["TeamFollowThrough", "action_follow_through", "is_done"]


@dataclass(frozen=True)
class TeamFollowThrough:
    """Follow-through of one team's action items."""

    owner_team: str | None
    items: int
    done: int
    wont_do: int
    open: int
    overdue: int
    completion_rate: float | None
    completed: int
    median_seconds: float | None
    p90_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_done(items: ir.Table) -> ir.BooleanValue:
    """Whether an action item (a row of `items`, the action_items table) is done (see module doc); never null.

    >>> t = ibis.memtable({"status": ["done", None, None, "open", "wont_do"],
    ...                    "completed_at": [None, "2026-01-02", None, "2026-01-02", None]})
    >>> t.select(d=is_done(t)).to_pyarrow().column("d").to_pylist()
    [True, True, False, False, False]
    """
    return (items.status == "done").fill_null(False) | (items.status.isnull() & items.completed_at.notnull())


def action_follow_through(store: Store, *, now: datetime) -> list[TeamFollowThrough]:
    """One row per owner team (see module doc)."""
    t = store.table("action_items")
    done = is_done(t)
    wont = (t.status == "wont_do").fill_null(False)
    is_open = ~done & ~wont
    overdue = is_open & (t.due_at < ibis.literal(as_utc(now), type=UTC_TIMESTAMP)).fill_null(False)
    seconds = ibis.cases((done & t.completed_at.notnull(),
                          (t.completed_at.epoch_seconds() - t.created_at.epoch_seconds()).cast("float64")))
    rows = t.group_by("owner_team").agg(
        items=t.count(), done=done.cast("int64").sum(), wont_do=wont.cast("int64").sum(),
        open=is_open.cast("int64").sum(), overdue=overdue.cast("int64").sum(), completed=seconds.count(),
        median_seconds=seconds.quantile(0.5), p90_seconds=seconds.quantile(0.9),
    ).order_by(ibis.asc("owner_team", nulls_first=False)).to_pyarrow().to_pylist()
    return [TeamFollowThrough(**r, completion_rate=_rate(r["done"], r["items"] - r["wont_do"])) for r in rows]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
