"""The responder's local time and hour bands: DST in Berlin and New York, zone fallbacks, memberships that
change zone, holidays, weekends and custom working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.incidents.fatigue import enriched_alerts
from engmetrics.incidents.local_time import offset_table, parse_work_days, unknown_zones
from engmetrics.settings import IncidentSettings
from engmetrics.store import Store


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def person(store: Store, who: str, team: str, zone: str | None, start: str = "2020-01-01", end: str | None = None):
    store.sql.execute("INSERT INTO people (person, valid_from, valid_to, team, timezone) VALUES (?, ?, ?, ?, ?)",
                      [who, date.fromisoformat(start), end and date.fromisoformat(end), team, zone])


def team(store: Store, name: str, zone: str | None, work_days: str | None = None, calendar: str | None = None):
    store.sql.execute("INSERT INTO teams (team, timezone, work_days, holiday_calendar) VALUES (?, ?, ?, ?)",
                      [name, zone, work_days, calendar])


def alert(store: Store, alert_id: str, fired: str, responder: str | None, alert_team: str | None = None) -> None:
    store.sql.execute("INSERT INTO alerts (alert_id, rule, team, fired_at, responder) VALUES (?, 'r', ?, ?, ?)",
                      [alert_id, alert_team, at(fired), responder])


def bands(store: Store, settings: IncidentSettings | None = None) -> dict[str, tuple[str, str, str]]:
    """alert_id -> (zone, local wall-clock time, band)."""
    rows = enriched_alerts(store, settings or IncidentSettings()).to_pyarrow().to_pylist()
    return {r["alert_id"]: (r["zone"], r["local_at"].strftime("%a %d %H:%M"), r["band"]) for r in rows}


def test_offset_table_has_the_exact_transitions():
    table = offset_table(["Europe/Berlin", "America/New_York", "UTC"], at("2026-03-01 00:00"), at("2026-11-30 00:00"))
    rows = [(r["zone"], r["valid_from"].isoformat(), r["offset_seconds"]) for r in table.to_pylist()]
    assert rows == [
        ("America/New_York", "2026-02-28T00:00:00+00:00", -5 * 3600),
        ("America/New_York", "2026-03-08T07:00:00+00:00", -4 * 3600),  # 02:00 EST -> 03:00 EDT
        ("America/New_York", "2026-11-01T06:00:00+00:00", -5 * 3600),  # 02:00 EDT -> 01:00 EST
        ("Europe/Berlin", "2026-02-28T00:00:00+00:00", 3600),
        ("Europe/Berlin", "2026-03-29T01:00:00+00:00", 7200),  # 02:00 CET -> 03:00 CEST
        ("Europe/Berlin", "2026-10-25T01:00:00+00:00", 3600),  # 03:00 CEST -> 02:00 CET
        ("UTC", "2026-02-28T00:00:00+00:00", 0),
    ]


def test_offset_table_refuses_an_unknown_zone():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        offset_table(["Mars/Olympus"], at("2026-01-01 00:00"), at("2026-01-02 00:00"))


def test_bands_across_the_berlin_spring_change(store):
    person(store, "p", "de", "Europe/Berlin")
    for alert_id, fired in (("fri-0630", "2026-03-27 06:30"), ("fri-0730", "2026-03-27 07:30"),
                            ("sun-0030", "2026-03-29 00:30"), ("sun-0630", "2026-03-29 06:30"),
                            ("mon-0630", "2026-03-30 06:30"), ("mon-2030", "2026-03-30 20:30")):
        alert(store, alert_id, fired, "p")
    assert bands(store) == {
        "fri-0630": ("Europe/Berlin", "Fri 27 07:30", "sleep"),  # CET (+1); CEST would say 08:30 business
        "fri-0730": ("Europe/Berlin", "Fri 27 08:30", "business"),
        "sun-0030": ("Europe/Berlin", "Sun 29 01:30", "sleep"),  # 30 min before the switch at 01:00 UTC
        "sun-0630": ("Europe/Berlin", "Sun 29 08:30", "off"),  # CEST (+2), a Sunday; CET would say 07:30 sleep
        "mon-0630": ("Europe/Berlin", "Mon 30 08:30", "business"),  # CET would say 07:30 sleep
        "mon-2030": ("Europe/Berlin", "Mon 30 22:30", "sleep"),  # CET would say 21:30 off
    }


def test_bands_across_new_york_changes_with_the_team_zone(store):
    team(store, "ny", "America/New_York")
    person(store, "q", "ny", None)  # no zone of their own: the team's
    for alert_id, fired in (("fri-1230", "2026-03-06 12:30"), ("mon-0230", "2026-03-09 02:30"),
                            ("mon-1230", "2026-03-09 12:30"), ("nov-0230", "2026-11-02 02:30")):
        alert(store, alert_id, fired, "q")
    assert bands(store) == {
        "fri-1230": ("America/New_York", "Fri 06 07:30", "sleep"),  # EST (-5); EDT would say 08:30 business
        "mon-0230": ("America/New_York", "Sun 08 22:30", "sleep"),  # EDT (-4), the evening before in UTC terms
        "mon-1230": ("America/New_York", "Mon 09 08:30", "business"),  # EST would say 07:30 sleep
        "nov-0230": ("America/New_York", "Sun 01 21:30", "off"),  # EST again after 1 Nov; EDT would say 22:30
    }


def test_zone_follows_the_membership_valid_that_day(store):
    person(store, "m", "de", "Europe/Berlin", "2026-01-01", "2026-01-31")
    person(store, "m", "us", "America/New_York", "2026-02-01")
    alert(store, "jan", "2026-01-15 07:30", "m")
    alert(store, "feb", "2026-02-16 07:30", "m")
    alert(store, "nobody", "2026-02-16 07:30", None)  # no responder, no team: UTC
    assert bands(store) == {"jan": ("Europe/Berlin", "Thu 15 08:30", "business"),
                            "feb": ("America/New_York", "Mon 16 02:30", "sleep"),
                            "nobody": ("UTC", "Mon 16 07:30", "sleep")}


def test_zone_falls_back_to_the_alert_team_when_the_membership_team_has_none(store):
    team(store, "nozone", None)
    team(store, "ny", "America/New_York")
    person(store, "r", "nozone", None)
    alert(store, "a", "2026-01-05 12:30", "r", "ny")  # membership team without zone: the alert's team's
    assert bands(store)["a"] == ("America/New_York", "Mon 05 07:30", "sleep")  # EST (-5); UTC: 12:30 business


def test_unknown_zones_are_skipped(store):
    team(store, "de", "Europe/Berlin")
    team(store, "bad", "Nowhere/Land")
    person(store, "p", "de", "Europe/Berln")  # typo: the membership team's zone instead
    person(store, "q", "bad", None)  # the team's zone is unknown too: UTC
    alert(store, "p1", "2026-01-05 07:30", "p")
    alert(store, "q1", "2026-01-05 07:30", "q")
    assert bands(store) == {"p1": ("Europe/Berlin", "Mon 05 08:30", "business"),
                            "q1": ("UTC", "Mon 05 07:30", "sleep")}
    assert unknown_zones(store) == ["Europe/Berln", "Nowhere/Land"]


def test_holiday_and_weekend_are_off_hours(store):
    team(store, "de", "Europe/Berlin", "Mon-Fri", "DE")
    store.sql.execute("INSERT INTO holidays VALUES ('DE', DATE '2026-04-03', 'Karfreitag')")
    store.sql.execute("INSERT INTO holidays VALUES ('FR', DATE '2026-04-02', 'another calendar')")
    person(store, "p", "de", None)
    alert(store, "thu", "2026-04-02 08:00", "p")  # 10:00 CEST, a working Thursday (FR's holiday is not DE's)
    alert(store, "good-friday", "2026-04-03 08:00", "p")  # 10:00 CEST on a DE holiday
    alert(store, "saturday", "2026-04-04 08:00", "p")
    alert(store, "holiday-night", "2026-04-03 22:30", "p")  # 00:30 on Saturday: sleep wins over off
    assert {k: v[2] for k, v in bands(store).items()} == {
        "thu": "business", "good-friday": "off", "saturday": "off", "holiday-night": "sleep"}


def test_custom_work_days_and_hours(store):
    team(store, "il", "UTC", "Sun-Thu")
    alert(store, "sun", "2026-01-04 10:00", None, "il")  # the alert's team gives the calendar without a responder
    alert(store, "fri", "2026-01-09 10:00", None, "il")
    alert(store, "thu-evening", "2026-01-08 19:00", None, "il")
    assert {k: v[2] for k, v in bands(store).items()} == {"sun": "business", "fri": "off", "thu-evening": "off"}
    custom = IncidentSettings(business_hours=(9, 20), sleep_hours=(23, 7))
    assert bands(store, custom)["thu-evening"][2] == "business"  # 19:00 is in 09-20


def test_work_days_parsing():
    assert sorted(parse_work_days("Fri-Mon")) == [0, 4, 5, 6]
    with pytest.raises(ValueError, match="not a weekday"):
        parse_work_days("Mon-Funday")


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
       st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_offset_table_agrees_with_zoneinfo(instant, zone):
    from zoneinfo import ZoneInfo

    instant = instant.replace(tzinfo=UTC)
    rows = offset_table([zone], instant, instant).to_pylist()
    [row] = [r for r in rows if r["valid_from"] <= instant < r["valid_to"]]
    assert row["offset_seconds"] == instant.astimezone(ZoneInfo(zone)).utcoffset().total_seconds()
