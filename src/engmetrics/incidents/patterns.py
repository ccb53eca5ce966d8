"""Recurring incident patterns: incidents of one service that look alike.

Semantics:

- Text: title + summary as TF-IDF vectors (see `engmetrics.incidents.text`; idf is fitted on every
  incident) without the tokens of any service name (`incidents.service` and `services.service`, split as
  text is): titles such as "checkout: timeouts" name their service, and that word alone would make all of
  a service's incidents alike.
- Two incidents are **linked** when they have the same `service` (incidents without a service are linked
  only among themselves) and their text similarity is at least `threshold`, or at least ``threshold x
  FACTOR_DISCOUNT`` (half of it) when they also share a `contributing_factors` entry: a shared factor alone
  never links. A **pattern** is a connected component of these links with at least `min_size` incidents.
- Start and end of an incident: `engmetrics.slo.incidents_window.incident_window` (`impact_started_at`,
  else `declared_at`; `resolved_at`, else `mitigated_at`).
- Time to resolve = end - start; `responder_hours` sums it over the pattern's incidents that have an end
  (`open_incidents` counts those without). It is elapsed time, not the number of people involved.
- Trend: per period (`quarter` or `month` of the start, UTC) from the pattern's first period to the period of
  the latest start of any incident: `incidents`, `days` observed and `per_day` = incidents / days. The
  observed span runs from the UTC day of the earliest start of any incident to the UTC day of the latest,
  both whole days included; `days` counts the days of the period inside it, so the first and last periods
  may be partial and are compared as rates, not counts. A period observed for less than `MIN_COVERAGE`
  (half) of its days is listed but too short to judge: it is left out of the direction. `direction` comes
  from the least-squares line of `per_day` over the period index of the judged periods, each weighted by its
  `days`: ``flat`` when the fitted change over the whole trend (slope x (last index - first index)) is at
  most `FLAT_TOLERANCE` (10 %) of their mean rate (their incidents / their days), else ``rising`` or
  ``falling``; ``insufficient_data`` with fewer than two judged periods.
- Recurred after closure: an incident of the pattern whose start is after every action item of the earlier
  incidents of the pattern was done (`engmetrics.incidents.actions.is_done`, with `completed_at` before
  that start). Needs at least one such item; a ``wont_do``, open or undated item means not closed.
  `recurrences` lists those incidents.
- `terms`: the three terms with the largest summed TF-IDF weight in the pattern; `factors`: contributing
  factors shared by at least two of its incidents.
- Confidentiality: for a `reader` (`engmetrics.incidents.confidentiality`; None, the workspace owner, reads
  everything) a pattern is left out when it holds an incident the reader may not read, as the API does.

The engine computes each incident's start, period, resolution time, readability and action-item summary;
the grouping runs on those small rows in Python (union-find over a per-service similarity matrix).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import ibis
import numpy as np

from ..auth.roles import Principal
from ..slo.incidents_window import incident_window
from ..store import Store
from .actions import is_done
from .confidentiality import readable_expr
from .search import tokenize as words
from .text import TfIdf, incident_text, similarity_matrix

__all__ = ["FACTOR_DISCOUNT", "FLAT_TOLERANCE", "MIN_COVERAGE", "Pattern", "incident_rows", "recurring_patterns",
           "service_words"]

Period = Literal["quarter", "month"]
FACTOR_DISCOUNT = 0.5
FLAT_TOLERANCE = 0.1
MIN_COVERAGE = 0.5


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


def incident_rows(store: Store, period: Period = "quarter", reader: Principal | None = None) -> list[dict[str, Any]]:
    """Every incident with `start`, `period`, `resolve_seconds`, `readable` (by `reader`), `items` and
    `closed_at` (None unless all of its action items are done with a `completed_at`), ordered by start then
    id; incidents without a start are left out."""
    inc = store.table("incidents")
    start, end = incident_window(inc, None)
    inc = inc.filter(start.notnull()).select(
        "incident_id", "service", "title", "summary", "contributing_factors", start=start,
        period=start.truncate("Q" if period == "quarter" else "M"),
        resolve_seconds=(end.epoch_seconds() - start.epoch_seconds()).cast("float64"),
        readable=readable_expr(reader, inc.confidentiality, inc.team))
    a = store.table("action_items")
    done = is_done(a) & a.completed_at.notnull()
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


def service_words(store: Store) -> frozenset[str]:
    """The tokens of every service name (`incidents.service` and `services.service`).

    E.g. ``identity-api`` gives ``identity`` and ``api``.
    """
    inc, svc = store.table("incidents"), store.table("services")
    names = inc.select(name=inc.service).union(svc.select(name=svc.service), distinct=True)
    return frozenset(w for n in names.name.to_pyarrow().to_pylist() for w in words(n))


def _label(when: datetime, period: Period) -> str:
    return f"{when.year}-Q{(when.month - 1) // 3 + 1}" if period == "quarter" else f"{when.year}-{when.month:02d}"


def _period_start(k: int, step: int) -> datetime:
    return datetime(k * step // 12, k * step % 12 + 1, 1, tzinfo=UTC)


def _direction(judged: list[tuple[int, float, int]]) -> str:
    """Weighted least-squares direction of the judged periods' (index, per_day, days) (see module doc)."""
    if len(judged) < 2:
        return "insufficient_data"
    x, y, w = (np.array(column, dtype=float) for column in zip(*judged, strict=True))
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    slope = float(np.sum(w * (x - xm) * (y - ym)) / np.sum(w * (x - xm) ** 2))
    if abs(slope) * (x[-1] - x[0]) <= FLAT_TOLERANCE * ym:
        return "flat"
    return "rising" if slope > 0 else "falling"


def _trend(periods: list[datetime], span: tuple[datetime, datetime], period: Period
           ) -> tuple[list[dict[str, Any]], str]:
    """Per-period counts and rates from the first of `periods` to the end of the observed `span` (its first
    and last day, UTC midnights, the last included)."""
    step = 3 if period == "quarter" else 1
    index = [(p.year * 12 + p.month - 1) // step for p in periods]
    first, end = min(index), (span[1].year * 12 + span[1].month - 1) // step
    counts = Counter(index)
    rows: list[dict[str, Any]] = []
    judged: list[tuple[int, float, int]] = []
    for k in range(first, end + 1):
        lo, hi = max(_period_start(k, step), span[0]), min(_period_start(k + 1, step), span[1] + timedelta(days=1))
        days = max(0, (hi - lo).days)
        c = counts.get(k, 0)
        rows.append({"period": _label(_period_start(k, step), period), "incidents": c, "days": days,
                     "per_day": c / days if days else None})
        if days >= MIN_COVERAGE * (_period_start(k + 1, step) - _period_start(k, step)).days:
            judged.append((k - first, c / days, days))
    return rows, _direction(judged)


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


def _pattern(rows: list[dict[str, Any]], vectors: list[dict[str, float]], span: tuple[datetime, datetime],
             period: Period) -> Pattern:
    weights: Counter[str] = Counter()
    for v in vectors:
        weights.update(v)
    factors = Counter(f for r in rows for f in set(r["contributing_factors"] or ()))
    ends = [r["resolve_seconds"] for r in rows if r["resolve_seconds"] is not None]
    counts, direction = _trend([r["period"] for r in rows], span, period)
    recurrences = _recurrences(rows)
    return Pattern(
        pattern_id="", service=rows[0]["service"], incident_ids=[r["incident_id"] for r in rows],
        terms=[t for t, _ in sorted(weights.items(), key=lambda tw: (-tw[1], tw[0]))[:3]],
        factors=sorted(f for f, c in factors.items() if c >= 2), first_start=rows[0]["start"],
        last_start=rows[-1]["start"], responder_hours=sum(ends) / 3600, open_incidents=len(rows) - len(ends),
        counts=counts, direction=direction, recurred_after_closure=bool(recurrences), recurrences=recurrences)


def _day(when: datetime) -> datetime:
    return datetime(when.year, when.month, when.day, tzinfo=UTC)


def recurring_patterns(store: Store, *, min_size: int = 2, threshold: float = 0.3, period: Period = "quarter",
                       reader: Principal | None = None) -> list[Pattern]:
    """Patterns of at least `min_size` incidents that `reader` may read (None: the workspace owner), largest
    first (then earliest), ids ``P1``, ``P2``, ... (numbered after the reader's filter)."""
    rows = incident_rows(store, period, reader)
    if not rows:
        return []
    model = TfIdf([incident_text(r["title"], r["summary"]) for r in rows], exclude=service_words(store))
    span = (_day(min(r["start"] for r in rows)), _day(max(r["start"] for r in rows)))
    by_service: dict[str | None, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_service[r["service"]].append(i)
    found = []
    for members in by_service.values():
        vectors = [model.vectors[i] for i in members]
        factor_sets = [set(rows[i]["contributing_factors"] or ()) for i in members]
        shared = np.array([[bool(a & b) for b in factor_sets] for a in factor_sets])
        sim = similarity_matrix(vectors)
        linked = (sim >= threshold) | (shared & (sim >= threshold * FACTOR_DISCOUNT))
        for component in _components(len(members), linked):
            group = [rows[members[c]] for c in component]
            if len(group) >= min_size and all(r["readable"] for r in group):
                found.append(_pattern(group, [vectors[c] for c in component], span, period))
    found.sort(key=lambda p: (-p.size, p.first_start, p.incident_ids[0]))
    return [Pattern(**{**asdict(p), "pattern_id": f"P{k}"}) for k, p in enumerate(found, start=1)]
