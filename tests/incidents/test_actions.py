"""Action-item follow-through by owner team: completion, overdue, time to complete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.incidents.actions import action_follow_through, is_done
from engmetrics.store import Store

NOW = datetime(2026, 4, 1, tzinfo=UTC)
DAY = 86400


def item(store: Store, item_id: str, team: str | None, *, status: str | None, created_days_ago: float,
         done_after_days: float | None = None, due_in_days: float | None = None) -> None:
    created = NOW - timedelta(days=created_days_ago)
    done = created + timedelta(days=done_after_days) if done_after_days is not None else None
    due = NOW + timedelta(days=due_in_days) if due_in_days is not None else None
    store.sql.execute("INSERT INTO action_items VALUES ('inc-1', ?, 'prevent', ?, ?, ?, ?, ?)",
                      [item_id, team, created, due, done, status])


@pytest.fixture
def two_teams(store):
    # team-a: 4 done in 1, 2, 3, 4 days; 1 open overdue; 1 open not due yet; 1 open without due date; 1 wont_do
    for i, days in enumerate((1, 2, 3, 4)):
        item(store, f"a{i}", "team-a", status="done", created_days_ago=30, done_after_days=days)
    item(store, "a4", "team-a", status="open", created_days_ago=20, due_in_days=-1)
    item(store, "a5", "team-a", status="in_progress", created_days_ago=20, due_in_days=3)
    item(store, "a6", "team-a", status="open", created_days_ago=20)
    item(store, "a7", "team-a", status="wont_do", created_days_ago=20, due_in_days=-5)
    # team-b: one done item without a status (completed_at set), one overdue
    item(store, "b0", "team-b", status=None, created_days_ago=10, done_after_days=0.5)
    item(store, "b1", "team-b", status="open", created_days_ago=10, due_in_days=-2)
    return store


def test_follow_through_by_team(two_teams):
    a, b = action_follow_through(two_teams, now=NOW)
    assert (a.owner_team, a.items, a.done, a.wont_do, a.open, a.overdue) == ("team-a", 8, 4, 1, 3, 1)
    assert a.completion_rate == pytest.approx(4 / 7)  # 4 done of 8 - 1 wont_do
    # durations 1, 2, 3, 4 days: median 2.5 d; p90 at rank 0.9 x 3 = 2.7 -> 3 + 0.7 x (4 - 3) = 3.7 d
    assert (a.completed, a.median_seconds, a.p90_seconds) == (4, 2.5 * DAY, pytest.approx(3.7 * DAY))
    assert (b.owner_team, b.items, b.done, b.open, b.overdue) == ("team-b", 2, 1, 1, 1)
    assert b.completion_rate == 0.5
    assert (b.median_seconds, b.p90_seconds) == (0.5 * DAY, 0.5 * DAY)


def test_no_completed_items_has_no_durations_and_wont_do_only_has_no_rate(store):
    item(store, "c0", "team-c", status="wont_do", created_days_ago=3)
    (c,) = action_follow_through(store, now=NOW)
    assert (c.items, c.done, c.completion_rate, c.completed, c.median_seconds) == (1, 0, None, 0, None)


def test_empty_store_has_no_rows(store):
    assert action_follow_through(store, now=NOW) == []


def test_cli_actions_json(workspace, workspace_store, cli):
    item(workspace_store, "a0", "team-a", status="done", created_days_ago=3, done_after_days=1)
    item(workspace_store, "a1", "team-a", status="open", created_days_ago=3, due_in_days=-1)
    workspace_store.close()
    result = cli("incidents", "actions", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["owner_team"], row["completion_rate"], row["overdue"], row["median_seconds"]) == (
        "team-a", 0.5, 1, DAY)
    table = cli("incidents", "actions")
    assert table.exit_code == 0 and "team-a" in table.stdout and "50 %" in table.stdout


def test_is_done_is_the_one_definition(store):
    item(store, "d0", "team-a", status="done", created_days_ago=3)  # done without completed_at: done
    item(store, "d1", "team-a", status=None, created_days_ago=3, done_after_days=1)  # no status, completed: done
    item(store, "d2", "team-a", status=None, created_days_ago=3)  # neither: open
    item(store, "d3", "team-a", status="open", created_days_ago=3, done_after_days=1)  # open wins over a date
    t = store.table("action_items")
    rows = t.select("item_id", done=is_done(t)).order_by("item_id").to_pyarrow().to_pylist()
    assert [r["done"] for r in rows] == [True, True, False, False]
    assert action_follow_through(store, now=NOW)[0].done == 2
