"""Guardrails: velocity beside its counter-metric per month with DORA's definitions (checked against
`dora_metrics` and by hand), coverage, and the debt-risk flag (two steps, complete months, minimum counts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.delivery.dora import dora_metrics
from engmetrics.delivery.guardrails import guardrails, months_between
from engmetrics.settings import DeliverySettings
from engmetrics.store import Store

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
Q_END = datetime(2026, 4, 1, tzinfo=UTC)  # January to March
H = timedelta(hours=1)


def day(month: int, d: int, hour: int = 12) -> datetime:
    return datetime(2026, month, d, hour, tzinfo=UTC)


def deploy(store: Store, deployment_id: str, service: str, started: datetime, status: str = "success", *,
           environment: str = "production", **columns: object) -> None:
    names = ["deployment_id", "service", "environment", "started_at", "status", *columns]
    store.sql.execute(f"INSERT INTO deployments ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                      [deployment_id, service, environment, started, status, *columns.values()])


def change(store: Store, change_id: str, author: str, first_commit: datetime, merged: datetime, **columns: object):
    names = ["change_id", "repo", "service", "author", "first_commit_at", "created_at", "merged_at", *columns]
    store.sql.execute(f"INSERT INTO changes ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                      [change_id, "r", "s", author, first_commit, first_commit, merged, *columns.values()])


@pytest.fixture
def feb(store):
    """Team fast (service s): January j1, j2; February, with every DORA rule that differs from a naive count:
    f2 rolled back by f3, f4 status failure, f5 caused incident i, f6 a hotfix fixing it, f7 deploys c2's merge
    commit. Team steady (service u) and a staging deployment x that does not count."""
    store.sql.executemany("INSERT INTO services (service, team) VALUES (?,?)", [("s", "fast"), ("u", "steady")])
    deploy(store, "j1", "s", day(1, 5))
    deploy(store, "j2", "s", day(1, 6))
    deploy(store, "f1", "s", day(2, 2, 10), finished_at=day(2, 2, 10) + H / 2, change_ids=["c1", "c4", "c5"])
    deploy(store, "f2", "s", day(2, 3, 10))
    deploy(store, "f3", "s", day(2, 3, 11), is_rollback=True)
    deploy(store, "f4", "s", day(2, 5, 10), "failure")
    deploy(store, "f5", "s", day(2, 6, 10))
    deploy(store, "f6", "s", day(2, 6, 14), is_hotfix=True, fixes_incident_id="i")
    deploy(store, "f7", "s", day(2, 7, 10), commit_sha="m2")
    for i, (m, d) in enumerate(((1, 5), (1, 6), (2, 5), (2, 6), (2, 7), (2, 8))):
        deploy(store, f"u{i}", "u", day(m, d), "failure" if i == 0 else "success")
    deploy(store, "x", "u", day(2, 9), environment="staging")
    store.sql.execute("INSERT INTO incidents (incident_id, service, severity, declared_at, caused_by_deployment_id) "
                      "VALUES ('i', 's', 2, ?, 'f5')", [day(2, 6, 11)])
    change(store, "c1", "a1", day(2, 2, 8) + H / 2, day(2, 2, 9))  # listed by f1 (ends 10:30): 2 h
    change(store, "c2", "a2", day(2, 7, 6), day(2, 7, 9), merge_commit_sha="m2")  # f7's merge commit: 4 h
    change(store, "c3", "a3", day(2, 6, 8), day(2, 6, 12))  # merged between f5 and f6 (commit range): 6 h
    change(store, "c4", "bot", day(1, 2), day(2, 2, 9), is_bot=True)  # a bot: left out
    change(store, "c5", "a5", day(2, 2, 11), day(2, 2, 9))  # first commit after f1 ended: negative, left out
    return store


def test_months():
    assert months_between(START, END) == ["2026-01", "2026-02"]


def test_series_are_the_dora_numbers(feb):
    (fast, steady) = guardrails(feb, DeliverySettings(), start=START, end=END, min_group_size=3)
    f = fast.series
    # February: successful f1 f2 f3 f5 f6 f7 = 6 (f4 failed to deploy); failed f2 (rolled back), f5 (incident)
    # = 2 / 6; rework f6 (hotfix fixing i) = 1 / 6 (the rollback f3 is not rework); incident i / 6 deploys
    assert f["deploys"] == [2, 6]
    assert f["change_fail_rate"] == [0.0, pytest.approx(2 / 6)]
    assert f["rework_rate"] == [0.0, pytest.approx(1 / 6)]
    assert f["incidents_per_deploy"] == [0.0, pytest.approx(1 / 6)]
    # lead times c1 2 h (change_ids), c2 4 h (merge commit), c3 6 h (commit range): p50 4 h, 3 authors
    assert f["lead_time_p50_hours"] == [None, 4.0] and fast.n["lead_time_p50_hours"] == [0, 3]
    assert (steady.series["deploys"], steady.series["change_fail_rate"]) == ([1, 4], [0.0, 0.0])  # no staging
    [dora] = [g.to_dict() for g in dora_metrics(feb, DeliverySettings(), start=day(2, 1, 0), end=day(3, 1, 0),
                                                 by="team", min_group_size=3) if g.group == "fast"]
    assert dora["deployments"] == f["deploys"][1]
    assert dora["change_fail_rate"]["value"] == f["change_fail_rate"][1]
    assert dora["rework_rate"]["value"] == f["rework_rate"][1]
    assert dora["lead_time"]["p50_hours"] == f["lead_time_p50_hours"][1]


def test_lead_time_needs_the_group_size(feb):
    fast = guardrails(feb, DeliverySettings(), start=START, end=END)[0]  # 3 authors < 5
    assert fast.series["lead_time_p50_hours"] == [None, None] and fast.n["lead_time_p50_hours"] == [0, 3]


def test_churn_leaves_out_merge_and_bot_rows(store):
    store.sql.execute("INSERT INTO services (service, team) VALUES ('s', 't')")
    change(store, "c1", "A", day(1, 9), day(1, 10))
    # f: +10 on Jan 5, then -4 (+2) on Jan 10 (within 21 days: churn 4)
    # g: -3 on Jan 30, lines added 45 days before (not churn)
    # a merge commit and a bot repeat or rewrite f: neither counts, as added lines nor as churn
    rows = [("1", "f", day(1, 5), 10, 0, False, False), ("2", "f", day(1, 10), 2, 4, False, False),
            ("3", "g", day(1, 5) - timedelta(days=20), 1, 0, False, False), ("4", "g", day(1, 30), 0, 3, False, False),
            ("m", "f", day(1, 11), 12, 4, True, False), ("b", "f", day(1, 12), 50, 9, False, True)]
    store.sql.executemany("INSERT INTO commit_files (sha, path, repo, author, committed_at, added, deleted, is_merge, "
                          "is_bot) VALUES (?,?,'r','A',?,?,?,?,?)", rows)
    (t,) = guardrails(store, DeliverySettings(), start=START, end=END)
    # January: churn 4 lines / 12 added over commits 1, 2, 4 (sha 3 was committed in December)
    assert t.series["churn_rate"] == [pytest.approx(4 / 12), None] and t.n["churn_rate"] == [3, 0]
    assert t.series["merged_changes"] == [1, 0]


def quarter(store: Store, teams: dict[str, list[tuple[int, int]]], first: datetime = day(1, 1),
            last: datetime = day(3, 31)) -> None:
    """Per team (its own service) and month January..March (deployments, failed): deployments on days 2, 3, ...,
    the first `failed` of them each caused an incident. Two deployments of a service without a team mark the
    first and last data day."""
    store.sql.executemany("INSERT INTO services (service, team) VALUES (?, ?)", [(t, t) for t in teams])
    deploy(store, "first", "no-team", first)
    deploy(store, "last", "no-team", last)
    for team, months in teams.items():
        for month, (n, failed) in enumerate(months, start=1):
            for k in range(n):
                deploy(store, f"{team}-{month}-{k}", team, day(month, 2 + k))
                if k < failed:
                    store.sql.execute("INSERT INTO incidents (incident_id, service, severity, declared_at, "
                                      "caused_by_deployment_id) VALUES (?, ?, 3, ?, ?)",
                                      [f"i-{team}-{month}-{k}", team, day(month, 2 + k) + H, f"{team}-{month}-{k}"])


def flags(store: Store, **options: object) -> dict[str, set[tuple[str, str, str, str]]]:
    return {t.team: {(f.velocity, f.guardrail, f.previous, f.month) for f in t.flags}
            for t in guardrails(store, DeliverySettings(), start=START, end=Q_END, **options)}


TEAMS = {"fast": [(5, 0), (6, 1), (8, 2)],  # more deploys and a higher fail rate at both steps: 0, 1/6, 1/4
         "once": [(5, 0), (5, 0), (7, 2)],  # only the last step: flat velocity, then one uptick
         "small": [(2, 0), (3, 1), (4, 2)],  # both steps, but fewer than 5 deployments a month
         "steady": [(5, 1), (6, 1), (8, 1)]}  # more deploys, fail rate falling: 1/5, 1/6, 1/8


def test_flag_needs_two_steps_and_enough_data(store):
    quarter(store, TEAMS)
    assert flags(store) == {
        "fast": {("deploys", "change_fail_rate", "2026-01", "2026-03"),
                 ("deploys", "incidents_per_deploy", "2026-01", "2026-03")},  # incidents 0/5, 1/6, 2/8
        "once": set(), "small": set(), "steady": set()}
    assert flags(store, min_count=2)["small"] == {("deploys", "change_fail_rate", "2026-01", "2026-03"),
                                                  ("deploys", "incidents_per_deploy", "2026-01", "2026-03")}
    fast = guardrails(store, DeliverySettings(), start=START, end=Q_END)[0]
    flag = next(f for f in fast.flags if f.guardrail == "change_fail_rate")
    assert (flag.velocity_series, flag.guardrail_series) == ([5, 6, 8], [0.0, pytest.approx(1 / 6), 0.25])
    assert fast.complete["deploys"] == [True, True, True] and fast.n["change_fail_rate"] == [5, 6, 8]


@pytest.mark.parametrize(("first", "last", "complete"), [
    (day(1, 2), day(3, 31), [False, True, True]),  # data start on January 2: a partial first month
    (day(1, 1), day(3, 30), [True, True, False])])  # data end before March 31: a partial last month
def test_partial_months_are_not_judged(store, first, last, complete):
    quarter(store, {"fast": TEAMS["fast"]}, first, last)
    assert flags(store) == {"fast": set()}
    (t,) = guardrails(store, DeliverySettings(), start=START, end=Q_END)
    assert t.complete["change_fail_rate"] == complete and t.complete["merged_changes"] == [False] * 3  # no changes


def test_guardrails_command(workspace, workspace_store, cli):
    quarter(workspace_store, {"fast": TEAMS["fast"]})
    workspace_store.close()
    result = cli("delivery", "guardrails", "--from", "2026-01", "--to", "2026-04", "--json")
    assert result.exit_code == 0, result.output
    (t,) = json.loads(result.output)
    assert t["series"]["deploys"] == [5, 6, 8] and t["complete"]["deploys"] == [True] * 3
    assert sorted((f["velocity"], f["guardrail"], f["previous"], f["month"]) for f in t["flags"]) == [
        ("deploys", "change_fail_rate", "2026-01", "2026-03"),
        ("deploys", "incidents_per_deploy", "2026-01", "2026-03")]
    assert cli("delivery", "guardrails", "--from", "2026-13").exit_code == 1
