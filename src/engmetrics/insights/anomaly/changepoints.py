"""Level shifts with `ruptures` (PELT, l2 cost).

The series is deseasonalised (per-phase medians, `decompose.seasonal_component`) and gaps are dropped. The
noise scale `sigma` is estimated robustly from first differences, `1.4826 MAD(diff) / sqrt(2)` (a shift
moves one difference only, so it hardly changes the estimate). PELT minimises the l2 cost plus
`penalty * sigma^2 * ln(n)` per change (a BIC-like rule: two parameters per change, the level and where,
scaled by the noise variance; `penalty` 2 is the textbook BIC). A change is reported as a shift when the
medians of the segments either side differ by at least `threshold * sigma`; its score is that difference in
sigmas, its value the level after (median of the deseasonalised segment), expected the level before.

>>> import numpy as np
>>> x = np.r_[np.full(20, 5.0), np.full(20, 9.0)] + 0.2 * np.sin(np.arange(40) * 2.3)
>>> [(s.start, s.direction, round(s.value, 1), round(s.expected, 1)) for s in level_shifts(x, None)]
[(20, 'up', 9.0, 5.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decompose import MAD_TO_SD, robust_scale, seasonal_component

__all__ = ["Shift", "level_shifts"]


@dataclass(frozen=True)
class Shift:
    """A level shift: first index of the new level, last index of that segment, levels, score (sigmas)."""

    start: int
    end: int
    direction: str
    value: float
    expected: float
    sigma: float
    score: float


def _sigma(y: np.ndarray) -> float:
    diffs = np.diff(y)
    sigma = MAD_TO_SD * float(np.median(np.abs(diffs - np.median(diffs)))) / np.sqrt(2) if diffs.size else 0.0
    return sigma if sigma > 0 else robust_scale(y)[1]


def level_shifts(x: np.ndarray, period: int | None, *, penalty: float = 3.0, threshold: float = 3.0,
                 min_size: int = 3) -> list[Shift]:
    """The level shifts of `x` (NaN = gap), oldest first; indices refer to `x`."""
    x = np.asarray(x, dtype=float)
    if period:
        x = x - seasonal_component(x - np.nanmedian(x), period)
    index = np.flatnonzero(~np.isnan(x))
    y = x[index]
    n = y.size
    sigma = _sigma(y) if n else 0.0
    if n < 2 * min_size or sigma == 0:
        return []
    import ruptures  # here: importing it takes about a second, which a CLI start should not pay

    jump = max(1, n // 500)  # PELT is quadratic in the worst case; long hourly series test every few points
    ends = ruptures.Pelt(model="l2", min_size=min_size, jump=jump).fit(y.reshape(-1, 1)).predict(
        pen=penalty * sigma**2 * np.log(n))
    bounds = [0, *ends]
    shifts = []
    for before, at, after in zip(bounds, bounds[1:], bounds[2:], strict=False):
        old, new = float(np.median(y[before:at])), float(np.median(y[at:after]))
        score = abs(new - old) / sigma
        if score >= threshold:
            shifts.append(Shift(int(index[at]), int(index[after - 1]), "up" if new > old else "down", new, old,
                                sigma, score))
    return shifts
