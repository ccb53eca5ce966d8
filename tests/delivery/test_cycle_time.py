"""Cycle-time stages in wall and working hours, hand-checked (Berlin team, 09:00-17:00 Mon-Fri)."""

from __future__ import annotations

import json

from engmetrics.delivery.cycle_time import change_stages, cycle_time_stats
from engmetrics.settings import DeliverySettings


def _org(store) -> None:
    ex = store.sql.execute
    ex("insert into teams (team, timezone, work_days) values (?, ?, ?)", ["berlin", "Europe/Berlin", "Mon-Fri"])
    for p in ["a", "rev"]:
        ex("insert into people (person, valid_from, team) values (?, ?, ?)", [p, "2020-01-01", "berlin"])


def _change(store, cid: str, author: str, created: str, merged: str | None, first_commit: str | None = None,
            sha: str | None = None, bot: bool = False) -> None:
    store.sql.execute("insert into changes (change_id, repo, author, first_commit_at, created_at, merged_at, "
                      "merge_commit_sha, additions, deletions, is_bot) values (?,?,?,?,?,?,?,?,?,?)",
                      [cid, "repo1", author, first_commit, created, merged, sha, 10, 5, bot])


def _review(store, cid: str, who: str, at: str) -> None:
    store.sql.execute("insert into reviews (change_id, reviewer, submitted_at, state) values (?,?,?,?)",
                      [cid, who, at, "approved"])


def test_stages_of_a_weekend_change(store) -> None:
    _org(store)
    # first commit Fri 11:00 CET, opened Fri 20:00 CET, self-review Sat (ignored), reviewed Mon 10:00 CET by rev,
    # merged Mon 13:00 CET, deployed (finished) Mon 14:30 CET
    _change(store, "c1", "a", "2026-01-09 19:00:00+00", "2026-01-12 12:00:00+00", "2026-01-09 10:00:00+00", "s1")
    _review(store, "c1", "a", "2026-01-10 09:00:00+00")
    _review(store, "c1", "rev", "2026-01-12 09:00:00+00")
    store.sql.execute("insert into deployments (deployment_id, service, environment, started_at, finished_at, status, "
                      "commit_sha) values (?,?,?,?,?,?,?)", ["d1", "svc", "production", "2026-01-12 13:00:00+00",
                                                              "2026-01-12 13:30:00+00", "success", "s1"])
    _change(store, "bot", "dependabot[bot]", "2026-01-09 19:00:00+00", "2026-01-12 12:00:00+00")
    rows = change_stages(store, DeliverySettings()).to_pyarrow().to_pylist()
    assert [r["change_id"] for r in rows] == ["c1"]  # the bot's change is excluded
    r = rows[0]
    # coding: Fri 11:00 -> 20:00 CET = 9 h wall, working 11-17 = 6 h
    assert (r["coding_wall_hours"], r["coding_working_hours"]) == (9.0, 6.0)
    # pickup: Fri 20:00 -> Mon 10:00 CET = 62 h wall, 1 working hour (Mon 09-10)
    assert (r["pickup_wall_hours"], r["pickup_working_hours"]) == (62.0, 1.0)
    assert (r["review_wall_hours"], r["review_working_hours"]) == (3.0, 3.0)  # Mon 10:00 -> 13:00
    assert (r["deploy_wall_hours"], r["deploy_working_hours"]) == (1.5, 1.5)  # 13:00 -> 14:30
    assert r["pr_size"] == 15 and r["team"] == "berlin" and r["reviewer_region"] == "Europe"


def test_missing_review_and_deploy_are_null(store) -> None:
    _org(store)
    _change(store, "c2", "a", "2026-01-12 08:00:00+00", "2026-01-12 10:00:00+00")
    r = change_stages(store, DeliverySettings()).to_pyarrow().to_pylist()[0]
    assert r["coding_wall_hours"] == 0.0
    assert r["pickup_wall_hours"] is None and r["review_working_hours"] is None and r["deploy_wall_hours"] is None


def test_groups_below_min_size_are_suppressed(store, workspace, cli) -> None:
    _org(store)
    # two changes by author a, reviewed 1 h and 3 h after opening (Mon, within working hours)
    _change(store, "c1", "a", "2026-01-12 08:00:00+00", "2026-01-12 14:00:00+00")
    _review(store, "c1", "rev", "2026-01-12 09:00:00+00")
    _change(store, "c2", "a", "2026-01-12 08:00:00+00", "2026-01-12 14:00:00+00")
    _review(store, "c2", "rev", "2026-01-12 11:00:00+00")
    [g] = cycle_time_stats(store, DeliverySettings(), by="team", min_group_size=1)
    pickup = g.stages["pickup"]
    assert (g.n, pickup.wall_p50, pickup.working_p90) == (2, 2.0, 2.8)  # p90 at rank 0.9: 1 + 0.9 x 2
    assert cycle_time_stats(store, DeliverySettings(), by="team", min_group_size=2)[0].suppressed  # one author


def test_cli_json(workspace, workspace_store, cli) -> None:
    _org(workspace_store)
    _change(workspace_store, "c1", "a", "2026-01-12 08:00:00+00", "2026-01-12 14:00:00+00")
    workspace_store.close()
    result = cli("delivery", "cycle-time", "--by", "repo", "--from", "2026-01-01", "--to", "2026-02-01", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"group": "repo1", "suppressed": True, "n": None, "pr_size_p50": None,
                                          "stages": {}}]
    assert cli("delivery", "cycle-time", "--by", "person").exit_code == 1
