"""Knowledge silos: degree of authorship, truck factor, single owners and leavers, checked by hand; the
as-of date bounds commits, memberships and support requests; bot and merge rows are no authorship."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from engmetrics.delivery.silos import (
    authorship,
    repository_silos,
    service_silos,
    silos_report,
    team_silos,
    truck_factor,
)
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
AS_OF = date(2026, 6, 1)


PEOPLE = {"A", "B", "C", "D", "E", "X", "bot", "M"}  # every author pseudonym of this module


def commit(store: Store, rows: list[tuple[str, str, str, str, int]], *, bot: bool | None = None,
           merge: bool | None = None) -> None:
    """rows: (repo, sha, path, author, hour after T0); `is_bot` / `is_merge` as given (None: unset)."""
    store.sql.executemany(
        "INSERT INTO commit_files (sha, path, repo, author, committed_at, added, deleted, is_bot, is_merge) "
        "VALUES (?,?,?,?,?,1,0,?,?)",
        [(sha, path, repo, author, T0 + timedelta(hours=h), bot, merge) for repo, sha, path, author, h in rows])


def populate(store: Store) -> None:
    # repo "r": A creates f1..f3, B creates f4, then C touches every file once
    commit(store, [("r", "a1", "f1", "A", 0), ("r", "a2", "f2", "A", 1), ("r", "a3", "f3", "A", 2),
                   ("r", "b1", "f4", "B", 3), *[("r", "c1", f"f{i}", "C", 4) for i in range(1, 5)]])
    # repo "s": D created both files; E made 3 more commits to s1
    commit(store, [("s", "d1", "s1", "D", 0), ("s", "d2", "s2", "D", 1),
                   *[("s", f"e{i}", "s1", "E", 2 + i) for i in range(3)]])
    store.sql.executemany("INSERT INTO people (person, valid_from, valid_to, team) VALUES (?,?,?,?)", [
        ("A", date(2025, 1, 1), date(2026, 4, 30), "core"),  # left before AS_OF
        ("B", date(2025, 1, 1), None, "core"),
        ("C", date(2025, 1, 1), date(2025, 12, 31), "edge"), ("C", date(2026, 1, 1), None, "core"),  # moved
        ("D", date(2025, 1, 1), date(2026, 5, 15), "edge"),  # left
        ("E", date(2025, 1, 1), None, "edge")])


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        populate(s)
        yield s


def test_degree_of_authorship_by_hand(store):
    doa = {(r["path"], r["author"]): r for r in authorship(store, "r").to_pyarrow().to_pylist()}
    # A on f1: 3.293 + 1.098 (created) + 0.164 x 1 - 0.321 ln(1 + 1) = 4.555 - 0.2225 = 4.3325
    assert doa["f1", "A"]["doa"] == pytest.approx(4.555 - 0.321 * math.log(2))
    # C on f1: 3.293 + 0.164 - 0.321 ln 2 = 3.2345: below 3.293 and 3.2345 / 4.3325 = 0.747 < 0.75
    assert doa["f1", "C"]["doa"] == pytest.approx(3.457 - 0.321 * math.log(2))
    assert doa["f1", "C"]["doa_norm"] == pytest.approx(0.7466, abs=1e-4)
    assert (doa["f1", "A"]["is_owner"], doa["f1", "C"]["is_owner"], doa["f4", "B"]["is_owner"]) == (True, False, True)
    s = {(r["path"], r["author"]): r for r in authorship(store, "s").to_pyarrow().to_pylist()}
    # s1: D 3.293 + 1.098 + 0.164 - 0.321 ln 4 = 4.110; E 3.293 + 0.492 - 0.321 ln 2 = 3.5625 (0.867): both own
    assert s["s1", "D"]["doa"] == pytest.approx(4.555 - 0.321 * math.log(4))
    assert s["s1", "E"]["doa"] == pytest.approx(3.785 - 0.321 * math.log(2))
    assert s["s1", "D"]["is_owner"] and s["s1", "E"]["is_owner"]


def test_truck_factor_greedy():
    # A owns 3 of 4 files: without A only f4 (1 of 4) has an owner -> 1
    assert truck_factor(np.array([[1, 1, 1, 0], [0, 0, 0, 1]], dtype=bool), 4) == 1
    # 2 and 2: without A, 2 of 4 are covered (not more than half orphaned) -> remove B too -> 2
    assert truck_factor(np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool), 4) == 2
    # 1 owned file of 3: already more than half orphaned -> 0
    assert truck_factor(np.array([[1]], dtype=bool), 3) == 0


def test_repository_silos(store):
    r, s = repository_silos(store, AS_OF)
    # r: owners A (f1-f3) and B (f4), each file single-owned; A left -> 3 leaver files, all orphaned
    assert (r.name, r.files, r.owners, r.truck_factor) == ("r", 4, 2, 1)
    assert (r.single_owner_files, r.single_owner_repo, r.leaver_files, r.orphaned_files) == (4, False, 3, 3)
    # s: D owns s1 and s2, E owns s1; D out leaves s1 covered by E (1 of 2, not < half) -> E out too: 2
    assert (s.files, s.owners, s.truck_factor, s.single_owner_files) == (2, 2, 2, 1)
    # D left: s1 (E still there) and s2 are leaver files; only s2 is orphaned
    assert (s.leaver_files, s.orphaned_files) == (2, 1)


def test_service_silos_by_repository_and_path_prefix(store):
    store.sql.executemany("INSERT INTO services (service, team, repo, path_prefix) VALUES (?, 'core', ?, ?)", [
        ("shop", "r", None), ("basket", "r", "f4"), ("s", None, None), ("ghost", "nowhere", None)])
    out = {x.name: x.to_dict() for x in service_silos(store, AS_OF)}
    assert sorted(out) == ["basket", "s", "shop"]  # ghost's repository has no commits
    # shop = all of r: the same figures as the repository
    assert (out["shop"]["service"], out["shop"]["files"], out["shop"]["truck_factor"]) == ("shop", 4, 1)
    # basket = r/f4 only: B owns it; without B nothing is covered -> 1; B is its only owner
    assert (out["basket"]["files"], out["basket"]["owners"], out["basket"]["truck_factor"]) == (1, 1, 1)
    assert out["basket"]["single_owner_service"] is True and "repo" not in out["basket"]
    # s: no repo given -> the repository named "s": truck factor 2 as in test_repository_silos
    assert (out["s"]["files"], out["s"]["truck_factor"], out["s"]["leaver_files"]) == (2, 2, 2)


def test_leavers_before_they_left_are_not_counted(store):
    r, s = repository_silos(store, date(2026, 4, 1))  # A and D still there
    assert (r.leaver_files, s.leaver_files, r.orphaned_files) == (0, 0, 0)


def test_team_silos(store):
    teams = {t.team: t for t in team_silos(store, AS_OF)}
    # core: A's f1-f3 and B's f4 single-owned (4), A's 3 leaver files; edge: D's s2 single-owned, D's s1 and s2
    assert (teams["core"].single_owner_files, teams["core"].leaver_files) == (4, 3)
    assert (teams["edge"].single_owner_files, teams["edge"].leaver_files) == (1, 2)


def test_commits_after_as_of_do_not_count(store):
    # X makes 5 commits to r/f1 and creates r/f9 on 2026-06-10, after AS_OF
    late = (datetime(2026, 6, 10, tzinfo=UTC) - T0) // timedelta(hours=1)
    commit(store, [*[("r", f"x{i}", "f1", "X", late + i) for i in range(5)], ("r", "x9", "f9", "X", late)])
    r, _ = repository_silos(store, AS_OF)
    assert (r.files, r.owners, r.truck_factor, r.leaver_files) == (4, 2, 1, 3)  # as test_repository_silos
    assert authorship(store, "r", AS_OF).filter(lambda t: t.author == "X").count().execute() == 0
    # read later, X counts: f9 is a file; on f1 X has 3.293 + 0.164 x 5 - 0.321 ln(1 + 2) = 3.760 and A
    # 3.293 + 1.098 + 0.164 - 0.321 ln(1 + 6) = 3.930 -> X owns f1 (3.760 / 3.930 = 0.957) and f9
    later, _ = repository_silos(store, date(2026, 7, 1))
    assert (later.files, later.owners) == (5, 3)


def test_bot_and_merge_rows_are_not_authorship(store):
    # a bot creates g1..g3 in r; a merge commit by C repeats f1..f3 (null flags elsewhere count as false)
    commit(store, [("r", "bot1", f"g{i}", "bot", 5) for i in range(1, 4)], bot=True)
    commit(store, [("r", "m1", f"f{i}", "C", 6) for i in range(1, 4)], merge=True)
    commit(store, [("r", "b2", "f4", "B", 7)], bot=False, merge=False)  # a flagged-false row counts
    r, _ = repository_silos(store, AS_OF)
    # without the rule: 7 files with the bot owning g1..g3, and C (2 commits to f1 -> DOA 3.3985, 0.81 of A's
    # 4.2023) co-owning f1..f3; with it: 4 files, owners A and B, as in test_repository_silos
    assert (r.files, r.owners, r.truck_factor, r.single_owner_files) == (4, 2, 1, 4)
    b = {x["author"]: x for x in authorship(store, "r").filter(lambda t: t.path == "f4").to_pyarrow().to_pylist()}
    # B on f4 now has 2 commits: 3.293 + 1.098 + 0.328 - 0.321 ln(1 + 1) = 4.4965
    assert b["B"]["dl"] == 2 and b["B"]["doa"] == pytest.approx(4.719 - 0.321 * math.log(2))
    assert "bot" not in b and set(authorship(store).to_pyarrow()["author"].to_pylist()) == set("ABCDE")


def test_silos_report_reads_support_requests_as_of_the_day(store):
    day = datetime(2026, 6, 1, tzinfo=UTC)
    rows = [("1", "a", "ops", day - timedelta(days=3), day - timedelta(days=2)),  # resolved before: 24 h
            ("2", "b", "ops", day - timedelta(days=3), day + timedelta(hours=1)),  # resolved after: open on the day
            ("3", "c", "ops", day - timedelta(days=1), None),  # open
            ("4", "d", "ops", day + timedelta(hours=2), None)]  # created after: not counted
    store.sql.executemany("INSERT INTO support_requests (request_id, from_team, to_team, created_at, resolved_at) "
                          "VALUES (?,?,?,?,?)", rows)
    [ops] = silos_report(store, AS_OF)["support"]["teams"]
    assert (ops["in_degree"], ops["requests"], ops["open"], ops["p50_hours"], ops["bottleneck"]) == (3, 3, 2, 24.0,
                                                                                                     True)


def _strings(value: object) -> set[str]:
    """Every key and string value anywhere in parsed JSON."""
    if isinstance(value, dict):
        return set(value) | {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return {value} if isinstance(value, str) else set()


def test_silos_command(workspace, workspace_store, cli):
    populate(workspace_store)
    workspace_store.sql.execute("INSERT INTO services (service, team) VALUES ('r', 'core')")
    workspace_store.close()
    result = cli("delivery", "silos", "--as-of", "2026-06-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(r["repo"], r["truck_factor"]) for r in data["repositories"]] == [("r", 1), ("s", 2)]
    assert [(r["service"], r["truck_factor"]) for r in data["services"]] == [("r", 1)]
    strings = _strings(data)
    assert {"r", "s", "core", "edge", "repo", "service"} <= strings  # the walk reaches every level
    assert not strings & PEOPLE  # no person's pseudonym, as a key or a value
    # as of 2026-03-02 (the day of the first commits, which come later that day) there is nothing yet
    early = json.loads(cli("delivery", "silos", "--as-of", "2026-03-02", "--json").output)
    assert early["repositories"] == [] and early["services"] == []


def test_commit_authors_resolve_through_people_aliases():
    with Store.open("duckdb://") as s:
        # git wrote the e-mail pseudonym "A-mail"; people knows the person as "A" with that alias; A left
        commit(s, [("r", "a1", "f1", "A-mail", 0), ("r", "a2", "f2", "A-mail", 1), ("r", "b1", "f3", "B", 2)])
        s.sql.execute("INSERT INTO people (person, valid_from, valid_to, team, aliases) VALUES "
                      "('A', DATE '2025-01-01', DATE '2026-04-30', 'core', ['A-mail']), "
                      "('B', DATE '2025-01-01', NULL, 'core', NULL)")
        [r] = repository_silos(s, AS_OF)
        # A (through the alias) owns f1, f2 and left: 2 leaver files, both orphaned; without the alias: 0
        assert (r.owners, r.leaver_files, r.orphaned_files) == (2, 2, 2)
        assert {t.team: t.leaver_files for t in team_silos(s, AS_OF)} == {"core": 2}
