"""Cycle time of changes broken into stages, each in wall-clock and in working hours.

**Changes counted**: rows of `changes` that are not bots (`is_bot` true, or `author` matching a glob of
`settings.delivery.bots`, case-insensitive), merged (`merged_at` not null) in [start, end) when bounds are
given.

**First review**: the earliest `reviews` row of the change whose reviewer is neither the author nor a bot
(`reviews.is_bot`, set at ingest, or a reviewer name matching `settings.delivery.bots`),
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

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..quantiles import percentile
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import UTC_TIMESTAMP
from .change_links import link_changes_to_deployments
from .connectors.bots import human
from .working_time import Calendars, cached

__all__ = ["GROUPINGS", "STAGES", "CycleGroup", "StageStats", "change_stages", "cycle_time_stats",
           "region"]

STAGES = ("coding", "pickup", "review", "deploy")
GROUPINGS = ("team", "repo")
Grouping = Literal["team", "repo"]


def region(zone: ir.StringValue) -> ir.StringValue:
    """The part of an IANA zone name before the first "/" ("America/New_York" -> "America")."""
    return zone.split("/")[0]


def _changes(store: Store, settings: DeliverySettings, start: datetime | None, end: datetime | None) -> ir.Table:
    c = store.table("changes")
    c = c.filter(human(c.is_bot, c.author, settings.bots))
    c = c.filter(c.merged_at.notnull())
    if start is not None:
        c = c.filter(c.merged_at >= start)
    if end is not None:
        c = c.filter(c.merged_at < end)
    return c.mutate(_ready=c.ready_at.coalesce(c.created_at)).view()


def _first_reviews(store: Store, settings: DeliverySettings, changes: ir.Table) -> ir.Table:
    """(change_id, first_review_at, reviewer) per change (module doc), in one pass: each change's reviews rows
    (one null row without any), those that count ranked first, then by time and reviewer."""
    c = changes.select("change_id", "author", "_ready", "first_review_at")
    r = store.table("reviews").select(_rc="change_id", _rv="reviewer", _at="submitted_at", _bot="is_bot")
    j = c.left_join(r, c.change_id == r._rc)
    counts = human(j._bot, j._rv, settings.bots) & (j._rv != j.author) & (j._at >= j._ready)
    j = j.mutate(_q=ibis.ifelse(counts, 0, 1))  # a null (no review row) does not count
    n = ibis.row_number().over(group_by=j.change_id, order_by=[j._q, j._at, j._rv])
    f = j.mutate(_n=n).filter(ibis._._n == 0)
    fallback = ibis.ifelse(f._rc.isnull(), f.first_review_at, ibis.null(UTC_TIMESTAMP))
    return f.select("change_id", first_review_at=ibis.ifelse(f._q == 0, f._at, fallback),
                    reviewer=ibis.ifelse(f._q == 0, f._rv, ibis.null("string")))


def _deploys(store: Store, settings: DeliverySettings) -> ir.Table:
    """(change_id, deployed_at): the first successful production deploy that shipped the change
    (`change_links.link_changes_to_deployments`); deployed at `finished_at`, else `started_at`."""
    links = link_changes_to_deployments(store, production_environments=settings.production_environments)
    d = store.table("deployments").select(_did="deployment_id", _dat=ibis._.finished_at.coalesce(ibis._.started_at))
    j = links.join(d, links.deployment_id == d._did)
    return j.select("change_id", deployed_at=j._dat)


def change_stages(store: Store, settings: DeliverySettings, *, start: datetime | None = None,
                  end: datetime | None = None, cache: ExitStack | None = None) -> ir.Table:
    """One row per counted change: change_id, repo, author, reviewer (of the first review), team,
    author_region, reviewer_region, pr_size and `{stage}_wall_hours`, `{stage}_working_hours` for every stage
    (module doc). One wide row per change: each stage's calendar is looked up on it (`working_time.Calendars`).
    With `cache`, the changes with their instants and calendars are computed once into a temporary table
    released when `cache` closes (the day table needs a small query over them first)."""
    calendars = Calendars(store, settings)
    seconds = Calendars.seconds
    c = _changes(store, settings, start, end)
    firsts = _first_reviews(store, settings, c).view()
    deploys = _deploys(store, settings).view()
    x = (c.left_join(firsts, c.change_id == firsts.change_id).left_join(deploys, c.change_id == deploys.change_id))
    x = x.select(c.change_id, c.author, c.repo, reviewer=firsts.reviewer,
                 pr_size=c.additions.coalesce(0) + c.deletions.coalesce(0), _picker=firsts.reviewer.coalesce(c.author),
                 _first=seconds(c.first_commit_at.coalesce(c.created_at)), _ready=seconds(c._ready),
                 _review=seconds(firsts.first_review_at), _merged=seconds(c.merged_at),
                 _deployed=seconds(deploys.deployed_at), _created=seconds(c.created_at))
    # each stage is measured in the calendar of its person at its start; the team and region come from the
    # author's calendar at created_at
    for cal, person, at in (("_c_coding", "author", "_first"), ("_c_pickup", "_picker", "_ready"),
                            ("_c_review", "author", "_review"), ("_c_deploy", "author", "_merged"),
                            ("_c_home", "author", "_created")):
        x = calendars.lookup(x, person, at, cal=cal)
    x = cached(store, x.drop("_picker"), cache)
    bounds = {"coding": ("_first", "_ready"), "pickup": ("_ready", "_review"), "review": ("_review", "_merged"),
              "deploy": ("_merged", "_deployed")}
    out = calendars.hours(x, {s: (a, b, f"_c_{s}") for s, (a, b) in bounds.items()})
    out = calendars.named(calendars.named(out, "_c_pickup", zone="_z_pickup"), "_c_home", zone="_z_home",
                          team="_t_home")
    team = ibis.ifelse(out._t_home == "", ibis.literal("unknown"), out._t_home)
    return out.select("change_id", "repo", "author", "reviewer", "pr_size", team=team,
                      author_region=region(out._z_home), reviewer_region=region(out._z_pickup),
                      **{f"{s}_{k}_hours": f"{s}_{k}_hours" for s in STAGES for k in ("wall", "working")})


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


def _stats(wall: np.ndarray, work: np.ndarray) -> StageStats:
    known = ~(np.isnan(wall) | np.isnan(work))
    wall, work = wall[known], work[known]
    return StageStats(len(wall), percentile(wall, 0.5), percentile(wall, 0.9), percentile(work, 0.5),
                      percentile(work, 0.9))


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False).astype(float)


def cycle_time_stats(store: Store, settings: DeliverySettings, *, by: Grouping | None = None,
                     start: datetime | None = None, end: datetime | None = None,
                     min_group_size: int = 5) -> list[CycleGroup]:
    """Per group (sorted by name), the cycle-time aggregates of the changes merged in [start, end). One query
    fetches the per-change values; groups are split and summarised in numpy."""
    with ExitStack() as cache:
        stages = change_stages(store, settings, start=start, end=end, cache=cache)
        columns = ["pr_size", *[f"{s}_{k}_hours" for s in STAGES for k in ("wall", "working")]]
        frame = stages.select(*columns, group=stages[by] if by else ibis.literal("all"),
                              author=stages.author).to_pyarrow()
    if frame.num_rows == 0:
        return []
    people = {r["group"]: r["author_count_distinct"]
              for r in frame.group_by("group").aggregate([("author", "count_distinct")]).to_pylist()}
    codes = pc.dictionary_encode(frame.column("group").combine_chunks())
    names = codes.dictionary.to_pylist()
    order = np.argsort(codes.indices.to_numpy(zero_copy_only=False), kind="stable")
    cuts = np.cumsum(np.bincount(codes.indices.to_numpy(zero_copy_only=False), minlength=len(names)))[:-1]
    rows = dict(zip(names, np.split(order, cuts), strict=True))
    values = {name: _column(frame, name) for name in columns}
    out = []
    for name in sorted(people):
        if people[name] < min_group_size:
            out.append(CycleGroup(name, True))
            continue
        mine = rows[name]
        out.append(CycleGroup(name, False, len(mine), percentile(values["pr_size"][mine], 0.5),
                              {s: _stats(values[f"{s}_wall_hours"][mine], values[f"{s}_working_hours"][mine])
                               for s in STAGES}))
    return out
