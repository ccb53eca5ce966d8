"""Peer feedback with care: rater-calibrated team aggregates, never per person, never ranked.

`feedback` is restricted and individual-level. Semantics:

- **Calibration** for rater leniency: each score is standardised within its rater and period,
  ``z = (score - rater mean) / rater standard deviation`` (population), over all the rater's scores of the
  period (every dimension). A rater with fewer than two scores, or the same score everywhere, carries no
  relative information: those scores are excluded (counted in `excluded`).
- **Team** of a ratee: the latest `people` membership that started on or before `as_of` (default today).
- **Aggregate** per (team, period, dimension): `ratees` (distinct), `ratings`, `mean_z` (calibrated) and
  `mean_score` (raw), shown only when `ratees >= min_group_size`; otherwise `suppressed` is true and the
  values are None. Groups are ordered by team, period and dimension, never by score.
- Always reported with `CAVEAT`, and beside the team's latest delivery numbers when given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import ibis

from ..store import Store
from .silos import person_teams

__all__ = ["CAVEAT", "FeedbackGroup", "FeedbackReport", "calibrated_feedback", "feedback_report"]

CAVEAT = ("Peer feedback is subjective and noisy. Scores are standardised within each rater to remove "
          "leniency, aggregated per team only when enough people were rated, and must not be used to rank, "
          "compare or evaluate individuals. Read them beside the team's delivery numbers and in conversation "
          "with the team.")


@dataclass(frozen=True)
class FeedbackGroup:
    team: str | None
    period: str
    dimension: str
    ratees: int | None
    ratings: int | None
    mean_z: float | None
    mean_score: float | None
    suppressed: bool
    delivery: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FeedbackReport:
    caveat: str
    min_group_size: int
    excluded: int
    groups: list[FeedbackGroup]

    def to_dict(self) -> dict:
        return {"caveat": self.caveat, "min_group_size": self.min_group_size, "excluded": self.excluded,
                "groups": [g.to_dict() for g in self.groups]}


def calibrated_feedback(store: Store):
    """``(rater, ratee, period, dimension, score, z)``; z is null for a rater without spread (module doc)."""
    f = store.table("feedback")
    w = ibis.window(group_by=[f.rater, f.period])
    f = f.mutate(_mean=f.score.mean().over(w), _sd=f.score.std(how="pop").over(w), _n=f.count().over(w))
    usable = (f._n >= 2) & (f._sd > 0)
    z = ibis.cases((usable, (f.score - f._mean) / f._sd), else_=ibis.null("float64"))
    return f.select("rater", "ratee", "period", "dimension", "score", z=z)


def feedback_report(store: Store, *, min_group_size: int, as_of: date | None = None,
                    delivery: dict[str, dict] | None = None) -> FeedbackReport:
    """Team aggregates of calibrated feedback with suppression below `min_group_size` ratees (module doc)."""
    f = calibrated_feedback(store)
    excluded = int(f.z.isnull().sum().to_pyarrow().as_py() or 0)
    f = f.filter(f.z.notnull())
    f = f.left_join(person_teams(store, as_of).rename(ratee="person"), "ratee")
    g = f.group_by(["team", "period", "dimension"]).aggregate(
        ratees=f.ratee.nunique(), ratings=f.count(), mean_z=f.z.mean(), mean_score=f.score.mean())
    groups = []
    for r in sorted(g.to_pyarrow().to_pylist(), key=lambda r: (r["team"] or "", r["period"], r["dimension"])):
        shown = r["ratees"] >= min_group_size
        groups.append(FeedbackGroup(
            r["team"], r["period"], r["dimension"], r["ratees"] if shown else None, r["ratings"] if shown else None,
            float(r["mean_z"]) if shown else None, float(r["mean_score"]) if shown else None, not shown,
            (delivery or {}).get(r["team"])))
    return FeedbackReport(CAVEAT, min_group_size, excluded, groups)
