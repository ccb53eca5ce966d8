"""Alert fatigue: ratios, flapping, duplicates, bands, Gini, recommendations, the CLI and PySpark parity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.incidents.fatigue import FatigueThresholds, fatigue_report, gini, recommend
from engmetrics.settings import IncidentSettings
from engmetrics.store import Store

SETTINGS = IncidentSettings()
COLUMNS = ("alert_id", "rule", "source", "service", "team", "urgency", "fired_at", "acknowledged_at",
           "resolved_at", "responder", "incident_id", "actionable", "auto_resolved")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_alert(store: Store, alert_id: str, fired: str, *, rule: str = "disk", service: str | None = "db",
              team: str | None = "t", ack: str | None = None, resolved: str | None = None, **values) -> None:
    row = {"alert_id": alert_id, "rule": rule, "service": service, "team": team, "fired_at": at(fired),
           "acknowledged_at": ack and at(ack), "resolved_at": resolved and at(resolved), **values}
    store.sql.execute(f"INSERT INTO alerts VALUES ({', '.join('?' * len(COLUMNS))})",
                      [row.get(c) for c in COLUMNS])


def add_shift(store: Store, person: str, rotation: str, start: str, end: str, team: str | None = None) -> None:
    store.sql.execute("INSERT INTO oncall_shifts VALUES (?, ?, ?, ?, ?)", [person, rotation, at(start), team, at(end)])


def ten_alerts(store: Store) -> None:
    """10 alerts of rule disk (responder p1, rotation r1): 3 actionable, 4 auto-resolved, 2 flapping, 1 duplicate."""
    day1 = dict(responder="p1")
    add_alert(store, "a1", "2026-01-05 10:00", ack="2026-01-05 10:02", resolved="2026-01-05 10:10",
              incident_id="I1", **day1)
    # fires 20 min after a1 resolved: flapping; second alert of I1: duplicate
    add_alert(store, "a2", "2026-01-05 10:30", ack="2026-01-05 10:34", resolved="2026-01-05 10:40",
              incident_id="I1", **day1)
    # 80 min after a2 resolved: not flapping
    add_alert(store, "a3", "2026-01-05 12:00", ack="2026-01-05 12:06", resolved="2026-01-05 12:30",
              actionable=True, **day1)
    add_alert(store, "a4", "2026-01-05 14:00", actionable=False, **day1)  # never resolves
    add_alert(store, "a5", "2026-01-05 14:20", **day1)  # 20 min after a4 fired (a4 unresolved): flapping
    for n, day in enumerate(("06", "07", "08", "09", "10"), start=6):  # Tue..Sat 10:00 UTC
        add_alert(store, f"a{n}", f"2026-01-{day} 10:00", resolved=f"2026-01-{day} 10:05",
                  auto_resolved=n < 10, **day1)
    add_shift(store, "p1", "r1", "2026-01-05 00:00", "2026-01-12 00:00")
    add_shift(store, "p2", "r1", "2026-01-12 00:00", "2026-01-19 00:00")


def test_ratios_on_a_hand_made_alert_list(store):
    ten_alerts(store)
    report = fatigue_report(store, SETTINGS)
    [item] = report.items
    assert item["rule"] == "disk" and item["alerts"] == 10
    assert item["shifts"] == 2 and item["alerts_per_shift"] == 5.0  # two r1 shifts, 10 alerts
    assert item["acknowledged_share"] == 0.3  # a1, a2, a3
    assert item["actionable_share"] == 0.3  # a1, a2 (incident I1), a3 (actionable)
    assert item["auto_resolved_share"] == 0.4  # a6..a9
    assert item["flapping_share"] == 0.2  # a2, a5
    assert item["duplicate_alerts"] == 1  # a2 shares I1 with a1
    # time to ack 2, 4, 6 min -> median 240 s; ack to resolve 8, 6, 24 min -> median 480 s; 480 / 240 = 2
    assert (item["median_ack_seconds"], item["median_work_seconds"], item["ack_to_resolve_ratio"]) == (240, 480, 2.0)
    # UTC (no zone known): Mon 10:00-14:20 x5 and Tue-Fri 10:00 are business; Sat 10 Jan is off
    assert item["interruptions"] == {"business": 9, "off": 1, "sleep": 0}
    assert report.recommendations == []  # 30 % actionable is not < 20 %, 20 % flapping is not > 30 %
    assert report.status == "ok"


def test_group_by_rotation_and_team(store):
    ten_alerts(store)
    add_alert(store, "x1", "2026-01-06 03:00", rule="cpu", team="u")  # no responder: no rotation
    by_rotation = {i["rotation"]: i["alerts"] for i in fatigue_report(store, SETTINGS, by="rotation").items}
    assert by_rotation == {"r1": 10, None: 1}
    by_team = fatigue_report(store, SETTINGS, by="team").items
    assert [(i["team"], i["alerts"], i["interruptions"]["sleep"]) for i in by_team] == [("t", 10, 0), ("u", 1, 1)]


def test_unanswered_pages_go_to_the_rotation_and_person_on_call_for_the_team(store):
    add_shift(store, "p1", "r1", "2026-01-05 00:00", "2026-01-06 00:00", team="t")
    add_shift(store, "p2", "r1", "2026-01-06 00:00", "2026-01-07 00:00", team="t")
    add_shift(store, "p3", "r2", "2026-01-05 00:00", "2026-01-07 00:00", team="u")
    store.sql.execute("INSERT INTO services (service, team) VALUES ('svc', 't')")
    add_alert(store, "u1", "2026-01-05 10:00")  # team t, nobody answered: r1, p1 on call
    add_alert(store, "u2", "2026-01-06 23:00", team=None, service="svc")  # owner of svc is t: r1, p2 (sleep)
    add_alert(store, "u3", "2026-01-06 12:00", responder="p1", ack="2026-01-06 12:05")  # p1 not on call: none
    add_alert(store, "u4", "2026-01-05 11:00", responder="p1", ack="2026-01-05 11:05")  # p1's own shift: r1
    add_alert(store, "u5", "2026-01-05 12:00", team="zz")  # no shift of team zz: none
    report = fatigue_report(store, SETTINGS, by="rotation", min_group_size=2)
    items = {i["rotation"]: i for i in report.items}
    # before: only u4 had a rotation, so r1 was 100 % acknowledged; now u1, u2, u4: 1 of 3 acknowledged
    assert {k: i["alerts"] for k, i in items.items()} == {"r1": 3, None: 2}
    assert items["r1"]["acknowledged_share"] == pytest.approx(1 / 3)
    assert items["r1"]["interruptions"] == {"business": 2, "off": 0, "sleep": 1}  # UTC: 10:00, 11:00, 23:00
    fairness = {f["rotation"]: f for f in report.fairness}
    # r1 pages per person: p1 u1 + u4 = 2, p2 u2 = 1: 2 x |2 - 1| / (2 x 2 x 3) = 1/6; sleep [0, 1]: 2 / 4 = 1/2
    assert (fairness["r1"]["pages"], fairness["r1"]["gini_pages"], fairness["r1"]["gini_sleep"]) == (
        3, pytest.approx(1 / 6), pytest.approx(0.5))
    assert (fairness["r2"]["pages"], fairness["r2"]["status"]) == (0, "insufficient_group")


def test_an_unknown_time_zone_falls_back_to_the_team_and_is_reported(store):
    store.sql.execute("INSERT INTO teams (team, timezone) VALUES ('t', 'Europe/Berlin')")
    store.sql.execute("INSERT INTO people (person, valid_from, valid_to, team, timezone) "
                      "VALUES ('p1', DATE '2020-01-01', NULL, 't', 'Europe/Berln')")
    add_alert(store, "z1", "2026-01-05 07:30", responder="p1")  # 08:30 in Berlin (CET): business; UTC: sleep
    report = fatigue_report(store, SETTINGS)
    assert report.items[0]["interruptions"] == {"business": 1, "off": 0, "sleep": 0}
    assert report.warnings == ["unknown time zone 'Europe/Berln' in people.timezone or teams.timezone: ignored "
                               "(the team's zone, else UTC)"]


def test_period_bounds_and_flapping_across_the_start(store):
    ten_alerts(store)
    report = fatigue_report(store, SETTINGS, start=at("2026-01-05 10:30"), end=at("2026-01-06 00:00"))
    [item] = report.items
    # a2..a5 fired in [10:30, midnight); a2 still flaps on a1 from before the period, a5 on a4
    assert (item["alerts"], item["flapping_share"], item["duplicate_alerts"]) == (4, 0.5, 1)


def test_low_urgency_alerts_are_not_interruptions(store):
    add_alert(store, "l1", "2026-01-05 23:00", urgency="low")
    add_alert(store, "h1", "2026-01-05 23:00", urgency="high")
    [item] = fatigue_report(store, SETTINGS).items
    assert item["alerts"] == 2 and item["interruptions"] == {"business": 0, "off": 0, "sleep": 1}


def test_ratio_skips_alerts_resolved_before_acknowledgment(store):
    add_alert(store, "k1", "2026-01-05 10:00", ack="2026-01-05 10:10", resolved="2026-01-05 10:40")
    add_alert(store, "k2", "2026-01-05 12:00", ack="2026-01-05 12:30", resolved="2026-01-05 12:20")
    add_alert(store, "k3", "2026-01-05 14:00", ack="2026-01-05 14:05")  # never resolved
    [item] = fatigue_report(store, SETTINGS).items
    # only k1 counts: 30 min of work after 10 min to acknowledge = 3.0
    assert (item["median_ack_seconds"], item["median_work_seconds"], item["ack_to_resolve_ratio"]) == (600, 1800, 3.0)


def test_no_alerts_is_no_data(store):
    report = fatigue_report(store, SETTINGS).to_dict()
    assert report["status"] == "no_data" and report["items"] == report["recommendations"] == []


def test_unknown_group_is_refused(store):
    with pytest.raises(ValueError, match="--by must be one of"):
        fatigue_report(store, SETTINGS, by="person")  # type: ignore[arg-type]


# --- recommendations -------------------------------------------------------------------------------------

def noisy_rule(store: Store, n: int = 10, flapping: int = 4) -> None:
    """n never-actionable alerts of rule noisy; the first `flapping` + 1 fire 10 min apart (all but the first flap)."""
    start = at("2026-01-05 09:00")
    for k in range(n):
        fired = start + (timedelta(minutes=10 * k) if k <= flapping else timedelta(days=k))
        add_alert(store, f"n{k}", fired.isoformat(), rule="noisy", resolved=(fired + timedelta(minutes=1)).isoformat())


def test_retire_and_hysteresis_are_recommended(store):
    noisy_rule(store)
    report = fatigue_report(store, SETTINGS)
    # 0 of 10 actionable (< 20 %); n1..n4 flap: 4 / 10 = 40 % (> 30 %)
    assert report.recommendations == [
        {"rule": "noisy", "action": "retire or downgrade", "evidence": {"alerts": 10, "actionable_share": 0.0}},
        {"rule": "noisy", "action": "add hysteresis / longer for:", "evidence": {"alerts": 10, "flapping_share": 0.4}},
    ]


def test_too_few_alerts_are_not_judged(store):
    noisy_rule(store, n=9, flapping=4)
    assert fatigue_report(store, SETTINGS).recommendations == []  # 9 < 10 alerts


def test_acknowledged_never_actionable_at_night_goes_to_a_ticket(store):
    for k in range(3):  # 23:00 UTC (no zone: UTC) on three nights, acknowledged, not actionable
        add_alert(store, f"s{k}", f"2026-01-0{5 + k} 23:00", rule="night", ack=f"2026-01-0{5 + k} 23:05")
    report = fatigue_report(store, SETTINGS)
    assert report.recommendations == [{"rule": "night", "action": "route to a ticket, not a page",
                                       "evidence": {"sleep_pages_acknowledged": 3, "sleep_pages_actionable": 0}}]
    add_alert(store, "s3", "2026-01-08 23:00", rule="night", ack="2026-01-08 23:05", actionable=True)
    assert fatigue_report(store, SETTINGS).recommendations == []  # one night page was actionable


def test_thresholds_are_parameters():
    item = {"rule": "r", "alerts": 4, "actionable_share": 0.25, "flapping_share": 0.0,
            "sleep_pages_acknowledged": 0, "sleep_pages_actionable": 0}
    assert recommend([item]) == []
    loose = FatigueThresholds(min_alerts=4, retire_actionable_below=0.5)
    assert [r["action"] for r in recommend([item], loose)] == ["retire or downgrade"]


# --- fairness --------------------------------------------------------------------------------------------

def test_gini_hand_checked():
    # |0-10| appears 4 times among the 9 ordered pairs: 40 / (2 * 3 * 10) = 2/3
    assert gini([0, 0, 10]) == pytest.approx(2 / 3)
    assert gini([4, 4, 4, 4]) == 0.0
    assert gini([10, 0, 0, 0, 0]) == pytest.approx(0.8)  # 80 / (2 * 5 * 10)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=30), st.integers(1, 50))
def test_gini_bounds_and_scaling(loads, factor):
    g = gini(loads)
    assert 0 <= g <= 1 - 1 / len(loads) + 1e-12
    assert gini([x * factor for x in loads]) == pytest.approx(g)
    assert gini([loads[0]] * len(loads)) == 0.0


def test_fairness_counts_people_on_call_without_pages(store):
    add_shift(store, "p1", "r1", "2026-01-05 00:00", "2026-01-06 00:00")
    add_shift(store, "p2", "r1", "2026-01-06 00:00", "2026-01-07 00:00")
    add_shift(store, "p3", "r1", "2026-01-07 00:00", "2026-01-08 00:00")
    for k in range(10):  # all pages to p1; 2 of them at night (23:00 UTC)
        add_alert(store, f"f{k}", f"2026-01-05 {10 + k if k < 8 else 23}:{k:02d}", responder="p1")
    [row] = fatigue_report(store, SETTINGS, min_group_size=3).fairness
    # pages [10, 0, 0] -> 2/3; sleep pages [2, 0, 0] -> 2/3
    assert row == {"rotation": "r1", "people": 3, "pages": 10, "status": "ok",
                   "gini_pages": pytest.approx(2 / 3), "gini_sleep": pytest.approx(2 / 3)}
    [small] = fatigue_report(store, SETTINGS, min_group_size=5).fairness
    assert (small["status"], small["gini_pages"], small["people"]) == ("insufficient_group", None, 3)
    assert "person" not in json.dumps(small)


# --- CLI -------------------------------------------------------------------------------------------------

def test_cli_json(cli, workspace, workspace_store):
    ten_alerts(workspace_store)
    noisy_rule(workspace_store)
    workspace_store.close()
    result = cli("incidents", "fatigue", "--from", "2026-01-01", "--to", "2026-02-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "ok" and data["by"] == "rule" and data["start"] == "2026-01-01T00:00:00+00:00"
    assert [(i["rule"], i["alerts"]) for i in data["items"]] == [("disk", 10), ("noisy", 10)]
    assert data["items"][0]["interruptions"] == {"business": 9, "off": 1, "sleep": 0}
    assert {r["action"] for r in data["recommendations"]} == {"retire or downgrade", "add hysteresis / longer for:"}
    assert data["fairness"] == [{"rotation": "r1", "people": 2, "pages": 10, "status": "insufficient_group",
                                 "gini_pages": None, "gini_sleep": None}]


def test_cli_table_and_bad_input(cli, workspace, workspace_store):
    ten_alerts(workspace_store)
    workspace_store.close()
    table = cli("incidents", "fatigue", "--by", "rotation", "--from", "2026-01-01", "--to", "2026-02-01")
    assert table.exit_code == 0 and "r1" in table.output and "Alert fatigue" in table.output
    bad = cli("incidents", "fatigue", "--by", "person")
    assert bad.exit_code == 1 and "--by must be one of" in bad.output
    backwards = cli("incidents", "fatigue", "--from", "2026-02-01", "--to", "2026-01-01")
    assert backwards.exit_code == 1


def test_cli_prints_unknown_zones_on_stderr(cli, workspace, workspace_store):
    workspace_store.sql.execute("INSERT INTO people (person, valid_from, valid_to, team, timezone) "
                                "VALUES ('p1', DATE '2020-01-01', NULL, 't', 'Mars/Olympus')")
    add_alert(workspace_store, "z1", "2026-01-05 07:30", responder="p1")
    workspace_store.close()
    # --to 2026-01-05: a date alone includes that whole day, so the 07:30 alert is in
    result = cli("incidents", "fatigue", "--from", "2026-01-05", "--to", "2026-01-05", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"][0]["alerts"] == 1
    assert "unknown time zone 'Mars/Olympus'" in result.stderr


# --- PySpark ---------------------------------------------------------------------------------------------

@pytest.mark.spark
@pytest.mark.slow
def test_fatigue_is_the_same_on_pyspark(store, spark_session):
    import ibis

    ten_alerts(store)
    noisy_rule(store)
    store.sql.execute("INSERT INTO teams (team, timezone, work_days) VALUES ('t', 'Europe/Berlin', 'Mon-Thu')")
    add_alert(store, "b1", "2026-03-29 00:30", rule="dst", responder="p1")  # 01:30 CET: sleep
    add_alert(store, "b2", "2026-03-29 06:30", rule="dst", responder="p1")  # 08:30 CEST, Sunday: off
    add_alert(store, "b3", "2026-03-30 06:30", rule="dst", responder="p1")  # 08:30 CEST, Monday: business
    store.sql.execute("INSERT INTO services VALUES ('unrelated', 'other', 1, [], 'r', '')")  # Spark needs a typed row
    spark = ibis.pyspark.connect(spark_session)
    for name in ("alerts", "oncall_shifts", "people", "teams", "holidays", "services"):
        frame = store.table(name)
        frame = frame.drop("work_start", "work_end") if name == "teams" else frame  # Spark has no TIME type
        frame = frame.drop("aliases") if name == "people" else frame  # PySpark cannot take an all-null list
        spark_session.createDataFrame(frame.to_pyarrow()).createOrReplaceTempView(name)  # arrow keeps nulls
    on_duckdb = fatigue_report(store, SETTINGS, min_group_size=2).to_dict()
    on_spark = fatigue_report(Store(spark, url="pyspark://"), SETTINGS, min_group_size=2).to_dict()
    # team t works Mon-Thu in Berlin (10:00-15:20 CET alerts): disk is off on Fri 9 and Sat 10 Jan, noisy on
    # Sat 10 and Sun 11 Jan; the rest business; dst as commented above
    assert [i["interruptions"] for i in on_duckdb["items"]] == [
        {"business": 8, "off": 2, "sleep": 0}, {"business": 8, "off": 2, "sleep": 0},
        {"business": 1, "off": 1, "sleep": 1}]
    assert on_spark == on_duckdb

