"""Review bottlenecks: reviewer concentration, waiting changes, stage shares, regions (hand-checked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from engmetrics.delivery.reviews import review_report, reviewer_concentration, waiting_now
from engmetrics.settings import DeliverySettings


def _org(store) -> None:
    ex = store.sql.execute
    ex("insert into teams (team, timezone) values (?, ?)", ["berlin", "Europe/Berlin"])
    ex("insert into teams (team, timezone) values (?, ?)", ["nyc", "America/New_York"])
    ex("insert into people (person, valid_from, team) values (?, ?, ?)", ["a", "2020-01-01", "nyc"])
    for p in ["r1", "r2", "r3", "r4", "r5"]:
        ex("insert into people (person, valid_from, team) values (?, ?, ?)", [p, "2020-01-01", "berlin"])


def _concentration_data(store) -> None:
    ex = store.sql.execute
    for i in range(5):
        ex("insert into changes (change_id, repo, author, created_at, merged_at) values (?,?,?,?,?)",
           [f"c{i}", "repo1", "a", "2026-01-12 08:00:00+00", "2026-01-13 08:00:00+00"])
    counts = {"r1": 5, "r2": 3, "r3": 1, "r4": 1}  # r5 reviews nothing
    for who, n in counts.items():
        for i in range(n):
            ex("insert into reviews (change_id, reviewer, submitted_at, state) values (?,?,?,?)",
               [f"c{i}", who, "2026-01-12 12:00:00+00", "approved"])
    ex("insert into reviews (change_id, reviewer, submitted_at, state) values (?,?,?,?)",
       ["c0", "renovate[bot]", "2026-01-12 12:00:00+00", "approved"])  # bots do not count


def test_top_20_percent_share(store) -> None:
    _org(store)
    _concentration_data(store)
    got = {c.team: c for c in reviewer_concentration(store, DeliverySettings(), min_group_size=5)}
    # 5 reviewers with 5, 3, 1, 1, 0 reviews: top ceil(20 % x 5) = 1 reviewer holds 5 / 10 = 50 %
    assert (got["berlin"].reviewers, got["berlin"].reviews, got["berlin"].top_share) == (5, 10, 0.5)
    assert got["nyc"].suppressed and got["nyc"].top_share is None  # one member


def test_waiting_now_in_authors_working_hours(store) -> None:
    _org(store)
    ex = store.sql.execute
    # opened Mon 2026-01-12 14:00Z = 09:00 in New York; now Tue 15:00Z = 10:00 New York: 8 + 1 = 9 working hours
    ex("insert into changes (change_id, repo, author, created_at) values (?,?,?,?)",
       ["open", "repo1", "a", "2026-01-12 14:00:00+00"])
    ex("insert into changes (change_id, repo, author, created_at) values (?,?,?,?)",
       ["reviewed", "repo1", "a", "2026-01-12 14:00:00+00"])
    ex("insert into reviews (change_id, reviewer, submitted_at, state) values (?,?,?,?)",
       ["reviewed", "r1", "2026-01-12 15:00:00+00", "commented"])
    # a draft is not waiting for review (is_draft); a review by a reviewer marked a bot is no review
    ex("insert into changes (change_id, repo, author, created_at, is_draft) values (?,?,?,?,?)",
       ["draft", "repo1", "a", "2026-01-12 14:00:00+00", True])
    ex("insert into changes (change_id, repo, author, created_at, is_draft) values (?,?,?,?,?)",
       ["bot-reviewed", "repo1", "a", "2026-01-13 14:00:00+00", False])
    ex("insert into reviews (change_id, reviewer, submitted_at, state, is_bot) values (?,?,?,?,?)",
       ["bot-reviewed", "lint-checker", "2026-01-13 14:05:00+00", "commented", True])
    [w] = waiting_now(store, DeliverySettings(), now=datetime(2026, 1, 13, 15, tzinfo=UTC), min_group_size=1)
    # open 9 working hours, bot-reviewed 1 (Tue 09:00 -> 10:00 New York): n = 2, max 9, p50 = (1 + 9) / 2
    assert (w.team, w.n, w.working_hours_max, w.working_hours_p50) == ("nyc", 2, 9.0, 5.0)
    assert waiting_now(store, DeliverySettings(), now=datetime(2026, 1, 13, 15, tzinfo=UTC))[0].suppressed


def test_shares_and_regions(store) -> None:
    _org(store)
    _concentration_data(store)
    report = review_report(store, DeliverySettings(), min_group_size=1, now=datetime(2026, 1, 13, tzinfo=UTC))
    # each change: created Mon 08:00Z (03:00 NY), coding 0; pickup to the first review 12:00Z in Berlin
    # (13:00 CET): 09:00-13:00 = 4 working hours; review 12:00Z -> Tue 08:00Z in New York (07:00 -> 03:00):
    # Mon 09:00-17:00 NY = 8 working hours -> shares 0, 4/12, 8/12
    [team] = report.shares_by_team
    assert team.n == 5 and team.coding == 0.0 and abs(team.pickup - 1 / 3) < 1e-9 and not team.pickup_dominates
    regions = {(r.region, r.stage): r for r in report.regions}
    assert regions[("Europe", "pickup")].working_hours_p50 == 4.0
    assert regions[("America", "review")].working_hours_p50 == 8.0
    assert regions[("America", "review")].wall_hours_p50 == 20.0


def test_cli_json(workspace, workspace_store, cli) -> None:
    _org(workspace_store)
    _concentration_data(workspace_store)
    workspace_store.close()
    result = cli("delivery", "reviews", "--from", "2026-01-01", "--to", "2026-02-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"shares_by_team", "shares_by_repo", "concentration", "waiting", "regions"}
    assert {"team": "berlin", "suppressed": False, "reviewers": 5, "reviews": 10, "top_share": 0.5} \
        in data["concentration"]
    assert "r1" not in result.output
