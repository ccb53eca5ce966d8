"""Delivery data: changes (pull requests), reviews, files per commit and deployments.

Engineers open changes on working days in their own time zone; review waits are lognormal and grow
with the size of the change; merged changes ride the next deploy of their service, and every
production deploy is preceded by a staging one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pyarrow as pa

from .common import (
    MINUTE,
    NAT,
    after_end,
    hex_ids,
    local_times,
    lognormal_seconds,
    to_table,
    topic_rng,
    with_prefix,
)
from .org import Org

__all__ = ["BOT", "Delivery", "Deploys", "build_delivery"]

BOT = "renovate-bot"
_MODULES = ("api", "core", "db", "jobs", "web", "client", "config", "tests")
_FILES = ("handlers", "models", "service", "utils", "schema", "routes", "worker", "settings")
_PATHS = np.array([f"src/{m}/{f}.py" for m in _MODULES for f in _FILES])


@dataclass
class Deploys:
    """Deployments as arrays (so reliability can add rollbacks before the table is built)."""

    service: np.ndarray  # service index
    environment: np.ndarray
    started_at: np.ndarray
    finished_at: np.ndarray
    status: np.ndarray
    commit_sha: np.ndarray
    change_ids: list[list[str]]
    is_rollback: np.ndarray
    is_hotfix: np.ndarray
    fixes_incident_id: np.ndarray  # object, None when not a fix
    size: np.ndarray  # lines changed by the deploy's changes
    id: np.ndarray  # deployment ids (empty strings until numbered)

    @classmethod
    def concat(cls, parts: list[Deploys]) -> Deploys:
        fields = {name: np.concatenate([getattr(p, name) for p in parts])
                  for name in cls.__dataclass_fields__ if name != "change_ids"}
        return cls(change_ids=[c for p in parts for c in p.change_ids], **fields)

    def __len__(self) -> int:
        return len(self.service)

    def order(self) -> np.ndarray:
        return np.argsort(self.started_at, kind="stable")

    def numbered(self, first: int = 1) -> Deploys:
        """A copy with ids `dep-000001`, ... (from `first`) assigned in started_at order."""
        ids = np.empty(len(self), dtype=object)
        ids[self.order()] = with_prefix("dep-", np.arange(first, first + len(self)), 6)
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return Deploys(**{**fields, "id": ids.astype(str)})

    def table(self, services: list[str]) -> pa.Table:
        order = self.order()
        names = np.array(services)
        return to_table({
            "deployment_id": self.id[order], "service": names[self.service[order]],
            "environment": self.environment[order], "started_at": self.started_at[order],
            "finished_at": self.finished_at[order], "status": self.status[order],
            "commit_sha": self.commit_sha[order],
            "change_ids": pa.array([self.change_ids[i] for i in order], pa.list_(pa.string())),
            "is_rollback": self.is_rollback[order], "is_hotfix": self.is_hotfix[order],
            "fixes_incident_id": pa.array(self.fixes_incident_id[order].tolist(), pa.string()),
        })


@dataclass
class Delivery:
    changes: pa.Table
    reviews: pa.Table
    commit_files: pa.Table
    deploys: Deploys


def _team_members(org: Org) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([len(org.members(t)) for t in range(len(org.teams))])
    matrix = np.zeros((len(org.teams), sizes.max()), dtype=np.int64)
    for t in range(len(org.teams)):
        matrix[t, : sizes[t]] = org.members(t)
    return matrix, sizes


def _pick_teammate(rng: np.random.Generator, org: Org, team: np.ndarray, avoid: np.ndarray) -> np.ndarray:
    """A random member of `team` (per row) other than person `avoid` (-1 avoids nobody)."""
    matrix, sizes = _team_members(org)
    pick = matrix[team, rng.integers(0, sizes[team] - 1)]
    return np.where(pick == avoid, matrix[team, sizes[team] - 1], pick)


def build_delivery(seed: int, org: Org) -> Delivery:
    """Changes, reviews, commit files and deployments for the demo period."""
    rng = topic_rng(seed, "delivery")
    period, end = org.period, org.period.end
    days = period.day_starts()
    workday = org.workdays()
    service_team = org.service_team_index()

    # Changes: people open about 0.8 a working day; a bot opens dependency updates every day.
    rate = np.where(workday[org.person_team], 0.8, 0.03)
    counts = rng.poisson(rate)
    person, day = np.nonzero(counts)
    person, day = np.repeat(person, counts[person, day]), np.repeat(day, counts[person, day])
    team = org.person_team[person]
    starts = np.array([t.work_start for t in org.teams])[team]
    ends = np.array([t.work_end for t in org.teams])[team]
    created = local_times(rng, days[day], org.offsets[team, day], starts, ends)
    team_services = [np.flatnonzero(service_team == t) for t in range(len(org.teams))]
    pick = rng.random(len(team))
    service = np.empty(len(team), dtype=np.int64)
    for t, owned in enumerate(team_services):
        rows = team == t
        service[rows] = owned[np.minimum((pick[rows] * len(owned)).astype(int), len(owned) - 1)]
    author = org.people[person].astype(object)
    is_bot = np.zeros(len(person), dtype=bool)

    bot_counts = rng.poisson(0.12, size=(len(org.services), period.days))
    bot_service, bot_day = np.nonzero(bot_counts)
    bot_created = days[bot_day] + (rng.integers(0, 24 * 3600, len(bot_day))).astype("m8[s]")
    service = np.concatenate([service, bot_service])
    created = np.concatenate([created, bot_created])
    author = np.concatenate([author, np.full(len(bot_day), BOT, dtype=object)]).astype(str)
    is_bot = np.concatenate([is_bot, np.ones(len(bot_day), dtype=bool)])
    person = np.concatenate([person, np.full(len(bot_day), -1)])
    team = service_team[service]
    n = len(service)

    # Files first: a change's size is the sum over its files.
    commits = 1 + rng.poisson(np.where(is_bot, 0.0, 1.0))
    commit_change = np.repeat(np.arange(n), commits)
    commit_sha = hex_ids(rng, len(commit_change))
    files = 1 + rng.poisson(np.where(is_bot[commit_change], 0.2, 1.5))
    file_commit = np.repeat(np.arange(len(commit_change)), files)
    file_change = commit_change[file_commit]
    path = _PATHS[rng.integers(0, len(_PATHS), len(file_commit))]
    path = np.where(is_bot[file_change], "requirements.txt", path)
    added = np.round(np.exp(np.log(25) + 1.3 * rng.standard_normal(len(file_commit)))).astype(np.int64)
    deleted = np.round(added * rng.beta(1.5, 4, len(file_commit))).astype(np.int64)
    additions = np.bincount(file_change, weights=added, minlength=n).astype(np.int64)
    deletions = np.bincount(file_change, weights=deleted, minlength=n).astype(np.int64)

    # Lifecycle: lognormal waits; bigger changes wait longer for review.
    first_commit = created - lognormal_seconds(rng, 5 * 3600, 1.2, n)
    draft = (rng.random(n) < 0.2) & ~is_bot
    ready = created + np.where(draft, lognormal_seconds(rng, 3 * 3600, 1.0, n), np.timedelta64(0, "s"))
    size_factor = np.clip((additions + deletions) / 80, 0.3, 8) ** 0.35
    review_wait = (lognormal_seconds(rng, 3 * 3600, 1.1, n).astype(np.int64) * size_factor).astype("m8[s]")
    first_review = ready + review_wait
    one_pass = rng.random(n) < np.where(is_bot, 0.95, 0.55)
    approved = first_review + np.where(one_pass, np.timedelta64(0, "s"), lognormal_seconds(rng, 5 * 3600, 1.0, n))
    merged = approved + lognormal_seconds(rng, 40 * 60, 1.0, n)
    abandoned = rng.random(n) < 0.07
    closed = np.where(abandoned, created + lognormal_seconds(rng, 3 * 86400, 0.8, n), merged)
    merged = np.where(abandoned, NAT, merged)
    approved = np.where(abandoned & (rng.random(n) < 0.7), NAT, approved)
    ready, first_review, approved, merged, closed = (
        after_end(x, end) for x in (ready, first_review, approved, merged, closed))
    merge_sha = np.where(np.isnat(merged), None, hex_ids(rng, n)).astype(object)

    repo = np.char.add("acme/", np.array([s.id for s in org.services])[service])
    order = np.lexsort((created, repo))
    number = np.empty(n, dtype=np.int64)
    sorted_repo = repo[order]
    group_start = np.r_[0, np.flatnonzero(sorted_repo[1:] != sorted_repo[:-1]) + 1]
    run = np.arange(n) - np.repeat(group_start, np.diff(np.r_[group_start, n]))
    number[order] = 100 + run
    change_id = np.char.add(np.char.add(repo, "#"), number.astype(str))

    changes = to_table({
        "change_id": change_id, "repo": repo, "service": np.array([s.id for s in org.services])[service],
        "author": author, "first_commit_at": first_commit, "created_at": created, "ready_at": ready,
        "first_review_at": first_review, "approved_at": approved, "merged_at": merged, "closed_at": closed,
        "merge_commit_sha": pa.array(merge_sha.tolist(), pa.string()), "additions": additions,
        "deletions": deletions, "is_bot": is_bot,
    })
    order = np.argsort(created, kind="stable")
    changes = changes.take(order)

    reviews = _reviews(rng, org, change_id, team, person, first_review, approved, abandoned)
    span = (created - first_commit).astype(np.int64)
    first_of_change = np.r_[True, commit_change[1:] != commit_change[:-1]]
    offset = np.where(first_of_change, 0, rng.random(len(commit_change)) * span[commit_change])
    committed = first_commit[commit_change] + offset.astype(np.int64).astype("m8[s]")
    files_table = to_table({
        "sha": commit_sha[file_commit], "path": path, "repo": repo[file_change], "author": author[file_change],
        "committed_at": committed[file_commit], "added": added, "deleted": deleted,
    })
    _, unique = np.unique(np.char.add(commit_sha[file_commit], path), return_index=True)
    files_table = files_table.take(np.sort(unique))

    deploys = _deploys(rng, org, service, merged, merge_sha, change_id, additions + deletions)
    return Delivery(changes, reviews, files_table, deploys)


def _reviews(rng: np.random.Generator, org: Org, change_id: np.ndarray, team: np.ndarray, author: np.ndarray,
             first_review: np.ndarray, approved: np.ndarray, abandoned: np.ndarray) -> pa.Table:
    """A first review, an approval when it came later, and sometimes a second reviewer's comments."""
    has_first = ~np.isnat(first_review)
    same = has_first & (approved == first_review)
    first_state = np.where(same, "approved", np.where(rng.random(len(team)) < 0.6, "changes_requested",
                                                      "commented"))
    reviewer = _pick_teammate(rng, org, team, author)
    second = ~np.isnat(approved) & ~same
    extra = has_first & (rng.random(len(team)) < 0.25) & ~abandoned
    other = _pick_teammate(rng, org, team, reviewer)
    extra_at = first_review + (rng.random(len(team)) * 3 * 3600).astype(np.int64).astype("m8[s]")
    rows = {
        "change_id": np.concatenate([change_id[has_first], change_id[second], change_id[extra]]),
        "reviewer": org.people[np.concatenate([reviewer[has_first], reviewer[second], other[extra]])],
        "submitted_at": np.concatenate([first_review[has_first], approved[second], extra_at[extra]]),
        "state": np.concatenate([first_state[has_first], np.full(second.sum(), "approved"),
                                 np.full(extra.sum(), "commented")]),
    }
    keep = rows["submitted_at"] < org.period.end
    table = to_table({k: v[keep] for k, v in rows.items()})
    return table.take(np.argsort(rows["submitted_at"][keep], kind="stable"))


def _deploys(rng: np.random.Generator, org: Org, service: np.ndarray, merged: np.ndarray, merge_sha: np.ndarray,
             change_id: np.ndarray, lines: np.ndarray) -> Deploys:
    """Per service: deploy slots in working hours; each merged change rides the next slot."""
    period = org.period
    days = period.day_starts()
    workday = org.workdays()
    service_team = org.service_team_index()
    team_rate = np.exp(rng.uniform(np.log(0.4), np.log(2.5), len(org.teams)))
    parts: list[Deploys] = []
    for s in range(len(org.services)):
        t = service_team[s]
        slots_per_day = rng.poisson(team_rate[t] * workday[t])
        day = np.repeat(np.arange(period.days), slots_per_day)
        slots = np.sort(local_times(rng, days[day], org.offsets[t, day], org.teams[t].work_start,
                                    org.teams[t].work_end))
        mine = np.flatnonzero((service == s) & ~np.isnat(merged))
        mine = mine[np.argsort(merged[mine], kind="stable")]
        slot_of = np.searchsorted(slots, merged[mine] + 10 * MINUTE)
        inside = slot_of < len(slots)
        mine, slot_of = mine[inside], slot_of[inside]
        used, first = np.unique(slot_of, return_index=True)
        if len(used) == 0:
            continue
        bounds = np.r_[first, len(mine)]
        groups = [change_id[mine[a:b]].tolist() for a, b in pairwise(bounds)]
        last = mine[bounds[1:] - 1]
        size = np.add.reduceat(lines[mine], first)
        k = len(used)
        prod_start = slots[used]
        stage_start = prod_start - (rng.uniform(20, 90, k) * 60).astype(np.int64).astype("m8[s]")
        status = rng.choice(["success", "failure", "cancelled"], size=k, p=[0.94, 0.04, 0.02])
        for env, start, state in (("staging", stage_start, np.full(k, "success")),
                                  ("production", prod_start, status)):
            finished = start + lognormal_seconds(rng, 6 * 60, 0.5, k)
            parts.append(Deploys(
                service=np.full(k, s), environment=np.full(k, env), started_at=start,
                finished_at=np.where(finished >= period.end, NAT, finished),
                status=np.where(finished >= period.end, "in_progress", state),
                commit_sha=merge_sha[last].astype(str), change_ids=groups, is_rollback=np.zeros(k, bool),
                is_hotfix=np.zeros(k, bool), fixes_incident_id=np.full(k, None, dtype=object), size=size,
                id=np.full(k, "")))
    return Deploys.concat(parts).numbered()
