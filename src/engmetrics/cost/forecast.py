"""Forecast of the cost still to come in a period, from daily totals, with an 80 % interval.

Input: the daily totals of the last days before the forecast starts (`history`, oldest first, no gaps,
the first one on `first_day`), and how many days to forecast (`horizon`). The totals come out of the
engine already aggregated (a few dozen numbers): the model is numpy on that small array.

**Model** (least squares, Hyndman and Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed.,
section 7.4 "trend and seasonal dummies"): over the last `fit_days` days of history (default 28, four
weeks), cost on day t is

    y_t = level + trend x t + s_weekday(t) + e_t

- with at least 14 days (every weekday seen at least twice) the model has the trend and six weekday
  dummies (Monday is the baseline), `method = "trend+weekday"`;
- with 3 to 13 days it has the level only (the mean of those days), `method = "level"`: too few days to
  tell a weekday pattern or a trend from noise;
- with fewer than 3 days there is no forecast (`ValueError`; callers report `insufficient_data`).

The forecast of the remaining days is the sum of the model's values on those days (t continuing after
the history, each day with its weekday), each day's value clipped at 0: a falling trend must not forecast
spending that runs backwards (credits in the history lower the fit, but a refund is not forecast).

**Interval** (residual bootstrap, FPP section 5.5 and 8.7): residuals of the fit, inflated by
sqrt(n / (n - p)) for the p fitted parameters, are resampled with replacement `draws` times (default
2,000, fixed seed: the same input gives the same interval). Each draw builds a series fitted + resampled
residuals, refits the model, predicts the remaining days and adds resampled residuals to each of them
(each day clipped at 0 as above);
`low`/`high` are the (1 - confidence)/2 and (1 + confidence)/2 quantiles (default 10 % and 90 %) of the
drawn totals. So the interval covers both the day-to-day noise and the uncertainty of level, trend and
weekday effects. A perfect fit (no residuals) gives an interval of zero width. Amounts are rounded to
6 decimals (a millionth of the currency unit), which also removes floating-point noise.

>>> f = forecast_remaining([10.0, 10.0, 10.0], date(2026, 3, 1), 28)
>>> (f.remaining, f.low, f.high, f.method)
(280.0, 280.0, 280.0, 'level')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

__all__ = ["FIT_DAYS", "MIN_DAYS", "SEASONAL_DAYS", "Forecast", "forecast_remaining"]

MIN_DAYS = 3  # fewer days of history: no forecast
SEASONAL_DAYS = 14  # from here on: trend and weekday dummies (every weekday seen twice)
FIT_DAYS = 28  # the model is fitted to the last four weeks


@dataclass(frozen=True)
class Forecast:
    """Predicted total of the `horizon` days after the history, with its interval."""

    remaining: float
    low: float
    high: float
    method: str
    fit_days: int
    confidence: float


def _design(days: np.ndarray, weekdays: np.ndarray, seasonal: bool) -> np.ndarray:
    """Columns: 1, then (seasonal) t and one dummy per weekday Tuesday..Sunday."""
    if not seasonal:
        return np.ones((len(days), 1))
    dummies = (weekdays[:, None] == np.arange(1, 7)[None, :]).astype(float)
    return np.column_stack([np.ones(len(days)), days.astype(float), dummies])


def forecast_remaining(history: Sequence[float], first_day: date, horizon: int, *, confidence: float = 0.8,
                       fit_days: int = FIT_DAYS, draws: int = 2000, seed: int = 0) -> Forecast:
    """Forecast the total of the `horizon` days following `history` (see the module docstring).

    >>> week = [10.0, 10.0, 10.0, 10.0, 10.0, 0.0, 0.0]  # Mon-Fri 10, weekends 0
    >>> f = forecast_remaining(week * 2, date(2026, 3, 2), 7)  # 2 March 2026 is a Monday
    >>> f.remaining, f.low, f.high, f.method
    (50.0, 50.0, 50.0, 'trend+weekday')
    """
    values = np.asarray(history, dtype=float)[-fit_days:]
    n = len(values)
    if n < MIN_DAYS:
        raise ValueError(f"a forecast needs at least {MIN_DAYS} days of history (got {n})")
    start = first_day.toordinal() + len(history) - n  # ordinal of the first fitted day
    t = np.arange(n + horizon)
    weekdays = (start + t - 1) % 7  # date.fromordinal(1) is a Monday: weekday() = (ordinal - 1) % 7
    seasonal = n >= SEASONAL_DAYS
    x, future = _design(t[:n], weekdays[:n], seasonal), _design(t[n:], weekdays[n:], seasonal)
    solve = np.linalg.pinv(x)
    beta = solve @ values
    fitted = x @ beta
    residuals = (values - fitted) * np.sqrt(n / max(n - x.shape[1], 1))
    point = float(np.maximum(future @ beta, 0).sum())  # a day's cost does not run below zero
    rng = np.random.default_rng(seed)
    series = fitted[:, None] + rng.choice(residuals, size=(n, draws))
    days = future @ (solve @ series) + rng.choice(residuals, size=(horizon, draws))
    totals = np.maximum(days, 0).sum(axis=0)
    low, high = np.quantile(totals, [(1 - confidence) / 2, (1 + confidence) / 2], method="linear")
    return Forecast(round(point, 6), round(float(low), 6), round(float(high), 6),
                    "trend+weekday" if seasonal else "level", n, confidence)
