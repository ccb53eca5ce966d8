"""Two-arm comparisons of per-unit values: Welch's t-test, the permutation test and CUPED (as ANCOVA). Pure
numpy/scipy on small arrays (one value per unit).

One rule decides everywhere: a test rejects when its p-value is at most alpha (`rejects`), the usual convention
for randomisation tests, whose p-values are discrete (2/20 = alpha 0.1 rejects).

>>> est = welch([3.0, 4.0, 5.0], [1.0, 2.0, 3.0], alpha=0.05)
>>> round(est.effect, 3), round(est.p_value, 4)
(2.0, 0.0705)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations, product
from math import comb
from typing import Any

import numpy as np
from scipy import stats as sps

__all__ = ["MAX_EXACT", "Estimate", "Permutation", "assignment_count", "assignment_weights", "cuped",
           "permutation_test", "pooled_sd", "rejects", "two_sided", "welch"]

MAX_EXACT = 20_000  # list every assignment up to this many; beyond, Monte Carlo
RESAMPLES = 9_999
_P_TOLERANCE = 1e-9  # p-values are ratios of counts: 2 * 1/20 may round just above 0.1


def rejects(p_value: Any, alpha: float) -> Any:
    """Whether a two-sided p-value rejects at `alpha`: p <= alpha (up to floating-point rounding); a bool for
    one p-value (None never rejects), a boolean array for an array of them.

    >>> rejects(2 / 20, 0.1), rejects(0.1001, 0.1), rejects(None, 0.1)
    (True, False, False)
    """
    if p_value is None:
        return False
    result = np.asarray(p_value) <= alpha * (1 + _P_TOLERANCE)
    return bool(result) if result.ndim == 0 else result


@dataclass(frozen=True)
class Estimate:
    """An effect (treated minus control) with its two-sided interval at `1 - alpha` and p-value."""

    effect: float
    low: float | None
    high: float | None
    p_value: float | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Permutation:
    """A permutation test's two-sided p-value: `exact` over all `assignments`, else Monte Carlo over
    `resamples` random ones (seed `seed`)."""

    p_value: float
    exact: bool
    assignments: int
    resamples: int
    seed: int | None

    @property
    def smallest_p_value(self) -> float:
        """The smallest two-sided p-value the test can give."""
        return min(1.0, 2 / self.assignments) if self.exact else 2 / (self.resamples + 1)

    def to_dict(self) -> dict[str, Any]:
        return {"p_value": self.p_value, "exact": self.exact, "assignments": self.assignments,
                "resamples": None if self.exact else self.resamples, "seed": None if self.exact else self.seed,
                "smallest_p_value": self.smallest_p_value}


def welch(treated: Any, control: Any, *, alpha: float) -> Estimate:
    """Welch's t-test: effect = mean(treated) - mean(control), interval with the Welch-Satterthwaite degrees
    of freedom. Needs two values per arm. Both arms without spread (beyond floating-point rounding) give the
    difference with a zero-width interval and p 1 (equal) or 0 (different)."""
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    effect = float(t.mean() - c.mean())
    vt, vc = t.var(ddof=1) / t.size, c.var(ddof=1) / c.size
    se = float(np.sqrt(vt + vc))
    if se <= 1e-12 * max(1.0, float(np.abs(t).max()), float(np.abs(c).max())):  # no spread beyond rounding
        return Estimate(effect, effect, effect, 1.0 if effect == 0 else 0.0,
                        {"se": 0.0, "df": None, "t": None})
    df = float((vt + vc) ** 2 / (vt**2 / (t.size - 1) + vc**2 / (c.size - 1)))
    stat = effect / se
    q = float(sps.t.ppf(1 - alpha / 2, df))
    return Estimate(effect, effect - q * se, effect + q * se, float(2 * sps.t.sf(abs(stat), df)),
                    {"se": se, "df": df, "t": stat})


def assignment_count(groups: Any, treated: Any) -> int:
    """How many assignments keep each stratum's treated count: the product over strata of C(units, treated).

    >>> assignment_count(["x", "x", "y", "y"], [True, False, True, False])
    4
    """
    labels, mask = np.asarray(groups), np.asarray(treated, dtype=bool)
    return int(np.prod([comb(int((labels == g).sum()), int(mask[labels == g].sum())) for g in np.unique(labels)],
                       dtype=object))


def assignment_weights(n: int, k: int, *, seed: int, max_exact: int = MAX_EXACT, resamples: int = RESAMPLES,
                       strata: Any | None = None) -> tuple[np.ndarray, bool]:
    """Treatment masks (rows; True = treated) of `k` among `n` units, the first `k` being the observed treated
    ones: every assignment when there are at most `max_exact`, else `resamples` random ones (seeded). With
    `strata` (a label per unit) only assignments that keep each stratum's treated count. Returns (masks, exact)."""
    labels = np.zeros(n, dtype=int) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    observed = np.arange(n) < k
    groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    takes = [int(observed[members].sum()) for members in groups]
    total = assignment_count(labels, observed)
    if total <= max_exact:
        listed = product(*(combinations(m, t) for m, t in zip(groups, takes, strict=True)))
        chosen = np.fromiter((i for picks in listed for pick in picks for i in pick), dtype=int,
                             count=total * k).reshape(total, k)
        masks = np.zeros((total, n), dtype=bool)
        masks[np.arange(total)[:, None], chosen] = True
        return masks, True
    rng = np.random.default_rng(seed)
    masks = np.zeros((resamples, n), dtype=bool)
    for members, take in zip(groups, takes, strict=True):
        order = rng.permuted(np.tile(members, (resamples, 1)), axis=1)
        masks[np.arange(resamples)[:, None], order[:, :take]] = True
    return masks, False


def _differences(masks: np.ndarray, values: np.ndarray) -> np.ndarray:
    """mean(treated) - mean(control) of `values` under every mask (vectorised)."""
    k = masks.sum(axis=1)
    return masks @ values / k - (~masks) @ values / (masks.shape[1] - k)


def two_sided(null: np.ndarray, observed: np.ndarray, exact: bool) -> np.ndarray:
    """Two-sided p-values of `observed` (one per column of `null`, or a scalar) against the null distribution
    in the rows of `null`: twice the smaller tail, at most 1 (as scipy.stats.permutation_test); Monte Carlo
    counts the observed assignment as one of the draws."""
    tolerance = 1e-9 * np.maximum(1.0, np.abs(observed))
    less = (null <= observed + tolerance).sum(axis=0)
    greater = (null >= observed - tolerance).sum(axis=0)
    if exact:
        tails = np.minimum(less, greater) / null.shape[0]
    else:
        tails = (np.minimum(less, greater) + 1) / (null.shape[0] + 1)
    return np.minimum(1.0, 2 * tails)


def permutation_test(treated: Any, control: Any, *, seed: int = 7, max_exact: int = MAX_EXACT,
                     resamples: int = RESAMPLES, strata: Any | None = None) -> Permutation:
    """Permutation test of the difference of means: exact over every assignment of the treated count among all
    units when there are at most `max_exact`, else Monte Carlo over `resamples` seeded assignments. With
    `strata` (a label per unit, treated then control) units are permuted within their stratum only."""
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    values = np.concatenate([t, c])
    masks, exact = assignment_weights(values.size, t.size, seed=seed, max_exact=max_exact, resamples=resamples,
                                      strata=strata)
    null = _differences(masks, values)
    p = float(two_sided(null, np.asarray(t.mean() - c.mean()), exact))
    count = comb(values.size, t.size) if strata is None else assignment_count(strata, np.arange(values.size) < t.size)
    return Permutation(p, exact, count, resamples, seed)


def cuped(treated_after: Any, control_after: Any, treated_before: Any, control_before: Any, *,
          alpha: float) -> Estimate:
    """CUPED as ANCOVA: least squares of each unit's after value `Y` on the arm `T` and its centred before value
    `X - mean X`, `Y ~ 1 + T + (X - mean X)`; the effect is the coefficient of `T`, with its classical standard
    error and Student's t on n - 3 degrees of freedom (theta, the slope of `X`, is estimated from the same data
    and the interval accounts for it). Equivalently the effect is the difference of the arms' adjusted means,
    `Y - theta (X - mean X)`. Without spread in `X` the model drops it (a pooled t-test, n - 2 degrees of
    freedom). Details: theta, the standard error, df and the variance reduction `1 - var(adjusted) / var(Y)`."""
    ya = np.concatenate([np.asarray(treated_after, float), np.asarray(control_after, float)])
    xb = np.concatenate([np.asarray(treated_before, float), np.asarray(control_before, float)])
    nt, n = len(treated_after), ya.size
    arm = (np.arange(n) < nt).astype(float)
    centred = xb - xb.mean()
    columns = [np.ones(n), arm] + ([centred] if np.ptp(xb) > 0 else [])
    design = np.column_stack(columns)
    beta, *_ = np.linalg.lstsq(design, ya, rcond=None)
    residuals = ya - design @ beta
    df = n - design.shape[1]
    sigma2 = float(residuals @ residuals) / df
    se = float(np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1]))
    effect = float(beta[1])
    theta = float(beta[2]) if design.shape[1] == 3 else 0.0
    adjusted = ya - theta * centred
    var_y = ya.var(ddof=1)
    extra = {"se": se, "df": df, "theta": theta, "residual_sd": float(np.sqrt(sigma2)),
             "variance_reduction": float(1 - adjusted.var(ddof=1) / var_y) if var_y > 0 else 0.0,
             "adjusted_treated": adjusted[:nt].tolist(), "adjusted_control": adjusted[nt:].tolist()}
    if se <= 1e-12 * max(1.0, float(np.abs(ya).max())):  # an exact fit: no residual spread beyond rounding
        return Estimate(effect, effect, effect, 1.0 if abs(effect) <= 1e-12 else 0.0, {**extra, "t": None})
    stat = effect / se
    q = float(sps.t.ppf(1 - alpha / 2, df))
    return Estimate(effect, effect - q * se, effect + q * se, float(2 * sps.t.sf(abs(stat), df)),
                    {**extra, "t": stat})


def pooled_sd(treated: Any, control: Any) -> float | None:
    """The pooled within-arm standard deviation (None with fewer than two values in all)."""
    t, c = np.asarray(treated, float), np.asarray(control, float)
    df = t.size + c.size - 2
    if df < 1:
        return None
    ss = ((t - t.mean()) ** 2).sum() if t.size else 0.0
    ss += ((c - c.mean()) ** 2).sum() if c.size else 0.0
    return float(np.sqrt(ss / df))
