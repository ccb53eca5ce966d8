"""Percentiles of small samples that already came out of the engine (a group's durations, a backtest's
detection delays): one definition for the whole package.

Linear interpolation between closest ranks, numpy's default (`numpy.quantile(..., method="linear")`,
Hyndman and Fan type 7): for sorted values x_0..x_{n-1}, the q-th percentile is at rank h = (n - 1) q,
x_floor(h) + (h - floor(h)) (x_ceil(h) - x_floor(h)). No values: None.

>>> percentile([600.0, 1200.0, 1800.0, 2400.0, 6000.0], 0.9)  # h = 3.6: 2400 + 0.6 x 3600
4560.0
>>> percentile([], 0.5) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["percentile"]


def percentile(values: np.ndarray | Sequence[float], q: float) -> float | None:
    """The q-th percentile (0 <= q <= 1) of `values` by linear interpolation; None for no values."""
    return float(np.quantile(values, q, method="linear")) if len(values) else None
