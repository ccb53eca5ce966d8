"""Guardrails: velocity beside its counter-metric per month, and the debt-risk flag, checked by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.delivery.guardrails import guardrails, months_between
from engmetrics.settings import DeliverySettings

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, 12, tzinfo=UTC)


@pytest.fixture
def teams(store):
    store.sql.executemany("INSERT INTO services (service, team) VALUES (?,?)", [("s", "fast"), ("u", "steady")])
    # (id, service, month, day, status, hotfix)
    deploys = [("f1", "s", 1, 5, "success", False), ("f2", "s", 1, 6, "success", False),
               ("f3", "s", 2, 5, "success", False), ("f4", "s", 2, 6, "success", True),
               ("f5", "s", 2, 7, "failure", False), ("f6", "s", 2, 8, "success", False),
               ("u1", "u", 1, 5, "failure", False), ("u2", "u", 1, 6, "success", False),
               ("u3", "u", 2, 5, "success", False), ("u4", "u", 2, 6, "success", False),
               ("u5", "u", 2, 7, "success", False), ("u6", "u", 2, 8, "success", False),
               ("x", "u", 2, 9, "success", False)]
    store.sql.executemany(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, status, is_hotfix) "
        "VALUES (?,?,'production',?,?,?)", [(i, s, day(m, d), st, h) for i, s, m, d, st, h in deploys[:-1]])
    store.sql.execute("INSERT INTO deployments (deployment_id, service, environment, started_at, status) "
                      "VALUES ('x', 'u', 'staging', ?, 'success')", [day(2, 9)])  # not production
    # an incident 1 h after f6 (same service): f6 caused it
    store.sql.execute("INSERT INTO incidents (incident_id, service, severity, declared_at) VALUES ('i', 's', 2, ?)",
                      [day(2, 8) + timedelta(hours=1)])
    return {g.team: g for g in guardrails(store, DeliverySettings(), start=START, end=END)}


def test_months():
    assert months_between(START, END) == ["2026-01", "2026-02"]


def test_series_by_hand(teams):
    f = teams["fast"].series
    # Feb: 4 deploys, f5 failed and f6 caused an incident -> 2 / 4; f4 is a hotfix -> 1 / 4; 1 incident / 4
    assert f["deploys"] == [2, 4]
    assert f["change_fail_rate"] == [0.0, 0.5]
    assert f["rework_rate"] == [0.0, 0.25]
    assert f["incidents_per_deploy"] == [0.0, 0.25]
    u = teams["steady"].series
    assert (u["deploys"], u["change_fail_rate"]) == ([2, 4], [0.5, 0.0])  # the staging deploy does not count


def test_velocity_up_and_fail_rate_up_is_flagged(teams):
    flags = {(f.velocity, f.guardrail) for f in teams["fast"].flags}
    assert ("deploys", "change_fail_rate") in flags
    assert ("deploys", "incidents_per_deploy") in flags
    flag = next(f for f in teams["fast"].flags if f.guardrail == "change_fail_rate")
    assert (flag.previous, flag.month, flag.velocity_series, flag.guardrail_series) == (
        "2026-01", "2026-02", [2, 4], [0.0, 0.5])


def test_both_improving_is_not_flagged(teams):
    assert teams["steady"].flags == []


def test_lead_time_and_churn(store):
    store.sql.execute("INSERT INTO services (service, team) VALUES ('s', 't')")
    store.sql.execute("INSERT INTO changes (change_id, repo, service, author, first_commit_at, created_at, merged_at) "
                      "VALUES ('c1', 'r', 's', 'A', ?, ?, ?)", [day(1, 10) - timedelta(hours=30), day(1, 10),
                                                                  day(1, 10)])
    store.sql.execute("INSERT INTO deployments (deployment_id, service, environment, started_at, finished_at, "
                      "status, change_ids) VALUES ('d', 's', 'production', ?, ?, 'success', ['c1'])",
                      [day(1, 10), day(1, 10) + timedelta(hours=2)])
    # f: +10 on Jan 5, then -4 (+2) on Jan 10 (within 21 days: churn 4)
    # g: -3 on Jan 30, lines added 45 days before (not churn)
    rows = [("1", "f", day(1, 5), 10, 0), ("2", "f", day(1, 10), 2, 4),
            ("3", "g", day(1, 5) - timedelta(days=20), 1, 0), ("4", "g", day(1, 30), 0, 3)]
    store.sql.executemany("INSERT INTO commit_files (sha, path, repo, author, committed_at, added, deleted) "
                          "VALUES (?,?,'r','A',?,?,?)", rows)
    (t,) = guardrails(store, DeliverySettings(), start=START, end=END)
    # lead time: first commit 30 h before creation, deployed 2 h after -> 32 h
    assert t.series["lead_time_p50_hours"] == [32.0, None]
    # January: churn 4 lines / 12 added (sha 3 was committed in December, outside the window)
    assert t.series["churn_rate"] == [pytest.approx(4 / 12), None]
    assert t.series["merged_changes"] == [1, 0]


def test_guardrails_command(workspace, workspace_store, cli):
    workspace_store.sql.execute("INSERT INTO services (service, team) VALUES ('s', 't')")
    workspace_store.sql.executemany(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, status) "
        "VALUES (?, 's', 'production', ?, ?)", [("1", day(1, 5), "success"), ("2", day(2, 5), "success"),
                                                 ("3", day(2, 6), "failure")])
    workspace_store.close()
    result = cli("delivery", "guardrails", "--from", "2026-01", "--to", "2026-03", "--json")
    assert result.exit_code == 0, result.output
    (t,) = json.loads(result.output)
    assert t["series"]["deploys"] == [1, 2] and t["series"]["change_fail_rate"] == [0.0, 0.5]
    # no incidents: 0 per deploy both months is not worse
    assert [(f["velocity"], f["guardrail"]) for f in t["flags"]] == [("deploys", "change_fail_rate")]
    assert cli("delivery", "guardrails", "--from", "2026-13").exit_code == 1
