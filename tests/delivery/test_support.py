"""Cross-team support graph (self requests apart, state read at the window's end) and documentation freshness,
checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.delivery.docs_freshness import docs_freshness
from engmetrics.delivery.support import support_edges, support_graph, support_teams

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def requests(store):
    # (id, from, to, hours to resolve or None = open); 7 and 8: platform asking itself
    rows = [("1", "a", "platform", 2), ("2", "a", "platform", 4), ("3", "a", "platform", None),
            ("4", "b", "platform", 10), ("5", "c", "platform", None), ("6", "a", "data", 1),
            ("7", "platform", "platform", None), ("8", "platform", "platform", 1)]
    store.sql.executemany(
        "INSERT INTO support_requests (request_id, from_team, to_team, created_at, resolved_at) VALUES (?,?,?,?,?)",
        [(i, f, t, T0, None if h is None else T0 + timedelta(hours=h)) for i, f, t, h in rows])
    return store


def test_edges_with_counts_and_median(requests):
    edges = {(e.from_team, e.to_team): e for e in support_edges(requests)}
    a = edges["a", "platform"]
    assert (a.requests, a.open, a.resolved, a.p50_hours) == (3, 1, 2, 3.0)  # median of 2 h and 4 h
    assert edges["c", "platform"].p50_hours is None  # nothing resolved
    assert len(edges) == 4 and ("platform", "platform") not in edges  # no self edge


def test_bottleneck_is_asked_by_many_with_open_requests(requests):
    teams = {t.team: t for t in support_teams(requests, min_dependents=3)}
    p = teams["platform"]
    # asked by a, b, c (not by itself); open: 3 and 5; resolved 2, 4, 10 h -> median 4 (its own 7 and 8 apart)
    assert (p.in_degree, p.requests, p.open, p.p50_hours, p.bottleneck) == (3, 5, 2, 4.0, True)
    assert p.self_requests == 2 and teams["data"].self_requests == 0
    assert not teams["data"].bottleneck  # one team asks it
    assert not support_teams(requests, min_dependents=4)[0].bottleneck


def test_a_team_asked_only_by_itself_is_listed_with_zero_figures(store):
    store.sql.execute("INSERT INTO support_requests (request_id, from_team, to_team, created_at) VALUES (?,?,?,?)",
                      ["1", "solo", "solo", T0])
    graph = support_graph(store)
    assert graph == {"edges": [], "teams": [{"team": "solo", "in_degree": 0, "requests": 0, "open": 0,
                                             "p50_hours": None, "bottleneck": False, "self_requests": 1}]}


def test_state_is_read_at_the_end_of_the_window(requests):
    # end 3 h after T0: created before it; resolved before it: 1 (2 h); 2 (4 h), 4 (10 h) still open then
    end = T0 + timedelta(hours=3)
    requests.sql.execute("INSERT INTO support_requests (request_id, from_team, to_team, created_at) VALUES "
                         "(?,?,?,?)", ["9", "d", "platform", end])  # created at the end: outside
    edges = {(e.from_team, e.to_team): e for e in support_edges(requests, end=end)}
    assert (edges["a", "platform"].open, edges["a", "platform"].resolved, edges["a", "platform"].p50_hours) == (
        2, 1, 2.0)
    assert edges["b", "platform"].open == 1 and ("d", "platform") not in edges
    p = {t.team: t for t in support_teams(requests, end=end)}["platform"]
    assert (p.in_degree, p.requests, p.open, p.p50_hours) == (3, 5, 4, 2.0)  # open: 2, 3, 4, 5
    assert support_teams(requests)[0].open == 3  # no end: 3, 5 and the new 9 are unresolved


def test_doc_freshness_shares(store):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    # (doc, team, days before now): d1 updated 200 and 10 days ago (fresh), d2 100 (stale), d3 30 (fresh),
    # d4 400 (stale); e1 of team y 91 days ago (stale); f1 after now (ignored)
    rows = [("d1", "x", 200), ("d1", "x", 10), ("d2", "x", 100), ("d3", "x", 30), ("d4", "x", 400),
            ("e1", "y", 91), ("f1", "y", -5)]
    store.sql.executemany("INSERT INTO doc_updates (doc_id, updated_at, team) VALUES (?,?,?)",
                          [(d, now - timedelta(days=ago), t) for d, t, ago in rows])
    x, y = docs_freshness(store, now)
    # x: ages 10, 100, 30, 400 -> 2 of 4 within 90 days; median (30 + 100) / 2 = 65
    assert (x.team, x.docs, x.fresh_share, x.stale, x.median_age_days) == ("x", 4, 0.5, 2, 65.0)
    assert (y.docs, y.fresh_share, y.stale) == (1, 0.0, 1)


def test_doc_freshness_per_service(store):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    # d1's latest update (10 days ago) names service api, its older one web: d1 counts for api only
    rows = [("d1", "web", 200), ("d1", "api", 10), ("d2", "api", 120), ("d3", None, 5)]
    store.sql.executemany("INSERT INTO doc_updates (doc_id, updated_at, service) VALUES (?,?,?)",
                          [(d, now - timedelta(days=ago), s) for d, s, ago in rows])
    api, unset = docs_freshness(store, now, by="service")
    # api: ages 10 and 120 -> 1 of 2 fresh, median 65; the document without a service is its own group
    assert api.to_dict() == {"service": "api", "docs": 2, "median_age_days": 65.0, "fresh_share": 0.5, "stale": 1}
    assert (unset.team, unset.docs) == (None, 1)
