"""Recurring incident patterns: incidents of one service that look alike or share a contributing factor.

Semantics:

- Two incidents are **linked** when they have the same `service` (incidents without a service are linked
  only among themselves) and either the TF-IDF cosine similarity of their title + summary is at least
  `threshold` (see `engmetrics.incidents.text`; idf is fitted on every incident) or they share a
  `contributing_factors` entry. A **pattern** is a connected component of these links with at least
  `min_size` incidents.
- Start of an incident = `impact_started_at`, else `declared_at`.
- Time to resolve = (`resolved_at`, else `mitigated_at`) - start; `responder_hours` sums it over the
  pattern's incidents that have an end (`open_incidents` counts those without). It is elapsed time, not
  the number of people involved.
- Trend: incidents per period (`quarter` or `month` of the start, UTC) from the pattern's first period to
  the latest period of any incident, zeros included; `direction` is the sign of the least-squares slope
  (``rising``, ``falling``, ``flat``), or ``insufficient_data`` with a single period.
- Recurred after closure: an incident of the pattern whose start is after every action item of the earlier
  incidents of the pattern was done (``done`` status or no status, with `completed_at` before that start).
  Needs at least one such item; a ``wont_do``, open or undated item means not closed. `recurrences` lists
  those incidents.
- `terms`: the three terms with the largest summed TF-IDF weight in the pattern; `factors`: contributing
  factors shared by at least two of its incidents.

The engine computes each incident's start, period, resolution time and action-item summary; the grouping
runs on those small rows in Python (union-find over a per-service similarity matrix).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import ibis
import numpy as np

from ..store import Store
from .linking import impact_start
from .text import TfIdf, incident_text, similarity_matrix

__all__ = ["Pattern", "incident_rows", "recurring_patterns"]

Period = Literal["quarter", "month"]


@dataclass(frozen=True)
class Pattern:
    """One recurring pattern (see module doc)."""

    pattern_id: str
    service: str | None
    incident_ids: list[str]
    terms: list[str]
    factors: list[str]
    first_start: datetime
    last_start: datetime
    responder_hours: float
    open_incidents: int
    counts: list[dict[str, Any]]
    direction: str
    recurred_after_closure: bool
    recurrences: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.incident_ids)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "size": self.size, "responder_hours": round(self.responder_hours, 3)}


def incident_rows(store: Store, period: Period = "quarter") -> list[dict[str, Any]]:
    """Every incident with `start`, `period`, `resolve_seconds`, `items` and `closed_at` (None unless all of
    its action items are done with a `completed_at`), ordered by start then id."""
    inc = store.table("incidents")
    start = impact_start(inc)
    end = ibis.coalesce(inc.resolved_at, inc.mitigated_at)
    inc = inc.select("incident_id", "service", "title", "summary", "contributing_factors", start=start,
                     period=start.truncate("Q" if period == "quarter" else "M"),
                     resolve_seconds=(end.epoch_seconds() - start.epoch_seconds()).cast("float64"))
    a = store.table("action_items")
    done = ((a.status == "done") | a.status.isnull()) & a.completed_at.notnull()
    items = a.group_by("incident_id").agg(items=a.count(), done=done.cast("int64").sum(),
                                          last_done=a.completed_at.max())
    j = inc.left_join(items, inc.incident_id == items.incident_id).select(
        inc, items=items["items"].fill_null(0),
        closed_at=ibis.cases((items["items"] == items.done, items.last_done)))
    return j.order_by(["start", "incident_id"]).to_pyarrow().to_pylist()


def _components(n: int, linked: np.ndarray) -> list[list[int]]:
    """Connected components (index lists, ascending) of the graph whose adjacency matrix is `linked`."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[root(i)].append(i)
    return list(groups.values())


def _label(when: datetime, period: Period) -> str:
    return f"{when.year}-Q{(when.month - 1) // 3 + 1}" if period == "quarter" else f"{when.year}-{when.month:02d}"


def _trend(periods: list[datetime], last: datetime, period: Period) -> tuple[list[dict[str, Any]], str]:
    step = 3 if period == "quarter" else 1
    index = [(p.year * 12 + p.month - 1) // step for p in periods]
    first, end = min(index), (last.year * 12 + last.month - 1) // step
    counts = Counter(index)
    series = [counts.get(k, 0) for k in range(first, end + 1)]
    labels = [_label(datetime(k * step // 12, k * step % 12 + 1, 1), period) for k in range(first, end + 1)]
    if len(series) < 2:
        direction = "insufficient_data"
    else:
        slope = float(np.polyfit(np.arange(len(series)), series, 1)[0])
        direction = "rising" if slope > 1e-9 else "falling" if slope < -1e-9 else "flat"
    return [{"period": p, "incidents": c} for p, c in zip(labels, series, strict=True)], direction


def _recurrences(rows: list[dict[str, Any]]) -> list[str]:
    """Incidents (rows ordered by start) that started after all earlier incidents' action items were done."""
    found = []
    for k, row in enumerate(rows):
        earlier = [r for r in rows[:k] if r["start"] < row["start"]]
        if sum(r["items"] for r in earlier) == 0:
            continue
        closed = [r["closed_at"] for r in earlier if r["items"]]
        if all(c is not None and c < row["start"] for c in closed):
            found.append(row["incident_id"])
    return found


def _pattern(rows: list[dict[str, Any]], vectors: list[dict[str, float]], last: datetime,
             period: Period) -> Pattern:
    weights: Counter[str] = Counter()
    for v in vectors:
        weights.update(v)
    factors = Counter(f for r in rows for f in set(r["contributing_factors"] or ()))
    ends = [r["resolve_seconds"] for r in rows if r["resolve_seconds"] is not None]
    counts, direction = _trend([r["period"] for r in rows], last, period)
    recurrences = _recurrences(rows)
    return Pattern(
        pattern_id="", service=rows[0]["service"], incident_ids=[r["incident_id"] for r in rows],
        terms=[t for t, _ in sorted(weights.items(), key=lambda tw: (-tw[1], tw[0]))[:3]],
        factors=sorted(f for f, c in factors.items() if c >= 2), first_start=rows[0]["start"],
        last_start=rows[-1]["start"], responder_hours=sum(ends) / 3600, open_incidents=len(rows) - len(ends),
        counts=counts, direction=direction, recurred_after_closure=bool(recurrences), recurrences=recurrences)


def recurring_patterns(store: Store, *, min_size: int = 2, threshold: float = 0.3,
                       period: Period = "quarter") -> list[Pattern]:
    """Patterns of at least `min_size` incidents, largest first (then earliest), ids ``P1``, ``P2``, ..."""
    rows = incident_rows(store, period)
    if not rows:
        return []
    model = TfIdf([incident_text(r["title"], r["summary"]) for r in rows])
    last = max(r["period"] for r in rows)
    by_service: dict[str | None, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_service[r["service"]].append(i)
    found = []
    for members in by_service.values():
        vectors = [model.vectors[i] for i in members]
        factor_sets = [set(rows[i]["contributing_factors"] or ()) for i in members]
        shared = np.array([[bool(a & b) for b in factor_sets] for a in factor_sets])
        linked = (similarity_matrix(vectors) >= threshold) | shared
        for component in _components(len(members), linked):
            if len(component) >= min_size:
                found.append(_pattern([rows[members[c]] for c in component], [vectors[c] for c in component],
                                      last, period))
    found.sort(key=lambda p: (-p.size, p.first_start, p.incident_ids[0]))
    return [Pattern(**{**asdict(p), "pattern_id": f"P{k}"}) for k, p in enumerate(found, start=1)]
