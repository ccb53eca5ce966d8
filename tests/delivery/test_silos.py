"""Knowledge silos: degree of authorship, truck factor, single owners and leavers, checked by hand."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from engmetrics.delivery.silos import authorship, repository_silos, team_silos, truck_factor
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
AS_OF = date(2026, 6, 1)


def commit(store: Store, rows: list[tuple[str, str, str, str, int]]) -> None:
    """rows: (repo, sha, path, author, hour after T0)."""
    store.sql.executemany(
        "INSERT INTO commit_files (sha, path, repo, author, committed_at, added, deleted) VALUES (?,?,?,?,?,1,0)",
        [(sha, path, repo, author, T0 + timedelta(hours=h)) for repo, sha, path, author, h in rows])


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
    assert (r.repo, r.files, r.owners, r.truck_factor) == ("r", 4, 2, 1)
    assert (r.single_owner_files, r.single_owner_repo, r.leaver_files, r.orphaned_files) == (4, False, 3, 3)
    # s: D owns s1 and s2, E owns s1; D out leaves s1 covered by E (1 of 2, not < half) -> E out too: 2
    assert (s.files, s.owners, s.truck_factor, s.single_owner_files) == (2, 2, 2, 1)
    # D left: s1 (E still there) and s2 are leaver files; only s2 is orphaned
    assert (s.leaver_files, s.orphaned_files) == (2, 1)


def test_leavers_before_they_left_are_not_counted(store):
    r, s = repository_silos(store, date(2026, 4, 1))  # A and D still there
    assert (r.leaver_files, s.leaver_files, r.orphaned_files) == (0, 0, 0)


def test_team_silos(store):
    teams = {t.team: t for t in team_silos(store, AS_OF)}
    # core: A's f1-f3 and B's f4 single-owned (4), A's 3 leaver files; edge: D's s2 single-owned, D's s1 and s2
    assert (teams["core"].single_owner_files, teams["core"].leaver_files) == (4, 3)
    assert (teams["edge"].single_owner_files, teams["edge"].leaver_files) == (1, 2)


def test_silos_command(workspace, workspace_store, cli):
    populate(workspace_store)
    workspace_store.close()
    result = cli("delivery", "silos", "--as-of", "2026-06-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(r["repo"], r["truck_factor"]) for r in data["repositories"]] == [("r", 1), ("s", 2)]
    assert "A" not in result.output.split()
