"""On-call load per rotation: pages, incidents per 12 hours, time on call, severity-adjusted response times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.incidents.oncall import oncall_load
from engmetrics.store import Store

DAY1 = datetime(2026, 1, 5, tzinfo=UTC)
START, END = DAY1, DAY1 + timedelta(days=5)  # a 120-hour period


def h(hours: float) -> datetime:
    return DAY1 + timedelta(hours=hours)


def populate(store: Store) -> None:
    shifts = [("p1", "primary", h(24 * d), "core", h(24 * d + 12)) for d in range(4)]  # 4 x 12 h = 48 h
    shifts += [("p2", "primary", h(12), "core", h(24)),  # 12 h
               ("p3", "edge", h(24), "edge", h(48))]  # 24 h
    store.sql.executemany("INSERT INTO oncall_shifts (person, rotation, start_at, team, end_at) VALUES (?,?,?,?,?)",
                          shifts)
    # (id, team, severity, declared hour, minutes to acknowledge); resolved 60 min after declaration
    incidents = [("a", "core", 1, 1, 10), ("b", "core", 2, 2, 40), ("c", "core", 2, 3, 40), ("d", "core", 2, 13, 40),
                 ("e", "edge", 1, 25, 10), ("f", "edge", 1, 29, 10), ("g", "edge", 1, 37, 10),
                 ("x", "edge", 2, 38, 40)]
    store.sql.executemany(
        "INSERT INTO incidents (incident_id, team, severity, declared_at, acknowledged_at, resolved_at) "
        "VALUES (?,?,?,?,?,?)",
        [(i, t, s, h(d), h(d) + timedelta(minutes=a), h(d + 1)) for i, t, s, d, a in incidents])
    alerts = [("1", "high", h(5), "p1"), ("2", "high", h(6), "p1"),  # two pages in p1's first shift
              ("3", "high", h(13), "p1"),  # p1 is not on call at 13:00: not attributed
              ("4", "low", h(14), "p2"),  # low urgency: not a page
              ("5", "high", h(15), "p2")]
    store.sql.executemany("INSERT INTO alerts (alert_id, rule, urgency, fired_at, responder) VALUES (?,'r',?,?,?)",
                          alerts)


@pytest.fixture
def loads():
    with Store.open("duckdb://") as store:
        populate(store)
        yield {r.rotation: r for r in oncall_load(store, start=START, end=END, min_group_size=2)}


def test_a_12_hour_shift_with_3_incidents_breaks_the_limit(loads):
    core, edge = loads["primary"], loads["edge"]
    # core: a, b, c in p1's 00:00-12:00 shift (3 > 2), d in p2's shift; 60 h on call: 4 / (60 / 12) = 0.8
    assert (core.incidents, core.max_incidents_per_12h, core.periods_over_incident_limit) == (4, 3, 1)
    assert core.incidents_per_12h == pytest.approx(0.8)
    assert core.incident_limit_exceeded
    # edge: one 24 h shift cut at 12 h from its start: e, f (01:00, 05:00) and g, x (13:00, 14:00): 2 and 2
    assert (edge.incidents, edge.max_incidents_per_12h, edge.incident_limit_exceeded) == (4, 2, False)


def test_a_person_on_call_40_percent_breaks_the_time_limit(loads):
    core, edge = loads["primary"], loads["edge"]
    # p1 48 h / 120 h = 0.4, p2 12 / 120 = 0.1; median of two by interpolation (0.1 + 0.4) / 2 = 0.25
    assert (core.people, core.max_share_on_call, core.people_over_time_limit) == (2, pytest.approx(0.4), 1)
    assert core.median_share_on_call == pytest.approx(0.25)
    assert core.time_limit_exceeded
    # p3: 24 / 120 = 0.2; one person is fewer than min_group_size 2: the share and everything derived from
    # it is withheld (a count over the limit of a one-person rotation is that person's share)
    assert (edge.people_over_time_limit, edge.time_limit_exceeded, edge.max_share_on_call) == (None, None, None)
    assert edge.to_dict()["shares_suppressed"] and edge.to_dict()["limits"]["time_on_call_exceeded"] is None


def test_a_one_person_rotation_over_the_limit_does_not_reveal_it():
    with Store.open("duckdb://") as store:
        store.sql.execute("INSERT INTO oncall_shifts (person, rotation, start_at, team, end_at) VALUES (?,?,?,?,?)",
                          ["solo", "night", h(0), "ops", h(60)])
        [solo] = oncall_load(store, start=START, end=END, min_group_size=2)
    # 60 h of 120 h = 50 % > 25 %: before suppression, people_over_time_limit 1 named that person's share
    out = solo.to_dict()
    assert (out["people"], out["people_over_time_limit"], out["shares_suppressed"]) == (1, None, True)
    assert out["limits"]["time_on_call_exceeded"] is None


def test_pages_per_shift_count_only_high_urgency_pages_of_the_person_on_call(loads):
    core = loads["primary"]
    # pages 1, 2 (p1's first shift) and 5 (p2's shift); 5 shifts: 3 / 5 = 0.6, the busiest shift had 2
    assert (core.shifts, core.pages, core.pages_per_shift_mean, core.pages_per_shift_max) == (5, 3, 0.6, 2)


def test_a_null_urgency_alert_and_an_unanswered_page_count_for_the_person_on_call():
    with Store.open("duckdb://") as store:
        populate(store)
        store.sql.executemany("INSERT INTO alerts (alert_id, rule, urgency, fired_at, responder, team) "
                              "VALUES (?,'r',?,?,?,?)",
                              [("6", None, h(16), "p2", None),  # null urgency: a page (paging.is_page)
                               ("7", "high", h(17), None, "core")])  # unanswered: p2 was on call for core
        core = {r.rotation: r for r in oncall_load(store, start=START, end=END, min_group_size=2)}["primary"]
    # pages 1, 2 (p1's first shift) and 5, 6, 7 (p2's shift 12:00-24:00): 5 / 5 shifts = 1.0, busiest 3
    assert (core.pages, core.pages_per_shift_mean, core.pages_per_shift_max) == (5, 1.0, 3)


def test_response_times_are_adjusted_for_the_severity_mix(loads):
    core, edge = loads["primary"], loads["edge"]
    # overall mix: sev1 a e f g (4), sev2 b c d x (4): weights 1/2, 1/2. Within sev1 tta is 10 min, within
    # sev2 40 min, in both rotations: adjusted 0.5 x 10 + 0.5 x 40 = 25 min = 1500 s for both, although the
    # raw means differ (core (10 + 3 x 40) / 4 = 32.5 min, edge (3 x 10 + 40) / 4 = 17.5 min)
    assert core.tta == {"mean": pytest.approx(1500), "p90": pytest.approx(1500), "n": 4}
    assert edge.tta == {"mean": pytest.approx(1500), "p90": pytest.approx(1500), "n": 4}
    assert core.ttr["mean"] == pytest.approx(3600)


def test_a_rotation_missing_a_severity_is_weighted_over_the_ones_it_has():
    with Store.open("duckdb://") as store:
        populate(store)
        store.sql.execute("DELETE FROM incidents WHERE incident_id = 'x'")  # edge now has sev1 only
        edge = {r.rotation: r for r in oncall_load(store, start=START, end=END, min_group_size=2)}["edge"]
    assert edge.tta["mean"] == pytest.approx(600)  # only the sev1 stratum: 10 min


def test_shares_of_small_rotations_are_suppressed_and_nobody_is_named():
    with Store.open("duckdb://") as store:
        populate(store)
        core = {r.rotation: r for r in oncall_load(store, start=START, end=END)}["primary"]  # default 5
    out = core.to_dict()
    assert (out["max_share_on_call"], out["median_share_on_call"], out["shares_suppressed"]) == (None, None, True)
    assert out["people_over_time_limit"] is None
    assert out["limits"] == {"incidents_per_12h_exceeded": True, "time_on_call_exceeded": None}
    assert not {"p1", "p2", "person"} & set(json.dumps(out).replace('"', " ").split())


def test_no_shifts_no_rows():
    with Store.open("duckdb://") as store:
        assert oncall_load(store) == []


def test_cli_oncall_json(workspace, workspace_store, cli):
    populate(workspace_store)
    workspace_store.close()
    result = cli("incidents", "oncall", "--from", "2026-01-05", "--to", "2026-01-10", "--json")
    assert result.exit_code == 0, result.output
    items = {i["rotation"]: i for i in json.loads(result.output)}
    # 2 people < the default min_group_size 5: the time-on-call flag is withheld
    assert items["primary"]["limits"] == {"incidents_per_12h_exceeded": True, "time_on_call_exceeded": None}
    assert "p1" not in result.output
    human = cli("incidents", "oncall", "--from", "2026-01-05", "--to", "2026-01-10")
    assert human.exit_code == 0 and "On-call load" in human.output
    assert cli("incidents", "oncall", "--from", "2026-01-10", "--to", "2026-01-05").exit_code == 1
