"""Robust seasonal decomposition and robust residual scores.

`x = trend + seasonal + residual`: the trend is a centred rolling median of each point's neighbours (window
`2 * period + 1`, at least 7 points), the seasonal part the median of the detrended series at each phase of
the season (daily for hourly data: period 24; weekly for daily data: period 7; none for coarser steps),
centred on zero. Residuals are scored robustly, `z = (r - median(r)) / (1.4826 MAD)`; when the MAD is 0
(more than half the residuals equal) the scale falls back to the mean absolute deviation times sqrt(pi/2)
(both estimate the standard deviation of normal noise), and when that is 0 too every score is 0. NaN (a gap)
stays NaN throughout. The expected value is `trend + seasonal + median(r)`, so `|z| >= k` exactly when the
value lies at or beyond `expected ± k * scale`.

>>> import numpy as np
>>> x = np.array([10, 10, 10, 10, 10, 2, 2] * 4, dtype=float)
>>> x[10] = 30
>>> d = decompose(x, periods=7)
>>> float(d.trend[3]), float(d.seasonal[5]), int(np.nanargmax(np.abs(d.z)))
(10.0, -8.0, 10)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

__all__ = ["Decomposition", "decompose", "periods_for", "robust_scale", "rolling_median", "seasonal_component"]

MAD_TO_SD = 1.4826
MEAN_AD_TO_SD = float(np.sqrt(np.pi / 2))
MIN_CYCLES = 4


@dataclass(frozen=True)
class Decomposition:
    """The parts of a series and its robust residual scores; `centre` is the residuals' median and `scale`
    estimates the noise's standard deviation, so `expected ± k * scale` is the expected range at threshold k."""

    trend: np.ndarray
    seasonal: np.ndarray
    residual: np.ndarray
    z: np.ndarray
    centre: float
    scale: float

    @property
    def expected(self) -> np.ndarray:
        """`trend + seasonal + centre`: where a residual scores 0."""
        return self.trend + self.seasonal + self.centre


def periods_for(step: timedelta, n: int) -> tuple[int, ...]:
    """The seasonal periods of a series with buckets of `step` and `n` points: daily (24) for hourly data,
    plus weekly (168) from four weeks on; weekly (7) for daily data; none otherwise. A period needs
    `MIN_CYCLES` full cycles: a per-phase median of fewer values follows the noise (the median of three values
    is one of them, so a third of the residuals would be exactly 0 and the MAD would shrink).

    >>> periods_for(timedelta(hours=1), 700), periods_for(timedelta(days=1), 27), periods_for(timedelta(days=7), 50)
    ((24, 168), (), ())
    """
    if step == timedelta(hours=1):
        candidates: tuple[int, ...] = (24, 168)
    elif step == timedelta(days=1):
        candidates = (7,)
    else:
        candidates = ()
    return tuple(p for p in candidates if n >= MIN_CYCLES * p)


def _nanmedian(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is NaN, not an error
        return np.nanmedian(a, axis=axis)


def rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median of each point's neighbours (the point itself left out, so a point is never
    its own trend and residuals are not pulled towards 0), ignoring NaN; windows shrink at the ends. An
    even window grows by one.

    >>> rolling_median(np.array([1.0, 9.0, 2.0, np.nan, 3.0]), 3).tolist()
    [9.0, 1.5, 9.0, 2.5, nan]
    """
    half = window // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return _nanmedian(np.delete(windows, half, axis=1), axis=1)


def seasonal_component(detrended: np.ndarray, period: int) -> np.ndarray:
    """Per-phase medians of `detrended` (phase = index mod `period`), centred so they sum to about zero."""
    n = len(detrended)
    cycles = -(-n // period)
    grid = np.full(cycles * period, np.nan)
    grid[:n] = detrended
    phase = _nanmedian(grid.reshape(cycles, period), axis=0)
    phase = np.nan_to_num(phase - _nanmedian(phase))
    return np.tile(phase, cycles)[:n]


def robust_scale(r: np.ndarray) -> tuple[float, float]:
    """(centre, scale) of `r` ignoring NaN: the median and 1.4826 MAD, or sqrt(pi/2) times the mean absolute
    deviation from the median when the MAD is 0; scale 0 when every value is equal.

    >>> robust_scale(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    (3.0, 1.4826)
    """
    known = r[~np.isnan(r)]
    if known.size == 0:
        return 0.0, 0.0
    centre = float(np.median(known))
    deviation = np.abs(known - centre)
    scale = MAD_TO_SD * float(np.median(deviation))
    if scale == 0:
        scale = MEAN_AD_TO_SD * float(np.mean(deviation))
    return centre, scale


def decompose(x: np.ndarray, periods: tuple[int, ...] | int = ()) -> Decomposition:
    """Trend, seasonal part(s) for `periods`, residual and robust scores of `x` (NaN = gap)."""
    periods = (periods,) if isinstance(periods, int) else periods
    x = np.asarray(x, dtype=float)
    window = max(7, 2 * max(periods, default=0) + 1)
    trend = rolling_median(x, window)
    seasonal = np.zeros_like(x)
    for period in sorted(periods):
        seasonal = seasonal + seasonal_component(x - trend - seasonal, period)
    if periods:  # second pass: the trend of the deseasonalised series has no edge effect from the season
        trend = rolling_median(x - seasonal, window)
    residual = x - trend - seasonal
    centre, scale = robust_scale(residual)
    z = (residual - centre) / scale if scale > 0 else np.where(np.isnan(residual), np.nan, 0.0)
    return Decomposition(trend, seasonal, residual, z, centre, scale)
