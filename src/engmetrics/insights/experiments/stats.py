"""Two-arm comparisons of per-unit values: Welch's t-test, the permutation test and CUPED. Pure numpy/scipy
on small arrays (one value per unit).

>>> est = welch([3.0, 4.0, 5.0], [1.0, 2.0, 3.0], alpha=0.05)
>>> round(est.effect, 3), round(est.p_value, 4)
(2.0, 0.0705)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
from scipy import stats as sps

__all__ = ["MAX_EXACT", "Estimate", "Permutation", "assignment_weights", "cuped", "permutation_test", "pooled_sd",
           "two_sided", "welch"]

MAX_EXACT = 20_000  # list every assignment up to this many; beyond, Monte Carlo
RESAMPLES = 9_999


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


def assignment_weights(n: int, k: int, *, seed: int, max_exact: int = MAX_EXACT,
                       resamples: int = RESAMPLES) -> tuple[np.ndarray, bool]:
    """Treatment masks (rows; True = treated) of `k` among `n` units: every assignment when there are at most
    `max_exact`, else `resamples` random ones (seeded). Returns (masks, exact)."""
    total = comb(n, k)
    if total <= max_exact:
        masks = np.zeros((total, n), dtype=bool)
        chosen = np.fromiter((i for combo in combinations(range(n), k) for i in combo), dtype=int,
                             count=total * k).reshape(total, k)
        masks[np.arange(total)[:, None], chosen] = True
        return masks, True
    rng = np.random.default_rng(seed)
    order = rng.permuted(np.tile(np.arange(n), (resamples, 1)), axis=1)
    masks = np.zeros((resamples, n), dtype=bool)
    masks[np.arange(resamples)[:, None], order[:, :k]] = True
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
                     resamples: int = RESAMPLES) -> Permutation:
    """Permutation test of the difference of means: exact over every assignment of the treated count among all
    units when there are at most `max_exact`, else Monte Carlo over `resamples` seeded assignments."""
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    values = np.concatenate([t, c])
    masks, exact = assignment_weights(values.size, t.size, seed=seed, max_exact=max_exact, resamples=resamples)
    null = _differences(masks, values)
    p = float(two_sided(null, np.asarray(t.mean() - c.mean()), exact))
    return Permutation(p, exact, comb(values.size, t.size), resamples, seed)


def cuped(treated_after: Any, control_after: Any, treated_before: Any, control_before: Any, *,
          alpha: float) -> Estimate:
    """CUPED: each unit's after value `Y` adjusted by its before value `X`, `Y - theta (X - mean X)` with
    `theta = cov(Y, X) / var(X)` over all units, then Welch on the adjusted values. Details: theta and the
    variance reduction `1 - var(adjusted) / var(Y)`."""
    ya = np.concatenate([np.asarray(treated_after, float), np.asarray(control_after, float)])
    xb = np.concatenate([np.asarray(treated_before, float), np.asarray(control_before, float)])
    var_x = xb.var(ddof=1)
    theta = float(np.cov(ya, xb, ddof=1)[0, 1] / var_x) if var_x > 0 else 0.0
    adjusted = ya - theta * (xb - xb.mean())
    nt = len(treated_after)
    est = welch(adjusted[:nt], adjusted[nt:], alpha=alpha)
    var_y = ya.var(ddof=1)
    reduction = float(1 - adjusted.var(ddof=1) / var_y) if var_y > 0 else 0.0
    return Estimate(est.effect, est.low, est.high, est.p_value,
                    {**est.details, "theta": theta, "variance_reduction": reduction,
                     "adjusted_treated": adjusted[:nt].tolist(), "adjusted_control": adjusted[nt:].tolist()})


def pooled_sd(treated: Any, control: Any) -> float | None:
    """The pooled within-arm standard deviation (None with fewer than two values in all)."""
    t, c = np.asarray(treated, float), np.asarray(control, float)
    df = t.size + c.size - 2
    if df < 1:
        return None
    ss = ((t - t.mean()) ** 2).sum() if t.size else 0.0
    ss += ((c - c.mean()) ** 2).sum() if c.size else 0.0
    return float(np.sqrt(ss / df))
