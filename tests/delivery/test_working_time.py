"""Working time between two instants in a person's calendar: hand-checked spans and a property."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.delivery.working_time import interval_rows, span_hours
from engmetrics.settings import DeliverySettings


def _setup(store) -> None:
    ex = store.sql.execute
    ex("insert into teams (team, timezone, work_days, holiday_calendar) values (?, ?, ?, ?)",
       ["berlin", "Europe/Berlin", "Mon-Fri", "de"])
    ex("insert into holidays (calendar, date, name) values (?, ?, ?)", ["de", "2026-03-30", "made-up holiday"])
    ex("insert into people (person, valid_from, team) values (?, ?, ?)", ["rev", "2020-01-01", "berlin"])
    ex("insert into people (person, valid_from, team, timezone) values (?, ?, ?, ?)",
       ["ny", "2020-01-01", "berlin", "America/New_York"])


def _hours(store, spans: list[tuple[str, datetime, datetime]]) -> dict[str, tuple[float, float]]:
    t = ibis.memtable({"span_id": [f"s{i}" for i in range(len(spans))], "person": [s[0] for s in spans],
                       "start": [s[1] for s in spans], "end": [s[2] for s in spans]})
    rows = span_hours(store, DeliverySettings(), t).to_pyarrow().to_pylist()
    return {r["span_id"]: (r["wall_hours"], r["working_hours"]) for r in rows}


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekend_pickup_in_berlin(store) -> None:
    _setup(store)
    # Fri 2026-01-09 20:00 CET (19:00Z) to Mon 2026-01-12 10:00 CET (09:00Z): 62 h wall; working only Mon 09-10
    got = _hours(store, [("rev", _utc(2026, 1, 9, 19), _utc(2026, 1, 12, 9))])
    assert got["s0"] == (62.0, 1.0)


def test_dst_change_and_holiday(store) -> None:
    _setup(store)
    # Fri 2026-03-27 16:00 CET (15:00Z) to Tue 2026-03-31 10:00 CEST (08:00Z); clocks go forward Sun 29 March.
    # wall: 96 h (Fri 15Z -> Tue 15Z) - 7 = 89 h (not the 90 local hours); working: Fri 16-17 = 1,
    # Mon 30 March is a holiday = 0, Tue 09-10 = 1 -> 2 h
    # second span: Tue 2026-03-31 06:00Z-08:00Z = 08:00-10:00 CEST: working 09-10 = 1 h (a fixed +1 offset gives 0)
    got = _hours(store, [("rev", _utc(2026, 3, 27, 15), _utc(2026, 3, 31, 8)),
                         ("rev", _utc(2026, 3, 31, 6), _utc(2026, 3, 31, 8))])
    assert got["s0"] == (89.0, 2.0)
    assert got["s1"] == (2.0, 1.0)


def test_person_zone_wins_and_defaults_without_membership(store) -> None:
    _setup(store)
    # Mon 2026-01-12 13:00Z-16:00Z: New York (UTC-5) 08:00-11:00 -> working 09-11 = 2 h;
    # unknown person: UTC with the default 09-17 -> 3 h; an end before the start has no duration
    got = _hours(store, [("ny", _utc(2026, 1, 12, 13), _utc(2026, 1, 12, 16)),
                         ("nobody", _utc(2026, 1, 12, 13), _utc(2026, 1, 12, 16)),
                         ("rev", _utc(2026, 1, 12, 16), _utc(2026, 1, 12, 13))])
    assert got["s0"] == (3.0, 2.0)
    assert got["s1"] == (3.0, 3.0)
    assert got["s2"] == (None, None)


def test_interval_rows_skip_weekends_and_holidays() -> None:
    rows = interval_rows("UTC", "", date(2026, 1, 9), date(2026, 1, 13), work_days=frozenset(range(5)),
                         hours=(time(9), time(17)), holidays={date(2026, 1, 12)})
    assert [r[2].date() for r in rows] == [date(2026, 1, 9), date(2026, 1, 13)]  # Sat, Sun, holiday Mon skipped


_instants = st.integers(min_value=0, max_value=24 * 60 * 40).map(lambda m: _utc(2026, 3, 1) + timedelta(minutes=m))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(_instants, _instants, _instants).map(sorted), min_size=1, max_size=8),
       st.sampled_from(["rev", "ny", "nobody"]))
def test_working_at_most_wall_and_additive(triples, who) -> None:
    from engmetrics.store import Store

    with Store.open("duckdb://") as store:
        _setup(store)
        spans = [(who, a, c) for a, _, c in triples] + [(who, a, b) for a, b, _ in triples] \
            + [(who, b, c) for _, b, c in triples]
        got = _hours(store, spans)
    n = len(triples)
    for i in range(n):
        wall, work = got[f"s{i}"]
        assert 0 <= work <= wall + 1e-9
        assert abs(work - got[f"s{n + i}"][1] - got[f"s{2 * n + i}"][1]) < 1e-9
