"""The statistics of the CSAT analysis, on the small tables `engmetrics.insights.csat_data` returns.

- `correlation`: Pearson r with a Fisher-z interval (`tanh(atanh(r) +- z / sqrt(n - 3))`) and Spearman rho.
- `ols`: least squares with classical standard errors, t-based intervals and two-sided p-values (the same
  numbers as statsmodels' `OLS(...).fit()`).
- `holm`: Holm's step-down adjustment of p-values (family-wise error rate).

>>> c = correlation([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 5.0, 4.0, 5.0])
>>> round(c.pearson, 4), round(c.spearman, 4), c.n
(0.7746, 0.7379, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Coefficient", "Correlation", "Fit", "correlation", "holm", "ols"]


@dataclass(frozen=True)
class Correlation:
    pearson: float
    pearson_interval: tuple[float, float]
    spearman: float
    n: int


@dataclass(frozen=True)
class Coefficient:
    term: str
    estimate: float
    interval: tuple[float, float]
    p_value: float


@dataclass(frozen=True)
class Fit:
    coefficients: list[Coefficient]
    r_squared: float
    n: int


def correlation(x: np.ndarray | list[float], y: np.ndarray | list[float], *, level: float = 0.95) -> Correlation | None:
    """Pearson (with its Fisher-z interval at `level`) and Spearman correlation of paired samples; None with
    fewer than 4 pairs (the interval needs n > 3) or when either sample is constant (or varies too little for
    floating point)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(a)
    if n < 4 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):  # spreads too small for floating point: no answer
        r = float(np.clip(np.corrcoef(a, b)[0, 1], -1.0, 1.0))
    if not np.isfinite(r):
        return None
    half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(n - 3)
    rho = float(stats.spearmanr(a, b).statistic)
    if abs(r) == 1.0:  # a perfect line: atanh is infinite, the interval is the point
        return Correlation(r, (r, r), rho, n)
    z = np.arctanh(r)
    return Correlation(r, (float(np.tanh(z - half)), float(np.tanh(z + half))), rho, n)


def ols(y: np.ndarray, x: np.ndarray, terms: list[str], *, level: float = 0.95) -> Fit | None:
    """Least squares of `y` on the columns of `x` (include an intercept column yourself), named `terms`.

    None when the design is rank deficient or leaves no residual degrees of freedom.
    """
    n, k = x.shape
    if n <= k or np.linalg.matrix_rank(x) < k:
        return None
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    df = n - k
    sigma2 = float(resid @ resid) / df
    se = np.sqrt(np.diag(xtx_inv) * sigma2)
    t = np.divide(beta, se, out=np.full(k, np.inf), where=se > 0)
    p = 2 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(0.5 + level / 2, df) * se
    centred = y - y.mean()
    sst = float(centred @ centred)
    r2 = 1 - float(resid @ resid) / sst if sst > 0 else 0.0
    coefficients = [Coefficient(term, float(b), (float(b - h), float(b + h)), float(pv))
                    for term, b, h, pv in zip(terms, beta, half, p, strict=True)]
    return Fit(coefficients, r2, n)


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm-adjusted p-values, in the input order.

    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out
