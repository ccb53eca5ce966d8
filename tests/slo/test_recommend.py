"""SLO target recommendation: weekly levels, Wilson intervals, candidate budgets and warnings checked by hand.

Every interval below is the 95 % Wilson score interval with z = 1.959963984540054, z² = 3.841458820694124:
centre = (p + z²/2n) / (1 + z²/n), half = z / (1 + z²/n) x sqrt(p(1 - p)/n + z²/4n²).
"""

from __future__ import annotations

import doctest
import json
import math
from datetime import UTC, date, datetime, timedelta

import ibis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.slo import recommend as recommend_module
from engmetrics.slo.recommend import DEFAULT_CANDIDATES, recommend, recommend_sli_events, wilson_interval
from engmetrics.store import Store

MON = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: ISO weeks start 01-05, 01-12, 01-19, 01-26
TOL = 1e-6


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        yield s


def _at(days=0.0, minutes=0):
    return MON + timedelta(days=days, minutes=minutes)


def _insert(store, rows, service="checkout", indicator="availability"):
    store.sql.executemany("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)",
                          [(service, indicator, ts, good, total) for ts, good, total in rows])


SUNDAY_LATE = 6 * 24 * 60 + 59  # minutes from Monday 00:00 to Sunday 23:59

# Four weeks of 1000 events each, split between Monday 00:00 and Sunday 23:59 of the same ISO week:
#   week 01-05: Mon 500/500, Sun 490/500 -> 990/1000 (10 bad)
#   week 01-12: Mon 490/500, Sun 500/500 -> 990/1000 (10 bad)
#   week 01-19: Mon 500/500, Sun 495/500 -> 995/1000 (5 bad)
#   week 01-26: Mon 495/500, Sun 500/500 -> 995/1000 (5 bad)
# Whole history: 3970/4000, 30 bad, from 01-05 to 02-02 (28 days).
FOUR_WEEKS = [
    (_at(0), 500, 500), (_at(minutes=SUNDAY_LATE), 490, 500),
    (_at(7), 490, 500), (_at(7, SUNDAY_LATE), 500, 500),
    (_at(14), 500, 500), (_at(14, SUNDAY_LATE), 495, 500),
    (_at(21), 495, 500), (_at(21, SUNDAY_LATE), 500, 500),
]


def _candidate(rec, target):
    return next(c for c in rec.candidates if c.target == target)


def test_doctests():
    assert doctest.testmod(recommend_module).failed == 0


def test_wilson_interval_by_hand():
    # 990/1000: p = 0.99, z²/n = 0.0038414588, 1 + z²/n = 1.0038414588
    #   centre = (0.99 + 0.0019207294) / 1.0038414588 = 0.9881248883
    #   half = 1.9599639845 / 1.0038414588 x sqrt(0.99 x 0.01 / 1000 + 3.8414588 / 4e6)
    #        = 1.9524636 x sqrt(9.9e-6 + 9.6036470e-7) = 1.9524636 x 0.0032955067 = 0.0064343572
    #   -> [0.9816905311, 0.9945592456]
    low, high = wilson_interval(990, 1000)
    assert low == pytest.approx(0.9816905311, abs=TOL)
    assert high == pytest.approx(0.9945592456, abs=TOL)
    # 1000/1000: p = 1, half = (z²/2n) / (1 + z²/n), so low = 1 / (1 + z²/n) = 1 / 1.0038414588 = 0.9961732415
    low, high = wilson_interval(1000, 1000)
    assert low == pytest.approx(0.9961732415, abs=TOL)
    assert high == 1.0
    # 0/1000 mirrors it
    low, high = wilson_interval(0, 1000)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.9961732415, abs=TOL)
    assert wilson_interval(0, 0) is None
    # a wider confidence gives a wider interval
    assert wilson_interval(990, 1000, 0.99)[0] < 0.9816905311 - 1e-3


def test_weekly_levels_and_intervals(store):
    _insert(store, FOUR_WEEKS)
    _insert(store, [(_at(3), 0, 1000)], indicator="latency")  # other indicator
    _insert(store, [(_at(3), 0, 1000)], service="search")  # other service
    rec = recommend_sli_events(store, "checkout", "availability")

    # the Sunday 23:59 rows stay in their week: ISO weeks start on Monday
    assert [w.week for w in rec.weeks] == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19), date(2026, 1, 26)]
    assert [(w.good, w.total) for w in rec.weeks] == [(990, 1000), (990, 1000), (995, 1000), (995, 1000)]
    assert all(w.full for w in rec.weeks)
    assert [w.achieved for w in rec.weeks] == pytest.approx([0.99, 0.99, 0.995, 0.995], abs=1e-12)
    # 990/1000: [0.9816905311, 0.9945592456] (see test_wilson_interval_by_hand)
    assert rec.weeks[0].low == pytest.approx(0.9816905311, abs=TOL)
    assert rec.weeks[0].high == pytest.approx(0.9945592456, abs=TOL)
    # 995/1000: centre = (0.995 + 0.0019207294) / 1.0038414588 = 0.9931057545
    #   half = 1.9524636 x sqrt(0.995 x 0.005 / 1000 + 9.6036470e-7) = 1.9524636 x 0.0024362620 = 0.0047567099
    #   -> [0.9883490446, 0.9978624645]
    assert rec.weeks[2].low == pytest.approx(0.9883490446, abs=TOL)
    assert rec.weeks[2].high == pytest.approx(0.9978624645, abs=TOL)

    # overall 3970/4000: p = 0.9925, z²/n = 0.00096036471
    #   centre = (0.9925 + 0.00048018235) / 1.00096036471 = 0.9920274742
    #   half = 1.9580835 x sqrt(0.9925 x 0.0075 / 4000 + 3.8414588 / 6.4e7) = 1.9580835 x 0.0013859860 = 0.0027138785
    #   -> [0.9893135957, 0.9947413527]
    o = rec.overall
    assert (o.good, o.total, o.bad) == (3970, 4000, 30)
    assert o.achieved == pytest.approx(0.9925, abs=1e-12)
    assert o.low == pytest.approx(0.9893135957, abs=TOL)
    assert o.high == pytest.approx(0.9947413527, abs=TOL)
    assert (o.start, o.end) == (MON, MON + timedelta(days=28))
    assert (o.weeks, o.full_weeks, o.weeks_with_events, o.days) == (4, 4, 4, 28)
    assert rec.service == "checkout" and rec.indicator == "availability"


def test_candidate_budgets_and_recommendation(store):
    _insert(store, FOUR_WEEKS)
    rec = recommend_sli_events(store, "checkout", "availability")
    assert [c.target for c in rec.candidates] == list(DEFAULT_CANDIDATES)

    # 0.99 over 4000 events with 30 bad: allowed = 0.01 x 4000 = 40, consumed = 30 / 40 = 0.75
    c99 = _candidate(rec, 0.99)
    assert c99.allowed == pytest.approx(40, abs=TOL)
    assert c99.consumed == pytest.approx(0.75, abs=TOL)
    # 28-day period = the whole history: worst period = 0.0075 / 0.01 = 0.75
    assert c99.worst_period_consumed == pytest.approx(0.75, abs=TOL)
    assert c99.weeks_breached == 0  # weeks at exactly 0.99 meet it
    # 0.95: allowed 200, consumed 30 / 200 = 0.15; 0.995: allowed 20, consumed 1.5, two weeks at 0.99 breach
    assert _candidate(rec, 0.95).consumed == pytest.approx(0.15, abs=TOL)
    c995 = _candidate(rec, 0.995)
    assert c995.consumed == pytest.approx(1.5, abs=TOL)
    assert c995.weeks_breached == 2
    # 0.999: allowed 4 (< 10 bad events: unresolvable), consumed 7.5, every week breaches
    c999 = _candidate(rec, 0.999)
    assert c999.consumed == pytest.approx(7.5, abs=TOL)
    assert c999.weeks_breached == 4
    assert not c999.resolvable

    # lower bound 0.98931 supports 0.9 and 0.95 but not 0.99: recommended 0.95, aspirational 0.99
    assert [c.meets_lower_bound for c in rec.candidates] == [True, True, False, False, False, False, False]
    assert rec.recommended_target == 0.95
    assert rec.aspirational_target == 0.99
    assert [c.recommended for c in rec.candidates] == [False, True, False, False, False, False, False]
    assert [c.supported for c in rec.candidates] == [True, True, False, False, False, False, False]
    # 0.999 needs 10 / 0.001 = 10,000 events, 0.9995 20,000, 0.9999 100,000
    assert rec.warnings == (
        "too few events to resolve some targets: 4,000 events allow fewer than 10 bad events for "
        "0.999 (needs 10,000), 0.9995 (needs 20,000), 0.9999 (needs 100,000)",
    )


def test_rolling_period_uses_daily_sums(store):
    _insert(store, FOUR_WEEKS)
    rec = recommend_sli_events(store, "checkout", "availability", period_days=7)
    # 7-day windows starting Tue 01-06 .. Sun 01-11 hold Sun 01-11 (10 bad) and Mon 01-12 (10 bad):
    # 980/1000, the worst; the first of them is 01-06 .. 01-13
    o = rec.overall
    assert (o.worst_period_start, o.worst_period_end) == (date(2026, 1, 6), date(2026, 1, 13))
    assert o.worst_period_achieved == pytest.approx(0.98, abs=1e-12)
    # worst consumption = 0.02 / (1 - target): 0.9 -> 0.2, 0.95 -> 0.4, 0.99 -> 2.0
    assert _candidate(rec, 0.9).worst_period_consumed == pytest.approx(0.2, abs=TOL)
    assert _candidate(rec, 0.95).worst_period_consumed == pytest.approx(0.4, abs=TOL)
    assert _candidate(rec, 0.99).worst_period_consumed == pytest.approx(2.0, abs=TOL)
    assert rec.recommended_target == 0.95


def test_worst_period_can_veto_a_target_the_overall_level_supports(store):
    # four Mondays of 100,000 events; the second has all 100 bad ones: 399,900 / 400,000 = 0.99975
    # Wilson: z²/n = 9.6036e-6, centre = (0.99975 + 4.8018e-6) / 1.0000096036 = 0.9997452006,
    #   half = 1.9599452 x sqrt(0.99975 x 0.00025 / 4e5 + 3.8414588 / 6.4e11) = 0.0000492273
    #   -> low 0.9996959734: 0.9995 is demonstrated, 0.9999 is not
    _insert(store, [(_at(0), 100_000, 100_000), (_at(7), 99_900, 100_000), (_at(14), 100_000, 100_000),
                    (_at(21), 100_000, 100_000)])
    rec28 = recommend_sli_events(store, "checkout", "availability")
    assert rec28.overall.low == pytest.approx(0.9996959734, abs=TOL)
    # 28 days: the whole history, 0.00025 / 0.0005 = 0.5 of the 0.9995 budget -> recommended
    assert _candidate(rec28, 0.9995).worst_period_consumed == pytest.approx(0.5, abs=TOL)
    assert (rec28.recommended_target, rec28.aspirational_target) == (0.9995, 0.9999)

    rec7 = recommend_sli_events(store, "checkout", "availability", period_days=7)
    # a 7-day window holds one Monday: the worst is 99,900 / 100,000 = 0.999
    # 0.9995: 0.001 / 0.0005 = 2.0; 0.999: 0.001 / 0.001 = 1.0 (exhausted: not < 1); 0.995: 0.2
    assert _candidate(rec7, 0.9995).worst_period_consumed == pytest.approx(2.0, abs=TOL)
    assert _candidate(rec7, 0.999).worst_period_consumed == pytest.approx(1.0, abs=TOL)
    assert _candidate(rec7, 0.995).worst_period_consumed == pytest.approx(0.2, abs=TOL)
    assert _candidate(rec7, 0.9995).meets_lower_bound
    assert not _candidate(rec7, 0.9995).survives_worst_period
    assert (rec7.recommended_target, rec7.aspirational_target) == (0.995, 0.999)


def test_short_baseline_warns(store):
    _insert(store, FOUR_WEEKS[:4])  # the first two weeks only
    rec = recommend_sli_events(store, "checkout", "availability")
    assert len(rec.weeks) == 2
    assert rec.overall.full_weeks_with_events == 2
    assert "baseline too short to trust: 2 full week(s) with events, fewer than 4" in rec.warnings
    assert "history of 14 day(s) is shorter than the 28-day period: the worst period is the whole history" \
        in rec.warnings
    # 1980/2000: 0.99 allowed 20, consumed 20 / 20 = 1.0 -> not survivable
    assert _candidate(rec, 0.99).consumed == pytest.approx(1.0, abs=TOL)
    assert rec.recommended_target == 0.95  # still a recommendation, with the warning
    assert recommend_sli_events(store, "checkout", "availability", min_weeks=2).warnings[0].startswith("history of")


def test_gaps_and_partial_weeks(store):
    _insert(store, FOUR_WEEKS[:2] + FOUR_WEEKS[4:6])  # weeks 01-05 and 01-19
    rec = recommend_sli_events(store, "checkout", "availability", start=_at(2), end=_at(21))
    # window Wed 01-07 .. Mon 01-26: the Monday row of 01-05 is before it; three weeks, the first partial
    assert [(w.week, w.good, w.total, w.full) for w in rec.weeks] == [
        (date(2026, 1, 5), 490, 500, False), (date(2026, 1, 12), 0, 0, True), (date(2026, 1, 19), 995, 1000, True),
    ]
    gap = rec.weeks[1]
    assert (gap.achieved, gap.low, gap.high) == (None, None, None)
    assert "gap: 1 week(s) without events: 2026-01-12" in rec.warnings
    assert "baseline too short to trust: 1 full week(s) with events, fewer than 4" in rec.warnings
    assert rec.overall.days == 19
    json.dumps(rec.to_dict(), allow_nan=False)


def test_no_data(store):
    rec = recommend_sli_events(store, "checkout", "availability")
    assert rec.weeks == ()
    assert rec.recommended_target is None and rec.aspirational_target is None
    assert rec.warnings == ("no events in the history: nothing to recommend",)
    assert all(c.consumed is None and not c.recommended for c in rec.candidates)
    out = rec.to_dict()
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["overall"]["achieved"] is None and out["overall"]["total"] == 0

    # with an explicit window, its (empty) weeks are still listed; a zero-total row is no data
    _insert(store, [(_at(1), 0, 0)])
    rec = recommend_sli_events(store, "checkout", "availability", start=MON, end=_at(14))
    assert [(w.week, w.achieved) for w in rec.weeks] == [(date(2026, 1, 5), None), (date(2026, 1, 12), None)]
    assert rec.warnings == ("no events in the history: nothing to recommend",)
    json.dumps(rec.to_dict(), allow_nan=False)


def test_to_dict_shape(store):
    _insert(store, FOUR_WEEKS)
    out = recommend_sli_events(store, "checkout", "availability").to_dict()
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert (out["service"], out["indicator"], out["recommended_target"]) == ("checkout", "availability", 0.95)
    assert set(out["weeks"][0]) >= {"week", "good", "total", "achieved", "low", "high"}
    assert out["weeks"][0]["week"] == "2026-01-05"
    assert set(out["candidates"][0]) >= {"target", "consumed", "worst_period_consumed", "weeks_breached",
                                         "recommended"}
    assert out["overall"]["start"] == "2026-01-05T00:00:00+00:00"
    assert isinstance(out["warnings"], list)
    # no labels without service and indicator
    t = store.table("sli_events").select("ts", "good", "total")
    assert "service" not in recommend(t).to_dict()


def test_invalid_arguments(store):
    t = store.table("sli_events").select("ts", "good", "total")
    with pytest.raises(ValueError):
        recommend(t, candidates=(0.99, 1.0))
    with pytest.raises(ValueError):
        recommend(t, candidates=())
    with pytest.raises(ValueError):
        recommend(t, confidence=1.0)
    with pytest.raises(ValueError):
        recommend(t, start=_at(7), end=_at(0))


@given(
    total=st.floats(min_value=1e-3, max_value=1e9, allow_nan=False),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    confidence=st.floats(min_value=0.5, max_value=0.999),
)
def test_wilson_contains_estimate_within_unit_interval(total, fraction, confidence):
    good = total * fraction
    low, high = wilson_interval(good, total, confidence)
    p = min(good / total, 1.0)
    assert 0.0 <= low <= p <= high <= 1.0
    assert not math.isnan(low) and not math.isnan(high)


def test_resolvable_at_exactly_the_needed_events():
    # 0.9995 needs 10 / 0.0005 = 20,000 events; (1 - 0.9995) x 20,000 rounds to 9.99999..., still resolvable
    days = [datetime(2026, 1, 5) + timedelta(days=d) for d in range(28)]
    rec = recommend(ibis.memtable({"ts": days, "good": [20_000 / 28] * 28, "total": [20_000 / 28] * 28}),
                    candidates=(0.9995, 0.9999))
    assert [c.resolvable for c in rec.candidates] == [True, False]
    # all good: low = 1 / (1 + z²/20000) = 1 / 1.000192073 = 0.9998079638, so 0.9995 is demonstrated
    assert rec.overall.low == pytest.approx(0.9998079638, abs=TOL)
    assert rec.recommended_target == 0.9995
    assert rec.warnings == ("too few events to resolve some targets: 20,000 events allow fewer than 10 bad events "
                            "for 0.9999 (needs 100,000)",)
