"""Cross-team support requests as a dependency graph: who asks whom, how fast it is resolved, who is a bottleneck.

Semantics over `support_requests` created in ``[start, end)`` (no bound: all), read as of `end`:

- A request is **resolved** when `resolved_at` is set and before `end` (no `end`: set at all), else **open**;
  its resolution time is ``resolved_at - created_at`` in hours (`engmetrics.timeutil.hours_between`).
- **Self requests** (``from_team = to_team``) are no dependency on another team: they make no edge and count
  in no team figure but the asked team's `self_requests`.
- **Edge** ``from_team -> to_team`` (the two differ): `requests` made, `open`, `resolved`, and `p50_hours` to
  resolve (resolved requests, exact median in the engine; None when none is resolved). A request without
  `from_team` makes an edge from ``None``.
- **Team** (every `to_team`): over its requests from other teams (its edges), `in_degree` (distinct non-null
  asking teams), `requests`, `open`, `p50_hours`; and `self_requests`. A team is a **bottleneck** when at least
  `min_dependents` teams ask it and at least `min_open` of its requests are open.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from ..store import Store
from ..timeutil import as_utc, hours_between

__all__ = ["SupportEdge", "SupportTeam", "support_edges", "support_graph", "support_teams"]


@dataclass(frozen=True)
class SupportEdge:
    from_team: str | None
    to_team: str
    requests: int
    open: int
    resolved: int
    p50_hours: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SupportTeam:
    team: str
    in_degree: int
    requests: int
    open: int
    p50_hours: float | None
    bottleneck: bool
    self_requests: int

    def to_dict(self) -> dict:
        return asdict(self)


def _requests(store: Store, start: datetime | None, end: datetime | None) -> ir.Table:
    """The requests created in [start, end) with `_resolved`, `_hours` (resolved ones only) and `_self`."""
    t = store.table("support_requests")
    if start is not None:
        t = t.filter(t.created_at >= as_utc(start))
    if end is not None:
        t = t.filter(t.created_at < as_utc(end))
    resolved = t.resolved_at.notnull() if end is None else t.resolved_at < as_utc(end)
    resolved = resolved.fill_null(False)
    return t.mutate(_resolved=resolved, _hours=ibis.ifelse(resolved, hours_between(t.resolved_at, t.created_at), None),
                    _self=(t.from_team == t.to_team).fill_null(False))


def _aggregates(t: ir.Table, asked: ir.BooleanValue) -> dict:
    """`requests`, `open` and `p50_hours` over the rows of `t` where `asked` holds."""
    return {"requests": asked.sum(), "open": (asked & ~t._resolved).sum(),
            "p50_hours": t._hours.quantile(0.5, where=asked)}


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def support_edges(store: Store, start: datetime | None = None, end: datetime | None = None) -> list[SupportEdge]:
    """One edge per (from_team, to_team) pair of different teams, most requests first."""
    t = _requests(store, start, end)
    t = t.filter(~t._self)
    rows = t.group_by(["from_team", "to_team"]).aggregate(**_aggregates(t, ~t._self)).to_pyarrow()
    edges = [SupportEdge(r["from_team"], r["to_team"], int(r["requests"]), int(r["open"]),
                         int(r["requests"] - r["open"]), _float(r["p50_hours"])) for r in rows.to_pylist()]
    return sorted(edges, key=lambda e: (-e.requests, e.from_team or "", e.to_team))


def support_teams(store: Store, start: datetime | None = None, end: datetime | None = None, *,
                  min_dependents: int = 3, min_open: int = 1) -> list[SupportTeam]:
    """One row per team asked for support, by in-degree then open requests (largest first)."""
    t = _requests(store, start, end)
    rows = t.group_by("to_team").aggregate(in_degree=t.from_team.nunique(where=~t._self),
                                           self_requests=t._self.sum(), **_aggregates(t, ~t._self))
    teams = [SupportTeam(r["to_team"], int(r["in_degree"]), int(r["requests"]), int(r["open"]),
                         _float(r["p50_hours"]), r["in_degree"] >= min_dependents and r["open"] >= min_open,
                         int(r["self_requests"]))
             for r in rows.to_pyarrow().to_pylist()]
    return sorted(teams, key=lambda s: (-s.in_degree, -s.open, s.team))


def support_graph(store: Store, start: datetime | None = None, end: datetime | None = None, *,
                  min_dependents: int = 3, min_open: int = 1) -> dict:
    """``{"edges": [...], "teams": [...]}`` as plain dicts (see the dataclasses)."""
    return {"edges": [e.to_dict() for e in support_edges(store, start, end)],
            "teams": [s.to_dict() for s in support_teams(store, start, end, min_dependents=min_dependents,
                                                         min_open=min_open)]}
