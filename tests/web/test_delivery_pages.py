"""The delivery page on the data of tests/api/test_delivery_api.py: DORA per team with band words, cycle time
per team, knowledge silos per repository and service, team scoping, a bad window."""

from __future__ import annotations

import re

import pytest

from delivery.test_cycle_time import _change, _org, _review

WINDOW = {"from": "2026-03-18", "to": "2026-03-31"}


@pytest.fixture
def api_store(api_store):
    api_store.sql.execute("INSERT INTO services (service, team) VALUES ('pay', 'payments'), ('search', 'search')")
    _org(api_store)
    _change(api_store, "c1", "a", "2026-03-23 08:00:00+00", "2026-03-23 14:00:00+00")
    _review(api_store, "c1", "rev", "2026-03-23 09:00:00+00")
    return api_store


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_without_a_session_the_page_redirects_to_login(client):
    response = client.get("/delivery", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/delivery"


def test_the_page_shows_dora_bands_and_cycle_time_per_team(client, auth):
    page = client.get("/delivery", params=WINDOW, headers=auth("viewer"))
    assert page.status_code == 200, page.text
    assert 'href="/delivery" aria-current="page"' in page.text
    assert "<caption" in page.text and '<th scope="col">Frequency band</th>' in page.text
    rows = re.findall(r'<tr>\s*<th scope="row">([^<]+)</th>', page.text)
    assert rows[:2] == ["payments", "search"]  # DORA rows; then berlin's suppressed cycle-time row
    assert "berlin" in rows and "suppressed (fewer authors" in page.text
    text = _text(page.text)
    assert re.search(r"\b(Elite|High|Medium|Low)\b", text)  # the band is a word, not a colour only
    assert "http://" not in page.text and "https://" not in page.text  # no external assets


def test_a_team_member_sees_its_own_teams(client, auth):
    page = client.get("/delivery", params=WINDOW, headers=auth("team-member"))
    rows = re.findall(r'<tr>\s*<th scope="row">([^<]+)</th>', page.text)
    assert rows == ["payments"] and "No merged change in this window for your teams" in page.text


def test_a_bad_window_is_a_422_page(client, auth):
    page = client.get("/delivery", params={"from": "soon"}, headers=auth("viewer"))
    assert page.status_code == 422 and 'role="alert"' in page.text and "from" in page.text


def _commits(store) -> None:
    """Repository shop: alice creates f1..f3, bob f4 (2026-03-02); service pay lives in shop."""
    store.sql.executemany("INSERT INTO commit_files (sha, path, repo, author, committed_at) VALUES (?,?,?,?,?)",
                          [(f"s{i}", f"f{i}", "shop", "person-alice" if i < 4 else "person-bob",
                            f"2026-03-02 1{i}:00:00+00") for i in range(1, 5)])
    store.sql.execute("UPDATE services SET repo = 'shop' WHERE service = 'pay'")


def _silos_rows(html: str) -> list[tuple[str, ...]]:
    """(name, truck factor, files, owners, single-owner, leaver, orphaned) of the silos tables."""
    cells = r'\s*'.join([r'<th scope="row">([^<]+)</th>', *[r'<td class="num">(\d+)</td>'] * 6])
    return re.findall(cells, html)


def test_the_page_shows_truck_factors_per_repository_and_service(client, auth, api_store):
    _commits(api_store)
    page = client.get("/delivery", params=WINDOW, headers=auth("team-member"))
    assert page.status_code == 200, page.text
    assert '<h2 id="silos-heading">Knowledge silos</h2>' in page.text and "As of 2026-04-01" in page.text
    # alice owns f1..f3, bob f4 (one owner each): without alice 3 of 4 files have no owner -> truck factor 1;
    # the same for service pay (all of shop); search has no commits: not listed; nobody left
    assert _silos_rows(page.text) == [("shop", "1", "4", "2", "4", "0", "0"), ("pay", "1", "4", "2", "4", "0", "0")]
    assert "person-alice" not in page.text and "person-bob" not in page.text  # counts only
    before = client.get("/delivery", params={"from": "2026-02-01", "to": "2026-03-01"}, headers=auth("viewer"))
    assert _silos_rows(before.text) == [] and "No repository with commits before this day." in before.text
