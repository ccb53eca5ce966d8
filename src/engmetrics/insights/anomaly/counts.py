"""A count model for sparse series (weekly deploys, daily incidents: small counts, many zeros).

z-scores mean little on counts of 0, 1 and 2, so each count is compared with a robust baseline rate: the
mean of the counts at or below their 90th percentile (per phase of the season when there are at least four
cycles, else over the whole series), at least `MIN_RATE`. When the trimmed counts vary more than their
mean (overdispersion) the model is a negative binomial with that mean and variance (method of moments),
else Poisson. A count is flagged when its tail probability, `P(X >= x)` upwards or `P(X <= x)` downwards,
is below `alpha`; its score is the normal quantile of that probability (`norm.isf(p)`, the z a normal
variable would need to be as unlikely), so it compares with the other methods' robust z.

Hand check: baseline 1 deploy a week (Poisson), a week with 12: P(X >= 12) = 1 - sum_{k<12} e^-1/k! ~ 1.0e-9.

>>> import numpy as np
>>> flags = count_anomalies(np.array([1.0, 0, 2, 1, 0, 1, 12, 1, 0, 2, 1, 1]), None, alpha=0.001)[0]
>>> np.flatnonzero(flags).tolist()
[6]
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = ["MIN_RATE", "count_anomalies"]

MIN_RATE = 0.1  # a series of zeros still expects a little: one event is no anomaly, three are
_TINY = 1e-300


def _baseline(x: np.ndarray, period: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance) of the trimmed counts for every point (per phase, or one pair broadcast)."""
    n = len(x)
    width = period if period and n >= 4 * period else n
    cycles = -(-n // width)
    grid = np.full(cycles * width, np.nan)
    grid[:n] = x
    grid = grid.reshape(cycles, width) if width != n else grid.reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cut = np.nanpercentile(grid, 90, axis=0)
        kept = np.where(grid <= cut, grid, np.nan)
        mean = np.nan_to_num(np.nanmean(kept, axis=0))
        var = np.nan_to_num(np.nanvar(kept, axis=0, ddof=1))
    if width == n:
        return np.full(n, max(float(mean[0]), MIN_RATE)), np.full(n, float(var[0]))
    return np.maximum(np.tile(mean, cycles)[:n], MIN_RATE), np.tile(var, cycles)[:n]


def count_anomalies(x: np.ndarray, period: int | None, *, alpha: float = 0.001
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(flags, score, expected, expected_low, expected_high) of the counts `x` (NaN never flagged).
    The expected range is the central `1 - 2 alpha` interval of the model."""
    x = np.asarray(x, dtype=float)
    mean, var = _baseline(x, period)
    over = var > mean
    r = np.where(over, mean**2 / np.where(over, var - mean, 1.0), 1.0)
    p = np.where(over, r / (r + mean), 0.5)
    counts = np.nan_to_num(x)
    up = np.where(over, stats.nbinom.sf(counts - 1, r, p), stats.poisson.sf(counts - 1, mean))
    down = np.where(over, stats.nbinom.cdf(counts, r, p), stats.poisson.cdf(counts, mean))
    tail = np.clip(np.minimum(up, down), _TINY, 1.0)
    flags = (tail < alpha) & ~np.isnan(x)
    score = np.where(np.isnan(x), np.nan, np.clip(stats.norm.isf(tail), 0.0, None))
    low = np.where(over, stats.nbinom.ppf(alpha, r, p), stats.poisson.ppf(alpha, mean))
    high = np.where(over, stats.nbinom.isf(alpha, r, p), stats.poisson.isf(alpha, mean))
    return flags, score, mean, low, high
