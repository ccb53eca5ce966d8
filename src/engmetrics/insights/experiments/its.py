"""Interrupted time series: segmented regression of one series on time with a level and a slope change at
the intervention,

    y_t = b0 + b1 t + b2 D_t + b3 (t - t0) D_t,   D_t = 1 for the points of the after period,

fitted by least squares with Newey-West (HAC, Bartlett kernel) standard errors, `maxlags = floor(4 (n /
100) ^ (2/9))` and the small-sample factor n / (n - 4); intervals and p-values from Student's t with n - 4
degrees of freedom (statsmodels `OLS(...).fit(cov_type="HAC", cov_kwds={"maxlags": L, "use_correction":
True}, use_t=True)` gives the same). `t` counts buckets from the first one, so a gap (a bucket without data)
keeps its place in time. `D_t` comes from each point's period (`after`), not from `t >= t0`; by default
(`after` not given) it is `t >= t0`.

>>> est = its([0, 1, 2, 3, 4, 5, 6, 7], [1.0, 2.0, 3.0, 4.0, 9.0, 10.0, 11.0, 12.0], 4, alpha=0.05)
>>> round(est.effect, 2), round(est.details["slope_change"], 2)
(4.0, 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from .stats import Estimate

__all__ = ["hac_lags", "its", "newey_west"]


def hac_lags(n: int) -> int:
    """The usual Newey-West lag count for `n` observations: floor(4 (n / 100) ^ (2/9))."""
    return int(np.floor(4 * (n / 100) ** (2 / 9)))


def newey_west(x: np.ndarray, residuals: np.ndarray, lags: int) -> np.ndarray:
    """The HAC covariance of least-squares coefficients (Bartlett weights `1 - l / (lags + 1)`), with the
    small-sample factor n / (n - k)."""
    n, k = x.shape
    scores = x * residuals[:, None]
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        cross = scores[lag:].T @ scores[:-lag]
        meat += (1 - lag / (lags + 1)) * (cross + cross.T)
    bread = np.linalg.inv(x.T @ x)
    return bread @ meat @ bread * n / (n - k)


def its(t: Any, y: Any, t0: int, *, alpha: float, lags: int | None = None, after: Any | None = None) -> Estimate:
    """Segmented regression (module doc): effect = the level change `b2` at `t0`; details hold the slope
    change `b3` with its interval and p-value, the pre-intervention slope, the lags and the degrees of freedom.
    `after` marks the points of the after period (default `t >= t0`). Needs at least two points on each side
    and six in all."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    after = (t >= t0).astype(float) if after is None else np.asarray(after, dtype=bool).astype(float)
    x = np.column_stack([np.ones_like(t), t, after, (t - t0) * after])
    n = t.size
    lags = hac_lags(n) if lags is None else lags
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    cov = newey_west(x, residuals, lags)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    df = n - 4
    q = float(sps.t.ppf(1 - alpha / 2, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * sps.t.sf(np.abs(beta / np.where(se > 0, se, 1)), df), np.where(beta == 0, 1.0, 0.0))
    level, slope = float(beta[2]), float(beta[3])
    details = {
        "level_change": level, "level_change_se": float(se[2]),
        "slope_change": slope, "slope_change_se": float(se[3]),
        "slope_change_interval": [slope - q * float(se[3]), slope + q * float(se[3])],
        "slope_change_p_value": float(p[3]), "slope_before": float(beta[1]), "intercept": float(beta[0]),
        "hac_lags": lags, "df": df, "points": n, "points_after": int(after.sum()),
    }
    return Estimate(level, level - q * float(se[2]), level + q * float(se[2]), float(p[2]), details)
