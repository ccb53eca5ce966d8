"""Review bottlenecks and fairness across geographies, as team-level aggregates (nobody is named or ranked).

Built on `cycle_time.change_stages` (changes merged in [start, end), bots excluded; stage definitions there).

* **Stage shares** per team and per repository: over the changes whose coding, pickup and review working
  hours are all known, each stage's share of their sum (sum of the stage / sum of coding + pickup + review,
  in working hours; deploy is left out because many changes have no linked deploy). `pickup_dominates` when
  pickup has the largest share.
* **Reviewer load concentration** per team: the reviews submitted in [start, end) on non-bot changes by
  reviewers who are neither bots (`reviews.is_bot`, or the name matches `delivery.bots`, see
  `connectors.bots`) nor the change's author, counted per reviewer; a reviewer's team is their membership
  team at `submitted_at` (see `working_time`), and the team's reviewers also include its members with no
  review (memberships overlapping the window; all memberships without a window). With N
  reviewers, the top ceil(20 % x N) by review count (integer arithmetic) hold `top_share` of the team's
  reviews. Example: counts 5, 3, 1, 1, 0 -> N = 5, top 1 -> 5 / 10 = 0.5.
* **Waiting now**: open changes (not merged, not closed, not bots, not drafts: `is_draft` true means the
  author has not asked for review yet; null counts as false) with no review yet (no `reviews` row by
  someone other than the author and bots, and no `first_review_at`), waiting from ready (`ready_at`, else
  `created_at`) to `now`, in the author's working hours; per author team, n and p50 / p90 / max.
* **Regions**: per region (first part of the zone name, e.g. `Europe`) of the person whose time a stage is
  measured in: pickup in the reviewer's region, coding and review in the author's region; n and p50 / p90 in
  wall and working hours.

Every group covering fewer than `min_group_size` distinct people (authors for shares and waiting; the
team's reviewers for concentration; the region's responsible people for regions) is suppressed: it is
listed with `suppressed: true` and no numbers. Percentiles: `engmetrics.quantiles.percentile` on the
per-group values fetched from the engine (numpy on one group's small array).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.types as ir

from ..quantiles import percentile
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import UTC_TIMESTAMP
from .connectors.bots import human
from .cycle_time import change_stages
from .working_time import span_hours, with_calendar

__all__ = ["Concentration", "RegionStats", "ReviewReport", "StageShares", "Waiting", "review_report",
           "reviewer_concentration", "stage_shares", "waiting_now"]

_SHARED = ("coding", "pickup", "review")
TOP_PERCENT = 20


@dataclass(frozen=True)
class StageShares:
    """Shares of working time per stage of one team or repository."""

    group: str
    suppressed: bool
    n: int | None = None
    coding: float | None = None
    pickup: float | None = None
    review: float | None = None

    @property
    def pickup_dominates(self) -> bool | None:
        if self.suppressed or self.pickup is None:
            return None
        return self.pickup >= max(self.coding or 0.0, self.review or 0.0)

    def to_dict(self) -> dict[str, object]:
        return {"group": self.group, "suppressed": self.suppressed, "n": self.n, "coding_share": self.coding,
                "pickup_share": self.pickup, "review_share": self.review, "pickup_dominates": self.pickup_dominates}


@dataclass(frozen=True)
class Concentration:
    """Share of a team's reviews done by its top 20 % of reviewers."""

    team: str
    suppressed: bool
    reviewers: int | None = None
    reviews: int | None = None
    top_share: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"team": self.team, "suppressed": self.suppressed, "reviewers": self.reviewers,
                "reviews": self.reviews, "top_share": self.top_share}


@dataclass(frozen=True)
class Waiting:
    """Open changes of a team waiting for a first review, in the author's working hours."""

    team: str
    suppressed: bool
    n: int | None = None
    working_hours_p50: float | None = None
    working_hours_p90: float | None = None
    working_hours_max: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"team": self.team, "suppressed": self.suppressed, "n": self.n,
                "working_hours_p50": self.working_hours_p50, "working_hours_p90": self.working_hours_p90,
                "working_hours_max": self.working_hours_max}


@dataclass(frozen=True)
class RegionStats:
    """One stage measured in the time of people of one region."""

    region: str
    stage: str
    suppressed: bool
    n: int | None = None
    wall_hours_p50: float | None = None
    wall_hours_p90: float | None = None
    working_hours_p50: float | None = None
    working_hours_p90: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"region": self.region, "stage": self.stage, "suppressed": self.suppressed, "n": self.n,
                "wall_hours_p50": self.wall_hours_p50, "wall_hours_p90": self.wall_hours_p90,
                "working_hours_p50": self.working_hours_p50, "working_hours_p90": self.working_hours_p90}


@dataclass(frozen=True)
class ReviewReport:
    """Everything `engmetrics delivery reviews` shows."""

    shares_by_team: list[StageShares]
    shares_by_repo: list[StageShares]
    concentration: list[Concentration]
    waiting: list[Waiting]
    regions: list[RegionStats]

    def to_dict(self) -> dict[str, object]:
        return {"shares_by_team": [s.to_dict() for s in self.shares_by_team],
                "shares_by_repo": [s.to_dict() for s in self.shares_by_repo],
                "concentration": [c.to_dict() for c in self.concentration],
                "waiting": [w.to_dict() for w in self.waiting], "regions": [r.to_dict() for r in self.regions]}


def stage_shares(stages: ir.Table, by: str, *, min_group_size: int) -> list[StageShares]:
    """Stage shares per value of `by` ("team" or "repo") of a `change_stages` table (module doc)."""
    known = stages.filter(*[stages[f"{s}_working_hours"].notnull() for s in _SHARED])
    sums = {s: known[f"{s}_working_hours"].sum() for s in _SHARED}
    rows = known.group_by(group=known[by]).aggregate(n=known.count(), people=known.author.nunique(), **sums)
    out = []
    for r in rows.order_by("group").to_pyarrow().to_pylist():
        total = sum(r[s] for s in _SHARED)
        if r["people"] < min_group_size:
            out.append(StageShares(r["group"], True))
        else:
            shares = {s: (r[s] / total if total else None) for s in _SHARED}
            out.append(StageShares(r["group"], False, r["n"], **shares))
    return out


def _window_filter(t: ir.Table, column: str, start: datetime | None, end: datetime | None) -> ir.Table:
    if start is not None:
        t = t.filter(t[column] >= start)
    return t.filter(t[column] < end) if end is not None else t


def _members(store: Store, start: datetime | None, end: datetime | None) -> ir.Table:
    """(team, person, n = 0) of memberships overlapping [start, end)."""
    p = store.table("people")
    if end is not None:
        p = p.filter(p.valid_from <= (end - timedelta(microseconds=1)).date())
    if start is not None:
        p = p.filter(p.valid_to.isnull() | (p.valid_to >= start.date()))
    return p.select("team", "person", n=ibis.literal(0, "int64"))


def reviewer_concentration(store: Store, settings: DeliverySettings, *, start: datetime | None = None,
                           end: datetime | None = None, min_group_size: int = 5) -> list[Concentration]:
    """Per team, the share of its reviews done by its top 20 % of reviewers (module doc)."""
    c = store.table("changes")
    c = c.filter(human(c.is_bot, c.author, settings.bots)).select(_c="change_id", _a="author")
    r = _window_filter(store.table("reviews"), "submitted_at", start, end)
    r = r.filter(human(r.is_bot, r.reviewer, settings.bots))
    r = r.join(c, [r.change_id == c._c, r.reviewer != c._a]).select("change_id", "reviewer", "submitted_at")
    r = r.mutate(_k=r.change_id + ":" + r.reviewer + ":" + r.submitted_at.cast("string"))
    teams = with_calendar(store, r, person="reviewer", at="submitted_at", key="_k")
    counts = teams.select(team=teams.cal_team, person=teams.reviewer, n=ibis.literal(1, "int64"))
    both = ibis.union(counts.filter(counts.team != ""), _members(store, start, end))
    per = both.group_by("team", "person").aggregate(n=both.n.sum())
    w = ibis.window(group_by=per.team)
    ranked = per.mutate(_rank=ibis.row_number().over(group_by=per.team, order_by=[ibis.desc(per.n), per.person]),
                        _size=per.person.count().over(w))
    top = ranked._rank < (ranked._size * TOP_PERCENT + 99) // 100
    rows = ranked.group_by("team").aggregate(reviewers=ranked._size.max(), reviews=ranked.n.sum(),
                                             top=ranked.n.sum(where=top))
    out = []
    for row in rows.order_by("team").to_pyarrow().to_pylist():
        if row["reviewers"] < min_group_size:
            out.append(Concentration(row["team"], True))
        else:
            share = row["top"] / row["reviews"] if row["reviews"] else None
            out.append(Concentration(row["team"], False, row["reviewers"], row["reviews"], share))
    return out


def waiting_now(store: Store, settings: DeliverySettings, *, now: datetime | None = None,
                min_group_size: int = 5) -> list[Waiting]:
    """Per author team, the open non-draft changes with no review yet and their wait in working hours (module
    doc)."""
    now = now or datetime.now(UTC)
    c = store.table("changes")
    c = c.filter(human(c.is_bot, c.author, settings.bots), ~c.is_draft.coalesce(False),
                 c.merged_at.isnull(), c.closed_at.isnull(), c.first_review_at.isnull())
    r = store.table("reviews")
    r = r.filter(human(r.is_bot, r.reviewer, settings.bots))
    r = r.select(_rc="change_id", _rv="reviewer")
    c = c.anti_join(r, [c.change_id == r._rc, c.author != r._rv])
    spans = c.select(span_id=c.change_id, person=c.author, start=c.ready_at.coalesce(c.created_at).cast(UTC_TIMESTAMP),
                     end=ibis.literal(now).cast(UTC_TIMESTAMP))
    hours = span_hours(store, settings, spans).view()
    j = spans.join(hours, spans.span_id == hours.span_id)
    j = j.select(team=ibis.ifelse(j.cal_team == "", ibis.literal("unknown"), j.cal_team), author=j.person,
                 hours=j.working_hours).filter(ibis._.hours.notnull())
    frame = j.to_pandas()
    out = []
    for team, rows in sorted(frame.groupby("team")):
        if rows.author.nunique() < min_group_size:
            out.append(Waiting(team, True))
        else:
            values = rows.hours.to_numpy(float)
            out.append(Waiting(team, False, len(values), percentile(values, 0.5), percentile(values, 0.9),
                               float(values.max())))
    return out


def _region_stats(stages: ir.Table, min_group_size: int) -> list[RegionStats]:
    """Per (region, stage): pickup by the reviewer's region, coding and review by the author's."""
    parts = [stages.select(region=stages.reviewer_region, stage=ibis.literal("pickup"),
                           who=stages.reviewer.coalesce(stages.author), wall=stages.pickup_wall_hours,
                           work=stages.pickup_working_hours)]
    parts += [stages.select(region=stages.author_region, stage=ibis.literal(s), who=stages.author,
                            wall=stages[f"{s}_wall_hours"], work=stages[f"{s}_working_hours"])
              for s in ("coding", "review")]
    long = ibis.union(*parts).filter(ibis._.work.notnull(), ibis._.region.notnull())
    frame = long.to_pandas()
    out = []
    for (name, stage), rows in sorted(frame.groupby(["region", "stage"])):
        if rows.who.nunique() < min_group_size:
            out.append(RegionStats(name, stage, True))
            continue
        wall, work = rows.wall.to_numpy(float), rows.work.to_numpy(float)
        out.append(RegionStats(name, stage, False, len(rows), percentile(wall, 0.5), percentile(wall, 0.9),
                               percentile(work, 0.5), percentile(work, 0.9)))
    return out


def review_report(store: Store, settings: DeliverySettings, *, start: datetime | None = None,
                  end: datetime | None = None, now: datetime | None = None, min_group_size: int = 5) -> ReviewReport:
    """Stage shares, reviewer concentration, waiting changes and regions (module doc)."""
    stages = change_stages(store, settings, start=start, end=end).view()
    return ReviewReport(stage_shares(stages, "team", min_group_size=min_group_size),
                        stage_shares(stages, "repo", min_group_size=min_group_size),
                        reviewer_concentration(store, settings, start=start, end=end, min_group_size=min_group_size),
                        waiting_now(store, settings, now=now, min_group_size=min_group_size),
                        _region_stats(stages, min_group_size))
