"""Cycle time of changes broken into stages, each in wall-clock and in working hours.

**Changes counted**: rows of `changes` that are not bots (`is_bot` true, or `author` matching a glob of
`settings.delivery.bots`, case-insensitive), merged (`merged_at` not null) in [start, end) when bounds are
given.

**First review**: the earliest `reviews` row of the change whose reviewer is neither the author nor a bot,
submitted at or after the change became ready (`ready_at`, else `created_at`; reviews of a draft are not
a pickup). A change without any `reviews` rows falls back to `changes.first_review_at` (reviewer unknown:
its pickup is measured in the author's calendar).

**Stages**, each [from, to) and measured in the working calendar (`working_time`) of the responsible person
at `from`:

* ``coding``: first commit (`first_commit_at`, else `created_at`) to ready (`ready_at`, else `created_at`);
  the author's time.
* ``pickup``: ready to the first review; the reviewer's time.
* ``review``: first review to `merged_at`; the author's time.
* ``deploy``: `merged_at` to the first successful production deploy that shipped the change, as linked by
  `engmetrics.delivery.change_links` (listed `change_ids`, else the merge commit, else the commit range of
  the service), deployed at `finished_at`, else `started_at`; the author's time.

A stage with a missing end, or an end before its start, is null. **PR size** = additions + deletions (a
missing side counts 0). **Team** of a change: the author's membership team at `created_at` (see
`working_time`), "unknown" without one; **region**: the first part of a zone name ("Europe/Berlin" ->
"Europe"; "UTC" stays "UTC").

**Aggregates** (`cycle_time_stats`): per group (all, team or repo), n changes, p50 and p90
(`engmetrics.quantiles.percentile`, on the per-change values fetched from the engine; numpy on one
group's array) of each stage in wall and working hours, and the median PR size. A group covering fewer
than `min_group_size` distinct authors is suppressed (only its name and `suppressed: true`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..quantiles import percentile
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import UTC_TIMESTAMP
from .change_links import link_changes_to_deployments
from .working_time import span_hours, with_calendar

__all__ = ["GROUPINGS", "STAGES", "CycleGroup", "StageStats", "change_stages", "cycle_time_stats", "is_bot_name",
           "region", "stage_stats"]

STAGES = ("coding", "pickup", "review", "deploy")
GROUPINGS = ("team", "repo")
Grouping = Literal["team", "repo"]


def is_bot_name(name: ir.StringValue, globs: Sequence[str]) -> ir.BooleanValue:
    """Whether `name` matches one of the glob patterns (`*`, `?`; case-insensitive), as a portable regex.

    >>> ibis.literal("Dependabot-preview").pipe(is_bot_name, ["dependabot*"]).execute()
    True
    """
    if not globs:
        return ibis.literal(False)
    parts = ["^" + ".*".join(".".join(re.escape(q) for q in p.lower().split("?")) for p in g.split("*")) + "$"
             for g in globs]
    return name.lower().re_search("|".join(parts)).coalesce(False)


def region(zone: ir.StringValue) -> ir.StringValue:
    """The part of an IANA zone name before the first "/" ("America/New_York" -> "America")."""
    return zone.split("/")[0]


def _changes(store: Store, settings: DeliverySettings, start: datetime | None, end: datetime | None) -> ir.Table:
    c = store.table("changes")
    c = c.filter(~c.is_bot.coalesce(False), ~is_bot_name(c.author, settings.bots))
    c = c.filter(c.merged_at.notnull())
    if start is not None:
        c = c.filter(c.merged_at >= start)
    if end is not None:
        c = c.filter(c.merged_at < end)
    return c.mutate(_ready=c.ready_at.coalesce(c.created_at)).view()


def _first_reviews(store: Store, settings: DeliverySettings, changes: ir.Table) -> ir.Table:
    """(change_id, first_review_at, reviewer) per change (module doc)."""
    r = store.table("reviews")
    r = r.filter(~is_bot_name(r.reviewer, settings.bots)).select(_rc="change_id", _rv="reviewer", _at="submitted_at")
    j = changes.join(r, [changes.change_id == r._rc, r._rv != changes.author, r._at >= changes._ready])
    n = ibis.row_number().over(group_by=j.change_id, order_by=[j._at, j._rv])
    firsts = j.mutate(_n=n).filter(ibis._._n == 0).select(_fc="change_id", _fat="_at", _frv="_rv")
    any_review = store.table("reviews").select(_ac="change_id").distinct()
    out = changes.left_join(firsts, changes.change_id == firsts._fc).left_join(
        any_review, changes.change_id == any_review._ac)
    fallback = ibis.ifelse(out._ac.isnull(), out.first_review_at, ibis.null(UTC_TIMESTAMP))
    return out.select("change_id", first_review_at=out._fat.coalesce(fallback), reviewer=out._frv)


def _deploys(store: Store, settings: DeliverySettings) -> ir.Table:
    """(change_id, deployed_at): the first successful production deploy that shipped the change
    (`change_links.link_changes_to_deployments`); deployed at `finished_at`, else `started_at`."""
    links = link_changes_to_deployments(store, production_environments=settings.production_environments)
    d = store.table("deployments").select(_did="deployment_id", _dat=ibis._.finished_at.coalesce(ibis._.started_at))
    j = links.join(d, links.deployment_id == d._did)
    return j.select("change_id", deployed_at=j._dat)


def change_stages(store: Store, settings: DeliverySettings, *, start: datetime | None = None,
                  end: datetime | None = None) -> ir.Table:
    """One row per counted change: change_id, repo, author, reviewer (of the first review), team,
    author_region, reviewer_region, pr_size and `{stage}_wall_hours`, `{stage}_working_hours` for every stage
    (module doc)."""
    c = _changes(store, settings, start, end)
    firsts = _first_reviews(store, settings, c).view()
    deploys = _deploys(store, settings).view()
    x = (c.left_join(firsts, c.change_id == firsts.change_id).left_join(deploys, c.change_id == deploys.change_id))
    x = x.select(c.change_id, c.author, c.repo, c.created_at, c.merged_at, _ready=c._ready,
                 _first=c.first_commit_at.coalesce(c.created_at), first_review_at=firsts.first_review_at,
                 reviewer=firsts.reviewer, deployed_at=deploys.deployed_at,
                 pr_size=c.additions.coalesce(0) + c.deletions.coalesce(0)).view()
    bounds = {"coding": ("_first", "_ready", x.author), "pickup": ("_ready", "first_review_at",
                                                                   x.reviewer.coalesce(x.author)),
              "review": ("first_review_at", "merged_at", x.author), "deploy": ("merged_at", "deployed_at", x.author)}
    spans = ibis.union(*[x.select(span_id=x.change_id + ibis.literal(":" + s), stage=ibis.literal(s),
                                  change_id=x.change_id, start=x[a].cast(UTC_TIMESTAMP),
                                  end=x[b].cast(UTC_TIMESTAMP), person=who)
                         for s, (a, b, who) in bounds.items()]).view()
    hours = span_hours(store, settings, spans).view()
    staged = spans.join(hours, spans.span_id == hours.span_id)
    cols = {}
    for s in STAGES:
        cols[f"{s}_wall_hours"] = staged.wall_hours.max(where=staged.stage == s)
        cols[f"{s}_working_hours"] = staged.working_hours.max(where=staged.stage == s)
    cols["reviewer_region"] = region(staged.cal_zone).max(where=(staged.stage == "pickup"))
    per_change = staged.group_by(staged.change_id).aggregate(**cols).view()
    home = with_calendar(store, x.select("change_id", "author", "created_at"), person="author", at="created_at",
                         key="change_id").view()
    out = x.join(per_change, x.change_id == per_change.change_id).join(home, x.change_id == home.change_id)
    team = ibis.ifelse(out.cal_team == "", ibis.literal("unknown"), out.cal_team)
    return out.select(x.change_id, x.repo, x.author, x.reviewer, x.pr_size, team=team,
                      author_region=region(out.cal_zone), reviewer_region=per_change.reviewer_region,
                      **{k: per_change[k] for k in cols if "_hours" in k})


@dataclass(frozen=True)
class StageStats:
    """p50 and p90 of one stage in wall and working hours over the n changes where it is known."""

    n: int
    wall_p50: float | None
    wall_p90: float | None
    working_p50: float | None
    working_p90: float | None

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "wall_hours_p50": self.wall_p50, "wall_hours_p90": self.wall_p90,
                "working_hours_p50": self.working_p50, "working_hours_p90": self.working_p90}


@dataclass(frozen=True)
class CycleGroup:
    """Cycle-time aggregates of one group; `suppressed` groups carry no numbers."""

    group: str
    suppressed: bool
    n: int | None = None
    pr_size_p50: float | None = None
    stages: dict[str, StageStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"group": self.group, "suppressed": self.suppressed, "n": self.n, "pr_size_p50": self.pr_size_p50,
                "stages": {s: v.to_dict() for s, v in self.stages.items()}}


def stage_stats(frame: pd.DataFrame, stage: str) -> StageStats:
    """p50/p90 of `{stage}_wall_hours` and `{stage}_working_hours` in `frame` (rows where both are known)."""
    known = frame[[f"{stage}_wall_hours", f"{stage}_working_hours"]].dropna()
    wall, work = known.iloc[:, 0].to_numpy(float), known.iloc[:, 1].to_numpy(float)
    return StageStats(len(known), percentile(wall, 0.5), percentile(wall, 0.9), percentile(work, 0.5),
                      percentile(work, 0.9))


def cycle_time_stats(store: Store, settings: DeliverySettings, *, by: Grouping | None = None,
                     start: datetime | None = None, end: datetime | None = None,
                     min_group_size: int = 5) -> list[CycleGroup]:
    """Per group (sorted by name), the cycle-time aggregates of the changes merged in [start, end)."""
    stages = change_stages(store, settings, start=start, end=end)
    stages = stages.mutate(group=stages[by] if by else ibis.literal("all")).view()
    sizes = stages.group_by("group").aggregate(people=stages.author.nunique()).to_pandas()
    allowed = set(sizes.loc[sizes.people >= min_group_size, "group"])
    columns = ["group", "pr_size", *[f"{s}_{k}_hours" for s in STAGES for k in ("wall", "working")]]
    frame = stages.filter(stages.group.isin(list(allowed) or [""])).select(*columns).to_pandas()
    out = []
    for name in sorted(sizes.group):
        if name not in allowed:
            out.append(CycleGroup(name, True))
            continue
        rows = frame[frame.group == name]
        out.append(CycleGroup(name, False, len(rows), percentile(rows.pr_size.to_numpy(float), 0.5),
                              {s: stage_stats(rows, s) for s in STAGES}))
    return out
