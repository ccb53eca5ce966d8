"""Difference-in-differences on the unit x period panel with randomisation inference.

Each unit contributes `d = after - before` (its period means); the estimate is `mean(d | treated) -
mean(d | control)`, which equals the interaction coefficient of `y ~ treated + after + treated:after` over the
panel's 2 x units rows. Inference permutes which units are treated (every assignment of the treated count when
there are at most `MAX_EXACT`, else seeded Monte Carlo); the interval inverts the test: the effects `delta`
for which `d - delta * treated` is not rejected at `alpha` (rejected: p <= alpha, `stats.rejects`), over a grid.
With `strata` (a label per unit) only assignments keeping each stratum's treated count are used. With few units
the test cannot reach `alpha` at all (the smallest two-sided p-value, 2 / assignments, is above it) and the
interval is then unbounded: both are said in `details` and the notes.

>>> est = did([1.0, 2.0], [5.0, 7.0], [1.0, 1.0], [1.5, 1.0], alpha=0.05)
>>> est.effect, est.low, est.details["reachable"]
(4.25, None, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .stats import MAX_EXACT, RESAMPLES, Estimate, assignment_weights, rejects, two_sided

__all__ = ["GRID", "did"]

GRID = 801  # effects tried when inverting the test
_CHUNK = 100


def did(treated_before: Any, treated_after: Any, control_before: Any, control_after: Any, *, alpha: float,
        seed: int = 7, max_exact: int = MAX_EXACT, resamples: int = RESAMPLES, strata: Any | None = None) -> Estimate:
    """The difference-in-differences estimate, its randomisation p-value and test-inversion interval; `strata`
    labels the units in the order treated then control."""
    dt = np.asarray(treated_after, float) - np.asarray(treated_before, float)
    dc = np.asarray(control_after, float) - np.asarray(control_before, float)
    d = np.concatenate([dt, dc])
    n, k = d.size, dt.size
    effect = float(dt.mean() - dc.mean())
    masks, exact = assignment_weights(n, k, seed=seed, max_exact=max_exact, resamples=resamples, strata=strata)
    weights = np.where(masks, 1.0 / k, -1.0 / (n - k))  # statistic of a mask: weights @ values
    a = weights @ d  # statistic of each assignment on the observed differences
    p_value = float(two_sided(a, np.asarray(effect), exact))
    observed = np.concatenate([np.ones(k), np.zeros(n - k)])
    b = weights @ observed  # how each assignment weighs the hypothesised effect
    low, high, reachable = _invert(a, b, effect, d, alpha, exact)
    details = {"treated_change": float(dt.mean()), "control_change": float(dc.mean()),
               "assignments": int(masks.shape[0]) if exact else None, "exact": exact,
               "resamples": None if exact else resamples, "seed": None if exact else seed,
               "smallest_p_value": _smallest(b, exact), "reachable": reachable}
    return Estimate(effect, low, high, p_value, details)


def _smallest(b: np.ndarray, exact: bool) -> float:
    """The smallest two-sided p-value any data can give: the share of assignments as extreme as the observed
    one when the effect dominates everything (`b >= 1`), doubled."""
    extreme = int((b >= 1 - 1e-9).sum())
    return float(min(1.0, 2 * extreme / b.size if exact else 2 * (extreme + 1) / (b.size + 1)))


def _invert(a: np.ndarray, b: np.ndarray, effect: float, d: np.ndarray, alpha: float,
            exact: bool) -> tuple[float | None, float | None, bool]:
    """(low, high, reachable): the effects `delta` on a grid around the estimate whose p-value is above
    `alpha` (not rejected), where the statistic of an assignment under `delta` is `a - delta * b` and the observed one
    `effect - delta`. An end is None when the accepted set reaches the grid's edge (unbounded)."""
    if not rejects(_smallest(b, exact), alpha):
        return None, None, False
    span = 4 * max(float(np.ptp(d)), abs(effect), 1e-9)
    grid = np.linspace(effect - span, effect + span, GRID)
    accepted = np.zeros(GRID, dtype=bool)
    for start in range(0, GRID, _CHUNK):
        deltas = grid[start:start + _CHUNK]
        null = a[:, None] - b[:, None] * deltas[None, :]
        accepted[start:start + _CHUNK] = ~rejects(two_sided(null, effect - deltas, exact), alpha)
    if not accepted.any():
        return effect, effect, True
    inside = np.flatnonzero(accepted)
    low = None if inside[0] == 0 else float(grid[inside[0]])
    high = None if inside[-1] == GRID - 1 else float(grid[inside[-1]])
    return low, high, True
