"""Change points in the mean of a series: binary segmentation with a least-squares (mean-shift) cost.

Semantics:

- The cost of a segment is its sum of squared deviations from its mean. Splitting ``x[a:b]`` at `k` gains
  ``cost(a, b) - cost(a, k) - cost(k, b)``; binary segmentation repeatedly takes the split with the largest
  gain anywhere (greedy) while that gain is above the penalty and no more than `max_points` were taken.
- A change point is the index of the first value of the new segment: in ``[0.1, 0.1, 5, 5]`` it is 2.
  Every segment keeps at least `min_size` values.
- Default penalty (BIC for a known noise level): ``2 x ln(n) x sigma²`` where `n` is the length of the whole
  series and sigma is estimated robustly, for each segment being split, from its median absolute first
  difference (``median |x[i+1] - x[i]| / (0.6745 x sqrt 2)``): a step does not inflate it, and a segment
  noisier than the rest (error ratios are noisier when high) is judged by its own noise.
- Noise floor: sigma is at least `min_sigma` (absolute, in the series' units; default 0). A mostly constant
  series (an error ratio that is 0 but for a few blips) has a median difference of 0, so without a floor
  every blip would be a change point; the caller states the smallest noise that is plausible for its unit
  (`engmetrics.incidents.correlate` does). With sigma 0 any split with a positive gain above floating point
  noise (``1e-9 x sum x²`` of the segment) is taken, and a constant segment is never split.
- Fewer than ``2 x min_size`` values: no change point.

The input is a small array fetched from the engine (one series around one incident), so this is numpy.

>>> change_points([0.001] * 120 + [0.05] * 120)
[120]
>>> change_points([1.0] * 10)
[]
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Shift", "change_points", "default_penalty", "shifts"]


@dataclass(frozen=True)
class Shift:
    """A change point `index` and the means of the segments just before and after it."""

    index: int
    before: float
    after: float
    floor: float = 0.0

    @property
    def magnitude(self) -> float:
        """Relative size of the shift in [0, 1]: ``|after - before| / max(|before|, |after|, floor)`` (0 if
        that is 0). The floor keeps a shift between two near-zero levels from scoring as a full change.

        >>> Shift(120, 0.001, 0.05).magnitude
        0.98
        >>> Shift(10, 0.0, 0.001, floor=0.01).magnitude  # 0.001 / 0.01
        0.1
        """
        scale = max(abs(self.before), abs(self.after), self.floor)
        return abs(self.after - self.before) / scale if scale else 0.0


def default_penalty(segment: np.ndarray, n: int, min_sigma: float = 0.0) -> float:
    """``2 ln(n) sigma²`` with sigma from the segment's median absolute first difference, at least
    `min_sigma`, and the penalty floored above rounding noise."""
    sigma = float(np.median(np.abs(np.diff(segment)))) / (0.6745 * math.sqrt(2)) if len(segment) > 1 else 0.0
    sigma = max(sigma, min_sigma)
    return max(2 * math.log(n) * sigma**2, 1e-9 * float(np.sum(segment * segment)))


def _best_split(x: np.ndarray, a: int, b: int, min_size: int) -> tuple[float, int]:
    """The largest gain of splitting ``x[a:b]`` and where (gain -inf when the segment is too short)."""
    n = b - a
    if n < 2 * min_size:
        return -math.inf, -1
    segment = x[a:b]
    cums = np.cumsum(segment - np.median(segment))  # the gain is shift-invariant; a constant run is exactly 0
    total = cums[-1]
    k = np.arange(min_size, n - min_size + 1)
    left = cums[k - 1]
    gain = left**2 / k + (total - left) ** 2 / (n - k) - total**2 / n
    best = int(np.argmax(gain))
    return float(gain[best]), a + int(k[best])


def change_points(values: Sequence[float] | np.ndarray, *, min_size: int = 2, penalty: float | None = None,
                  max_points: int = 10, min_sigma: float = 0.0) -> list[int]:
    """Indices where the mean of `values` shifts, ascending (`penalty` overrides the default one).

    >>> change_points([0.0] * 10 + [0.001] * 2 + [0.0] * 18)
    [10, 12]
    >>> change_points([0.0] * 10 + [0.001] * 2 + [0.0] * 18, min_sigma=0.001)
    []
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2 * max(min_size, 1):
        return []
    heap: list[tuple[float, int, int, int]] = []

    def push(a: int, b: int) -> None:
        gain, k = _best_split(x, a, b, max(min_size, 1))
        if gain > (default_penalty(x[a:b], len(x), min_sigma) if penalty is None else penalty):
            heapq.heappush(heap, (-gain, k, a, b))

    push(0, len(x))
    found: list[int] = []
    while heap and len(found) < max_points:
        _, k, a, b = heapq.heappop(heap)
        found.append(k)
        push(a, k)
        push(k, b)
    return sorted(found)


def shifts(values: Sequence[float] | np.ndarray, *, floor: float = 0.0,
           **options: float | int | None) -> list[Shift]:
    """The change points of `values` (`options` as `change_points`) with the means of their neighbouring
    segments; `floor` is the smallest denominator of their magnitude (see `Shift.magnitude`).

    >>> shifts([1.0, 1.0, 1.0, 4.0, 4.0, 4.0])
    [Shift(index=3, before=1.0, after=4.0, floor=0.0)]
    """
    x = np.asarray(values, dtype=float)
    points = change_points(x, **options)  # type: ignore[arg-type]
    bounds = [0, *points, len(x)]
    return [Shift(k, float(x[bounds[i]:k].mean()), float(x[k:bounds[i + 2]].mean()), floor)
            for i, k in enumerate(points)]
