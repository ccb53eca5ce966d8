"""Seasonal hybrid ESD (S-H-ESD), after Hochenbaum, Vallis and Kejariwal, "Automatic Anomaly Detection in
the Cloud Via Statistical Learning" (2017), on top of Rosner's generalised ESD test (1983).

Generalised ESD, for at most `k` outliers among `n` values: for i = 1..k take the value farthest from the
centre, `R_i = max |x - centre| / scale` over the values not yet removed, and remove it. Its critical value
is `lambda_i = (n - i) t / sqrt((n - i - 1 + t^2)(n - i + 1))` with `t` the `1 - alpha / (2 (n - i + 1))`
quantile of Student's t with `n - i - 1` degrees of freedom. The number of outliers is the largest i with
`R_i > lambda_i` (the first i removed values are the outliers). Rosner's test uses the mean and the standard
deviation; S-H-ESD uses the median and the MAD (`robust=True`), which an anomaly cannot drag.

S-H-ESD applies the test to the residual `x - seasonal - median(x)`, where `seasonal` is the per-phase median
of the series (one season), with at most `max_share * n` anomalies. Rosner's own example (54 values, NIST
handbook 1.3.5.17, three outliers at alpha 0.05) is in tests/insights/test_anomaly_detectors.py; here eight
values with one outlier (the classic, non-robust test):

>>> import numpy as np
>>> r = generalized_esd(np.array([1.0, 1.2, 0.9, 1.1, 1.0, 9.0, 1.05, 0.95]), max_outliers=2, robust=False)
>>> r.outliers.tolist()
[5]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .decompose import robust_scale, seasonal_component

__all__ = ["EsdResult", "critical_values", "generalized_esd", "seasonal_hybrid_esd"]


@dataclass(frozen=True)
class EsdResult:
    """Indices of the outliers (in removal order), the test statistics `R_i` and critical values `lambda_i`
    for i = 1..k (NaN once fewer than three values were left)."""

    outliers: np.ndarray
    statistics: np.ndarray
    critical: np.ndarray


def critical_values(n: int, k: int, alpha: float) -> np.ndarray:
    """`lambda_1..lambda_k` of the generalised ESD test for `n` values (vectorised over i).

    >>> [round(float(v), 3) for v in critical_values(54, 3, 0.05)]
    [3.159, 3.151, 3.144]
    """
    i = np.arange(1, k + 1)
    dof = n - i - 1
    t = stats.t.ppf(1 - alpha / (2 * (n - i + 1)), dof)
    return (n - i) * t / np.sqrt((dof + t**2) * (n - i + 1))


def generalized_esd(x: np.ndarray, max_outliers: int, alpha: float = 0.05, *, robust: bool = True) -> EsdResult:
    """Rosner's generalised ESD test on `x` (NaN ignored; indices refer to `x`). Each step removes one value,
    so the loop runs `max_outliers` times over the remaining values (not once per row)."""
    x = np.asarray(x, dtype=float)
    index = np.flatnonzero(~np.isnan(x))
    values = x[index]
    k = min(max_outliers, values.size - 3)
    if k < 1:
        return EsdResult(np.array([], dtype=int), np.array([]), np.array([]))
    removed, statistic = [], np.full(k, np.nan)
    alive = np.ones(values.size, dtype=bool)
    for step in range(k):
        remaining = values[alive]
        if robust:
            centre, scale = robust_scale(remaining)
        else:
            centre, scale = float(remaining.mean()), float(remaining.std(ddof=1))
        deviation = np.where(alive, np.abs(values - centre), -np.inf)
        worst = int(np.argmax(deviation))
        statistic[step] = deviation[worst] / scale if scale > 0 else (np.inf if deviation[worst] > 0 else 0.0)
        removed.append(worst)
        alive[worst] = False
    critical = critical_values(values.size, k, alpha)
    above = np.flatnonzero(statistic > critical)
    count = int(above[-1]) + 1 if above.size else 0
    return EsdResult(index[np.array(removed[:count], dtype=int)], statistic, critical)


def seasonal_hybrid_esd(x: np.ndarray, period: int | None, *, max_share: float = 0.05,
                        alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """S-H-ESD on `x`: (outlier indices, robust z of every point, expected value of every point, half-width
    of every outlier's expected range, NaN for the other points).

    The residual is `r = x - seasonal - median(x)`; its robust z, `(r - median(r)) / (1.4826 MAD)`, is the
    score. The expected value is `median(x) + seasonal + median(r)`; an outlier's half-width is
    `lambda_i * scale`, with `lambda_i` the critical value of the step that removed it and `scale` the
    `1.4826 MAD` of `r`. An outlier is reported only when its `|z|` exceeds `lambda_i` (the test's statistic
    uses the values left at step i, whose median and MAD move a little as outliers go), so a reported point
    lies outside `expected ± lambda_i * scale`.

    >>> x = np.array([5.0, 5.2, 4.9, 5.1, 5.0, 4.8, 5.3, 5.1, 4.9, 5.0, 5.2, 30.0, 5.1, 4.9, 5.0, 5.1])  # median 5.05
    >>> outliers, z, expected, half = seasonal_hybrid_esd(x, None, max_share=0.1)
    >>> outliers.tolist(), round(float(expected[11]), 2), bool(abs(x[11] - expected[11]) > half[11])
    ([11], 5.05, True)
    """
    x = np.asarray(x, dtype=float)
    centre = float(np.nanmedian(x)) if np.any(~np.isnan(x)) else 0.0
    seasonal = seasonal_component(x - centre, period) if period else np.zeros_like(x)
    residual = x - seasonal - centre
    n = int(np.count_nonzero(~np.isnan(x)))
    result = generalized_esd(residual, int(np.floor(max_share * n)), alpha, robust=True)
    mid, scale = robust_scale(residual)
    z = (residual - mid) / scale if scale > 0 else np.where(np.isnan(residual), np.nan, 0.0)
    critical = np.full(len(x), np.nan)
    critical[result.outliers] = result.critical[:len(result.outliers)]
    outliers = result.outliers[np.abs(z[result.outliers]) > critical[result.outliers]]
    return outliers, z, centre + seasonal + mid, critical * scale
