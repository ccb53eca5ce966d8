"""A causal anomaly detector for the NAB corpus: trailing z-scores of the series and of its day-over-day
difference, a short-run mean, and quiet after a firing.

For each row t (only rows up to t are used):

1. z_t = (x_t - mean) / std over the `history` rows before t (fewer at the start of a file). After a flat
   stretch (std 0 over at least `run` rows) z_t is 0 when x_t equals the mean and +-`FLAT_JUMP` x `fire`
   otherwise: any change of a series that never moved is as large as a deviation gets. While the std is 0
   over fewer rows (the first rows of a file) or undefined (the first row), z_t is 0;
2. the deviation a_t = max(|z_t|, sqrt(k) |mean(z_{t-k+1..t})|): a spike shows in |z_t|, a level shift or a
   change of shape in the mean of the last k z-scores (scaled so both read as standard normal deviates);
3. when timestamps are given and a day holds P >= 50 rows (P = 86,400 s over the median step of the first
   50 rows), the same deviation of the day-over-day difference x_t - x_{t-P}, weighted by `seasonal`, from
   row P on: a daily pattern that changes shape shows there even when the level stays in range. The
   larger of the two deviations counts;
4. a_t >= `fire` is a firing; rows less than `quiet` rows after the previous firing are set to 0, so one
   event gives one detection (NAB counts only the first detection in a window and charges every false
   positive outside one);
5. score = a_t / (a_t + fire), in [0, 1): 0.5 at the firing level, monotone in a_t.

Steps 1-3 are vectorised with cumulative sums; step 4 loops over the firings only. The period needs the
first 50 timestamps but only acts from row P >= 50 on, so no score looks ahead.

>>> import numpy as np
>>> x = np.r_[np.tile([0.0, 1.0], 300), [9.0], np.tile([0.0, 1.0], 50)]
>>> s = anomaly_scores(x)
>>> int(np.argmax(s)), bool(s[600] >= 0.5), bool((s[:600] < 0.5).all())
(600, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FLAT_JUMP", "DetectorSettings", "anomaly_scores", "daily_period", "trailing_mean_std"]

PERIOD_ROWS = 50  # rows whose median step sets the daily period; a shorter period is not used
FLAT_JUMP = 10.0  # z of a change after a flat stretch, in multiples of the firing level
FLAT = 1e-12  # a std (or a difference from the mean) below FLAT x max(|mean|, 1) counts as 0


@dataclass(frozen=True)
class DetectorSettings:
    """Tuned on the NAB `artificial*` and `realAWSCloudwatch` folders only (docs/nab.md)."""

    history: int = 2000  # rows in the trailing mean / std
    run: int = 20  # k: rows in the short-run mean of z
    seasonal: float = 0.5  # weight of the day-over-day deviation (0 = not used)
    fire: float = 6.6  # deviation (in standard deviates) that counts as a firing
    quiet: int = 200  # a firing silences the next quiet - 1 rows (they score 0)


def trailing_mean_std(values: np.ndarray, history: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) std of the `history` values before each row; NaN for the first row.

    >>> m, s = trailing_mean_std(np.array([1.0, 3.0, 5.0, 7.0]), 2)
    >>> m.tolist()[1:], s.tolist()[1:]
    ([1.0, 2.0, 4.0], [0.0, 1.0, 1.0])
    """
    values = np.asarray(values, dtype=float)
    centre = values - (values[0] if len(values) else 0.0)  # shift for precision in the running sums
    first = np.concatenate([[0.0], np.cumsum(centre)])
    second = np.concatenate([[0.0], np.cumsum(centre * centre)])
    row = np.arange(len(values))
    low = np.maximum(row - history, 0)
    count = row - low
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (first[row] - first[low]) / count
        variance = (second[row] - second[low]) / count - mean * mean
    return mean + (values[0] if len(values) else 0.0), np.sqrt(np.maximum(variance, 0.0))


def daily_period(timestamps: np.ndarray) -> int:
    """Rows per day from the median step of the first 50 rows; 0 when that is under 50 rows (or unknown).

    >>> daily_period(np.arange(0, 100 * 300, 300).astype("datetime64[s]"))  # every 5 minutes
    288
    >>> daily_period(np.arange(0, 100 * 3600, 3600).astype("datetime64[s]"))  # hourly: 24 rows, too few
    0
    """
    steps = np.diff(np.asarray(timestamps[:PERIOD_ROWS]).astype("datetime64[s]")).astype(float)
    step = float(np.median(steps)) if len(steps) else 0.0
    period = round(86400 / step) if step > 0 else 0
    return period if period >= PERIOD_ROWS else 0


def _deviation(values: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """a_t of the module docstring (steps 1 and 2)."""
    mean, std = trailing_mean_std(values, settings.history)
    scale = FLAT * np.maximum(np.abs(mean), 1.0)
    difference = values - mean
    stretch = np.minimum(np.arange(len(values)), settings.history) >= settings.run  # rows behind each row
    jump = np.where(stretch & (np.abs(difference) > scale), np.sign(difference) * FLAT_JUMP * settings.fire, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(std > scale, difference / std, jump)
    z = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    running = np.concatenate([[0.0], np.cumsum(z)])
    row = np.arange(1, len(z) + 1)
    low = np.maximum(row - settings.run, 0)
    count = row - low
    short = (running[row] - running[low]) / count
    return np.maximum(np.abs(z), np.sqrt(count) * np.abs(short))


def anomaly_scores(values: np.ndarray, timestamps: np.ndarray | None = None,
                   settings: DetectorSettings | None = None) -> np.ndarray:
    """The anomaly score in [0, 1) of every row of a series; the score of row t depends on rows <= t only.

    Without `timestamps` the day-over-day deviation (step 3) is not used."""
    settings = settings or DetectorSettings()
    values = np.asarray(values, dtype=float)
    deviation = _deviation(values, settings)
    period = 0 if timestamps is None or not settings.seasonal else daily_period(timestamps)
    if period and len(values) > period:
        daily = _deviation(values[period:] - values[:-period], settings)
        deviation[period:] = np.maximum(deviation[period:], settings.seasonal * daily)
    kept: list[int] = []
    for row in np.flatnonzero(deviation >= settings.fire):
        if not kept or row - kept[-1] >= settings.quiet:
            kept.append(int(row))
    firings = np.array(kept, dtype=np.int64)
    quiet = np.zeros(len(values) + 1, dtype=np.int64)  # +1 where a quiet run starts, -1 after it ends
    np.add.at(quiet, firings + 1, 1)
    np.add.at(quiet, np.minimum(firings + settings.quiet, len(values)), -1)
    deviation[np.cumsum(quiet)[:-1] > 0] = 0.0
    return deviation / (deviation + settings.fire)
