"""The period forecast: hand-checked fits (level, trend, weekday pattern), its interval and its limits."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.cost.forecast import forecast_remaining

MONDAY = date(2026, 3, 2)
WORKWEEK = [10.0, 10.0, 10.0, 10.0, 10.0, 0.0, 0.0]  # Mon-Fri 10, weekend 0


def test_weekday_pattern_is_carried_forward():
    f = forecast_remaining(WORKWEEK * 4, MONDAY, 31)
    # 31 days from Monday 30 March: four full weeks (20 weekdays) + Mon, Tue, Wed = 23 weekdays x 10
    assert (f.remaining, f.low, f.high, f.method, f.fit_days) == (230.0, 230.0, 230.0, "trend+weekday", 28)


def test_weekday_pattern_follows_the_calendar_not_the_position():
    f = forecast_remaining(WORKWEEK[2:] + WORKWEEK * 2, date(2026, 3, 4), 2)  # starts on Wednesday 4 March
    # history ends on Sunday 22 March; the next two days are Mon and Tue: 10 + 10
    assert f.remaining == 20.0


def test_a_linear_trend_is_extrapolated():
    f = forecast_remaining([10.0 + t for t in range(14)], MONDAY, 3)
    # y = 10 + t on t = 0..13; the next days t = 14, 15, 16: 24 + 25 + 26
    assert f.remaining == 75.0


def test_fewer_than_two_weeks_give_the_level_only():
    f = forecast_remaining([10.0, 20.0, 30.0, 40.0], MONDAY, 10)
    # no trend before 14 days: mean 25 x 10 days
    assert (f.remaining, f.method) == (250.0, "level")


def test_only_the_last_four_weeks_are_fitted():
    f = forecast_remaining([100.0] * 10 + [10.0] * 28, MONDAY, 5)
    assert (f.remaining, f.fit_days) == (50.0, 28)


def test_fewer_than_three_days_have_no_forecast():
    with pytest.raises(ValueError, match="at least 3 days"):
        forecast_remaining([10.0, 10.0], MONDAY, 5)


def test_no_remaining_days_forecast_nothing():
    assert forecast_remaining([10.0, 11.0, 12.0], MONDAY, 0).remaining == 0.0


def test_the_80_percent_interval_covers_about_80_percent():
    rng = np.random.default_rng(7)
    effect = np.array([0, 5, 5, 5, 5, -10, -15.0])
    hits = 0
    for i in range(300):
        y = 100 + effect[np.arange(48) % 7] + 8 * rng.standard_normal(48)
        f = forecast_remaining(y[:28], MONDAY, 20, seed=i)
        hits += f.low <= y[28:].sum() <= f.high
    # a residual bootstrap under-covers a little with 8 parameters on 28 days (76.95 % over 2,000 runs)
    assert 0.68 <= hits / 300 <= 0.9


def test_a_falling_trend_never_forecasts_negative_days():
    falling = [float(v) for v in range(280, 0, -10)]  # 28 days from 280 down to 10: the trend crosses 0 next day
    f = forecast_remaining(falling, MONDAY, 10)
    # the fit is the line itself (no residuals): 0, -10, -20, ... clipped to 0 every day
    assert (f.remaining, f.low, f.high) == (0.0, 0.0, 0.0)


def test_the_same_input_gives_the_same_interval():
    y = [100.0, 90.0, 120.0, 80.0, 110.0]
    assert forecast_remaining(y, MONDAY, 9) == forecast_remaining(y, MONDAY, 9)
    wide = forecast_remaining(y, MONDAY, 9, confidence=0.95)
    narrow = forecast_remaining(y, MONDAY, 9)
    assert wide.low < narrow.low < narrow.remaining < narrow.high < wide.high


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1000), min_size=3, max_size=40), st.floats(-100, 100), st.integers(0, 40))
def test_shifting_every_day_shifts_the_forecast(history, shift, horizon):
    # lifted by 100,000: a trend of at most 1,000 a day cannot reach the clipping at 0 within 40 days, where a
    # shift would no longer move every day
    history = [v + 100_000 for v in history]
    base = forecast_remaining(history, MONDAY, horizon)
    moved = forecast_remaining([v + shift for v in history], MONDAY, horizon)
    for a, b in ((base.remaining, moved.remaining), (base.low, moved.low), (base.high, moved.high)):
        assert b == pytest.approx(a + shift * horizon, abs=1e-4)
    assert base.low <= base.high
