"""The design checks of an experiment: sample-ratio mismatch and the smallest detectable effect.

- **Sample-ratio mismatch**: a chi-square goodness-of-fit test of the units per arm against the expected share
  of treated units; a p-value below `SRM_ALPHA` (0.01) is a mismatch: the assignment did not follow the design
  (units dropped, or a hand-picked arm). An empty arm is always a mismatch, the most extreme one, whatever the
  p-value (one unit alone in an arm cannot give a small one).
- **Smallest detectable effect** of a two-arm comparison: the effect a two-sided t-test at `alpha` detects with
  probability `power` given `n_treated`, `n_control` and the standard deviation of the unit values, from the
  noncentral t distribution with n - 2 degrees of freedom (statsmodels `TTestIndPower.solve_power` gives the
  same effect in standard deviations).

>>> round(smallest_detectable_effect(1.0, 10, 10, alpha=0.05, power=0.8), 3)
1.325
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as sps

__all__ = ["SRM_ALPHA", "Srm", "sample_ratio_mismatch", "smallest_detectable_effect", "t_detectable_effect"]

SRM_ALPHA = 0.01


@dataclass(frozen=True)
class Srm:
    """The sample-ratio-mismatch check (`p_value` None when it cannot be made)."""

    p_value: float | None
    mismatch: bool
    treated: int
    control: int
    expected_ratio: float | None
    basis: str = "units"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_ratio_mismatch(treated: int, control: int, expected_ratio: float | None) -> Srm:
    """Chi-square goodness of fit of (`treated`, `control`) against `expected_ratio` (share treated).

    >>> sample_ratio_mismatch(30, 70, 0.5).mismatch
    True
    """
    total = treated + control
    if expected_ratio is None or total == 0:
        return Srm(None, False, treated, control, expected_ratio)
    expected = np.array([expected_ratio, 1 - expected_ratio]) * total
    p = float(sps.chisquare([treated, control], f_exp=expected).pvalue)
    return Srm(p, p < SRM_ALPHA or treated == 0 or control == 0, treated, control, expected_ratio)


def smallest_detectable_effect(sd: float | None, n_treated: int, n_control: int, *, alpha: float,
                               power: float) -> float | None:
    """The smallest effect (in the metric's unit) detected with probability `power` (module doc); None without
    a positive standard deviation or with fewer than three units."""
    df = n_treated + n_control - 2
    if sd is None or not sd > 0 or n_treated < 1 or n_control < 1 or df < 1:
        return None
    return float(_noncentrality(df, alpha, power) * sd * np.sqrt(1 / n_treated + 1 / n_control))


def t_detectable_effect(se: float, df: int, *, alpha: float, power: float) -> float | None:
    """The smallest coefficient detected with probability `power` by a two-sided t-test with standard error
    `se` and `df` degrees of freedom (the same noncentral-t rule, for a regression coefficient)."""
    if not se > 0 or df < 1:
        return None
    return float(_noncentrality(df, alpha, power) * se)


def _noncentrality(df: int, alpha: float, power: float) -> float:
    """The noncentrality at which a two-sided t-test (`df`, `alpha`) rejects with probability `power`."""
    crit = sps.t.ppf(1 - alpha / 2, df)

    def shortfall(ncp: float) -> float:
        lower = float(sps.nct.cdf(-crit, df, ncp))  # negligible, and NaN in scipy, far from zero
        return float(sps.nct.sf(crit, df, ncp)) + (0.0 if np.isnan(lower) else lower) - power

    high = 8.0
    while shortfall(high) < 0:  # widen the bracket (few degrees of freedom need a large noncentrality)
        high *= 2
    return float(optimize.brentq(shortfall, 0.0, high, xtol=1e-10))
