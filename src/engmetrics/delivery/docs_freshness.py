"""Documentation freshness per team and per service, from `doc_updates`.

Semantics, as of `as_of` (default now, UTC); updates after `as_of` are ignored:

- A document's **last update** is its latest `updated_at`; its **team** and **service** are the `team` and
  `service` of that update (None when unset); its **age** is ``as_of - last update`` in days.
- Per team (or per service, `by="service"`): `docs`, `median_age_days` (exact median in the engine),
  `fresh_share` = share of its documents updated within the last `fresh_days` (default 90) days,
  ``age <= fresh_days``, and `stale` documents (the rest).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir

from ..store import Store
from ..timeutil import as_utc

__all__ = ["FRESH_DAYS", "GROUPINGS", "TeamDocs", "doc_ages", "docs_freshness"]

FRESH_DAYS = 90
GROUPINGS = ("team", "service")


@dataclass(frozen=True)
class TeamDocs:
    """Freshness of one team's (or, with `by="service"`, one service's: `team` holds its name) documents."""

    team: str | None
    docs: int
    median_age_days: float
    fresh_share: float
    stale: int
    by: str = "team"

    def to_dict(self) -> dict:
        """`{"team": ...}`, or `{"service": ...}` for a service."""
        out = asdict(self)
        out[out.pop("by")] = out.pop("team")
        return {self.by: out.pop(self.by), **out}


def doc_ages(store: Store, as_of: datetime | None = None) -> ir.Table:
    """``(doc_id, team, service, last_updated_at, age_days)``: one row per document updated on or before
    `as_of`."""
    now = as_utc(as_of or datetime.now(UTC))
    d = store.table("doc_updates")
    d = d.filter(d.updated_at <= now)
    d = d.mutate(_rn=ibis.row_number().over(group_by=d.doc_id, order_by=ibis.desc(d.updated_at)))
    d = d.filter(d._rn == 0)
    age = (ibis.literal(now.timestamp()) - d.updated_at.epoch_seconds().cast("float64")) / 86400
    return d.select("doc_id", "team", "service", last_updated_at=d.updated_at, age_days=age)


def docs_freshness(store: Store, as_of: datetime | None = None, *, fresh_days: float = FRESH_DAYS,
                   by: str = "team") -> list[TeamDocs]:
    """Freshness per team or service (module doc), by name (None last)."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    d = doc_ages(store, as_of)
    fresh = d.age_days <= fresh_days
    rows = d.group_by(by).aggregate(docs=d.count(), median_age_days=d.age_days.quantile(0.5),
                                    fresh=fresh.cast("int64").sum())
    teams = [TeamDocs(r[by], int(r["docs"]), float(r["median_age_days"]), r["fresh"] / r["docs"],
                      int(r["docs"] - r["fresh"]), by) for r in rows.to_pyarrow().to_pylist()]
    return sorted(teams, key=lambda t: (t.team is None, t.team or ""))
