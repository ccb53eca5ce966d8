"""Percentiles, percentile-bootstrap intervals and a power check for small samples of durations.

Everything here runs in numpy on arrays that already came out of the engine (a group's per-incident
durations: a few thousand values at most); nothing here reads a dataset.

**Percentiles.** `engmetrics.quantiles.percentile`: linear interpolation between closest ranks (numpy's
default, Hyndman and Fan type 7). Point estimates and bootstrap statistics (vectorised over resamples
with the same `method="linear"`) use this same definition.

**Bootstrap.** Percentile bootstrap: `rng = numpy.random.default_rng(seed)`, one index matrix
`rng.integers(0, n, size=(B, n))` (row b is resample b, drawn with replacement from the values sorted
ascending, so the result does not depend on the order the engine returned the rows in), the statistic of
every row, and the interval is the (1 - c)/2 and (1 + c)/2 percentiles (same linear definition) of those B
statistics. Defaults: B = 2000, c = 0.95, seed = 0: the same data always gives the same interval. The
interval needs n >= 2 (a single value has no spread to resample); it is None below that. With n below
about 10 the percentile bootstrap is too narrow, so read such intervals as optimistic. Above `LARGE_SAMPLE`
values (where resampling costs B x n work for no gain in accuracy: the binomial count below the 90th percentile
has n q (1 - q) >= 36 there, enough for its normal approximation) the quantile intervals are the
distribution-free order-statistic intervals, ranks n q -/+ z sqrt(n q (1 - q)), and the mean's is the normal
interval mean -/+ z s / sqrt(n).

**Comparing two periods (power check).** The two periods are resampled independently with one generator
(previous period's matrix first, then the current one). The change is median(current) - median(previous);
its interval is the percentile interval of the B differences of resampled medians; the change is *within
noise* when that interval contains 0. The standard error of each period's median is the standard deviation
(ddof = 1) of its B resampled medians, and the minimum detectable effect is
MDE = (z_{1-alpha/2} + z_{power}) x sqrt(se_previous^2 + se_current^2) with z the standard normal quantile
(alpha = 0.05, power = 0.8: 1.95996 + 0.84162 = 2.80158): the smallest change of the median a two-sided
test at level alpha would detect with probability `power` given samples this size and this spread. When either
period has more than `LARGE_SAMPLE` values, each median's standard error is instead the width of its
order-statistic interval (above) / (2 z_{1-alpha/2}), and the change's interval is change -/+ z_{1-alpha/2}
sqrt(se_previous^2 + se_current^2).

>>> bootstrap([1.0]).median is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..quantiles import percentile

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "LARGE_SAMPLE", "BootstrapIntervals", "MedianComparison", "bootstrap",
           "compare_medians"]

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
LARGE_SAMPLE = 400  # above this many values the intervals come from order statistics, not resampling
_BLOCK = 256  # resamples evaluated at once: bounds memory to _BLOCK x n floats

Interval = tuple[float, float]


@dataclass(frozen=True)
class BootstrapIntervals:
    """Percentile-bootstrap intervals of the median, the 90th percentile and the mean (None when n < 2)."""

    median: Interval | None
    p90: Interval | None
    mean: Interval | None


@dataclass(frozen=True)
class MedianComparison:
    """Change of the median from a previous period to the current one (see the module docstring)."""

    n_previous: int
    n_current: int
    previous_p50: float | None
    current_p50: float | None
    change: float | None
    ci95_change: Interval | None
    mde: float | None
    within_noise: bool | None
    detectable: bool | None

    def to_dict(self) -> dict[str, object]:
        return {"n_previous": self.n_previous, "n_current": self.n_current, "previous_p50": self.previous_p50,
                "current_p50": self.current_p50, "change": self.change,
                "ci95_change": list(self.ci95_change) if self.ci95_change else None, "mde": self.mde,
                "within_noise": self.within_noise, "detectable": self.detectable}


def _resampled(values: np.ndarray, rng: np.random.Generator, resamples: int,
               statistics: Callable[[np.ndarray], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`statistics` (named arrays, one value per row) over the rows of one index matrix drawn from `rng`
    (values sorted first)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    index = rng.integers(0, len(ordered), size=(resamples, len(ordered)))
    parts = [statistics(ordered[index[lo:lo + _BLOCK]]) for lo in range(0, resamples, _BLOCK)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _median(sample: np.ndarray) -> dict[str, np.ndarray]:
    return {"median": np.quantile(sample, 0.5, axis=1, method="linear")}


def _summary_statistics(sample: np.ndarray) -> dict[str, np.ndarray]:
    """Median and p90 from one partition of each row (the same values as two separate quantile calls)."""
    median, p90 = np.quantile(sample, [0.5, 0.9], axis=1, method="linear")
    return {"median": median, "p90": p90, "mean": sample.mean(axis=1)}


def _interval(statistics: np.ndarray, confidence: float) -> Interval:
    low, high = np.quantile(statistics, [(1 - confidence) / 2, (1 + confidence) / 2], method="linear")
    return float(low), float(high)


def _rank_interval(ordered: np.ndarray, q: float, z: float) -> Interval:
    """Distribution-free interval of the q-quantile: the order statistics at ranks n q -/+ z sqrt(n q (1 - q))
    (the normal approximation of the binomial count of values below the quantile)."""
    n = len(ordered)
    half = z * np.sqrt(n * q * (1 - q))
    low, high = int(np.floor(n * q - half)), int(np.ceil(n * q + half))
    return float(ordered[max(low, 0)]), float(ordered[min(high, n - 1)])


def _median_se(values: np.ndarray | list[float], z: float) -> float:
    """Standard error of the median from the width of its order-statistic interval at `z`."""
    low, high = _rank_interval(np.sort(np.asarray(values, dtype=float)), 0.5, z)
    return (high - low) / (2 * z)


def _large_sample_intervals(ordered: np.ndarray, confidence: float) -> BootstrapIntervals:
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    half = z * float(np.std(ordered, ddof=1)) / np.sqrt(len(ordered))
    mean = float(ordered.mean())
    return BootstrapIntervals(_rank_interval(ordered, 0.5, z), _rank_interval(ordered, 0.9, z),
                              (mean - half, mean + half))


def bootstrap(values: np.ndarray | list[float], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
              confidence: float = 0.95) -> BootstrapIntervals:
    """Percentile-bootstrap intervals of the median, p90 and mean of `values`.

    >>> b = bootstrap([10.0, 20.0, 30.0, 40.0, 100.0])
    >>> b.median[0] <= 30.0 <= b.median[1]
    True
    """
    if len(values) < 2:
        return BootstrapIntervals(None, None, None)
    if len(values) > LARGE_SAMPLE:
        return _large_sample_intervals(np.sort(np.asarray(values, dtype=float)), confidence)
    stats = _resampled(np.asarray(values), np.random.default_rng(seed), resamples, _summary_statistics)
    return BootstrapIntervals(*(_interval(stats[name], confidence) for name in ("median", "p90", "mean")))


def compare_medians(previous: np.ndarray | list[float], current: np.ndarray | list[float], *,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, alpha: float = 0.05,
                    power: float = 0.8) -> MedianComparison:
    """Change of the median between two samples, its interval, the MDE and whether it is within noise.

    Fields are None when either sample has fewer than 2 values (medians are still given when n = 1).

    >>> c = compare_medians([10.0, 12.0, 11.0, 13.0], [10.5, 12.5, 11.5, 12.0])
    >>> c.within_noise, c.detectable
    (True, False)
    """
    p50s = percentile(previous, 0.5), percentile(current, 0.5)
    change = None if None in p50s else p50s[1] - p50s[0]  # type: ignore[operator]
    if min(len(previous), len(current)) < 2:
        return MedianComparison(len(previous), len(current), *p50s, change, None, None, None, None)
    z_test = NormalDist().inv_cdf(1 - alpha / 2)
    z = z_test + NormalDist().inv_cdf(power)
    if max(len(previous), len(current)) > LARGE_SAMPLE:
        se = float(np.hypot(_median_se(previous, z_test), _median_se(current, z_test)))
        ci, mde = (change - z_test * se, change + z_test * se), z * se  # type: ignore[operator]
    else:
        rng = np.random.default_rng(seed)
        before = _resampled(np.asarray(previous), rng, resamples, _median)["median"]
        after = _resampled(np.asarray(current), rng, resamples, _median)["median"]
        ci = _interval(after - before, 1 - alpha)
        mde = float(z * np.sqrt(np.var(before, ddof=1) + np.var(after, ddof=1)))
    return MedianComparison(len(previous), len(current), *p50s, change, ci, mde,
                            within_noise=ci[0] <= 0 <= ci[1], detectable=abs(change) >= mde)  # type: ignore[arg-type]
