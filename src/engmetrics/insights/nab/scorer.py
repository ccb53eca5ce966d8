"""NAB scoring, written from NAB's published description: Lavin & Ahmad (2015), "Evaluating Real-time Anomaly
Detection Algorithms - the Numenta Anomaly Benchmark", the NAB whitepaper and the scoring notes of NAB's
documentation (docs/nab.md lists what is taken from where).

Per data file, a detection is a row (after the probationary period) whose anomaly score is at or above the
threshold. Each row carries a weight under a cost profile (A_TP, A_FP, A_FN):

- inside a window [s, e] (length L = e - s + 1) row i sits at y = -(e - i + 1) / L, so y = -1 at the window
  start and y -> 0 at its end; the window's first detection scores A_TP sigma(y) / sigma(-1) (exactly A_TP
  at the window start), later ones nothing;
- outside windows, after a window ending at e of length L, y = (i - e) / (L - 1) and a detection scores
  A_FP sigma(y), which is negative: just after a window it costs almost nothing, from y = 3 on exactly
  A_FP; before any window (or in a file without windows) a detection costs A_FP. After a one-row window
  (L - 1 = 0) every row counts as far after it: A_FP;
- a window without a detection costs A_FN.

sigma(y) = 2 / (1 + exp(5 y)) - 1 is the scaled sigmoid (sigma(-1) = 0.98661, sigma(0) = 0), set to -1 from
y = 3 on. The raw score sums over files; normalised = 100 (raw - null) / (perfect - null), where null (never
fires) = -A_FN per window and perfect (one detection at each window start) = A_TP per window.
The threshold is chosen per profile to maximise the corpus's raw score (`sweep`): an exact sweep over every
distinct score value, not a local search.

>>> round(float(sigma(np.array(-1.0))), 5), round(float(sigma(np.array(-0.5))), 5), float(sigma(np.array(3.0)))
(0.98661, 0.84828, -1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import DataFile, Profile

__all__ = ["FAR_AFTER", "SIGMA_START", "FileScore", "SweepResult", "folder_scores", "normalise", "null_raw",
           "perfect_raw", "row_weights", "score_file", "sigma", "sweep"]

FAR_AFTER = 3.0
"""From this position after a window on, a false positive costs the full A_FP (sigma is set to -1)."""


def sigma(y: np.ndarray) -> np.ndarray:
    """The scaled sigmoid 2 / (1 + e^(5y)) - 1: +0.987 at y = -1, 0 at y = 0, exactly -1 from y = 3 on."""
    y = np.asarray(y, dtype=float)
    curve = 2.0 / (1.0 + np.exp(np.minimum(5.0 * y, 700.0))) - 1.0
    return np.where(y >= FAR_AFTER, -1.0, curve)


SIGMA_START = float(sigma(np.array(-1.0)))
"""sigma(-1) = 0.98661: a detection's in-window sigma is divided by it, so the window start earns A_TP."""


def row_weights(length: int, windows: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(window index of each row or -1, weight of a detection on that row) for a file of `length` rows.

    >>> window, weight = row_weights(6, np.array([[1, 2]]), Profile("p", 1.0, 0.5, 1.0))
    >>> window.tolist(), weight.round(4).tolist()
    ([-1, 0, 0, -1, -1, -1], [-0.5, 1.0, 0.8598, -0.4933, -0.5, -0.5])
    """
    index = np.arange(length)
    starts, ends = windows[:, 0], windows[:, 1]
    # the window at or before each row: the last window starting at or before it
    before = np.searchsorted(starts, index, side="right") - 1
    known = before >= 0
    window = np.full(length, -1, dtype=np.int64)
    weight = np.full(length, -profile.fp)
    if len(windows) == 0:
        return window, weight
    clipped = np.maximum(before, 0)
    start, end = starts[clipped], ends[clipped]
    size = (end - start + 1).astype(float)
    inside = known & (index <= end)
    window[inside] = before[inside]
    weight[inside] = profile.tp * sigma(-(end[inside] - index[inside] + 1) / size[inside]) / SIGMA_START
    after = known & ~inside
    span = size[after] - 1.0
    with np.errstate(divide="ignore"):  # a one-row window: (i - e) / 0 = +inf, far after it
        weight[after] = profile.fp * sigma((index[after] - end[after]) / span)
    return window, weight


@dataclass(frozen=True)
class FileScore:
    """One file's raw score at a threshold and what made it up."""

    raw: float
    detected: int  # windows with a detection
    missed: int  # windows without one
    false_positives: int  # detections outside every window


def score_file(scores: np.ndarray, data_file: DataFile, profile: Profile, threshold: float) -> FileScore:
    """The raw NAB score of one file's anomaly scores at `threshold` (rows in the probationary period skipped)."""
    window, weight = row_weights(len(scores), data_file.windows, profile)
    fires = np.asarray(scores) >= threshold
    fires[: data_file.probation] = False
    outside = fires & (window < 0)
    hit = window[fires & (window >= 0)]
    first = np.full(len(data_file.windows), -1.0)  # best (= earliest) detection weight per window, -1 = none
    np.maximum.at(first, hit, weight[fires & (window >= 0)])
    found = first >= 0
    raw = float(weight[outside].sum() + first[found].sum() - profile.fn * (~found).sum())
    return FileScore(raw, int(found.sum()), int((~found).sum()), int(outside.sum()))


def null_raw(files: Sequence[DataFile], profile: Profile) -> float:
    """Raw score of the detector that never fires: -A_FN per window."""
    return -profile.fn * sum(len(f.windows) for f in files)


def perfect_raw(files: Sequence[DataFile], profile: Profile) -> float:
    """Raw score of one detection at each window start: A_TP per window."""
    return profile.tp * sum(len(f.windows) for f in files)


def normalise(raw: float, files: Sequence[DataFile], profile: Profile) -> float | None:
    """100 (raw - null) / (perfect - null); None when the files hold no window (nothing to normalise by)."""
    null, perfect = null_raw(files, profile), perfect_raw(files, profile)
    return None if perfect == null else 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class SweepResult:
    """The best threshold of a profile over a set of files, its raw and normalised score."""

    profile: str
    threshold: float
    raw: float
    normalised: float | None


def _window_gains(order: np.ndarray, window: np.ndarray, weight: np.ndarray, fn: float) -> np.ndarray:
    """Gain in raw score as each window row (in `order`, highest anomaly score first) starts firing.

    A window is worth max(weight of its detected rows) or -A_FN: per window a running maximum along the
    sweep. Adding spread * window id makes one running maximum over all windows (sorted by window, then
    sweep position) restart at each window, since in-window weights lie in (0, A_TP] and spread > A_TP."""
    by_window = np.lexsort((np.arange(len(order)), window[order]))
    rows = order[by_window]
    spread = 1.0 + 2.0 * float(np.abs(weight[rows]).max(initial=0.0))
    lifted = weight[rows] + spread * window[rows]
    best = np.maximum.accumulate(lifted) - spread * window[rows]
    previous = np.empty_like(best)
    previous[1:] = best[:-1]
    new_window = np.ones(len(rows), dtype=bool)
    new_window[1:] = window[rows][1:] != window[rows][:-1]
    previous[new_window] = -fn
    gains = np.empty(len(order))
    gains[by_window] = best - previous
    return gains


def sweep(scores: Sequence[np.ndarray], files: Sequence[DataFile], profile: Profile) -> SweepResult:
    """The threshold maximising the summed raw score of `files` given each file's anomaly `scores`.

    Every distinct score value is a candidate (the score only changes there): rows are sorted by anomaly
    score, each row's gain when it starts firing is summed cumulatively, and the best prefix ending at a
    change of score value wins. Ties go to the higher threshold (fewer detections)."""
    values, windows, weights = [], [], []
    offset = 0
    for file_scores, data_file in zip(scores, files, strict=True):
        window, weight = row_weights(len(file_scores), data_file.windows, profile)
        keep = slice(data_file.probation, None)
        values.append(np.asarray(file_scores, dtype=float)[keep])
        windows.append(np.where(window[keep] >= 0, window[keep] + offset, -1))
        weights.append(weight[keep])
        offset += len(data_file.windows)
    value, window, weight = np.concatenate(values), np.concatenate(windows), np.concatenate(weights)
    null = null_raw(files, profile)
    order = np.argsort(-value, kind="stable")
    gain = weight[order]
    in_window = window[order] >= 0
    gain[in_window] = _window_gains(order[in_window], window, weight, profile.fn)
    total = null + np.cumsum(gain)
    sorted_values = value[order]
    last_of_value = np.ones(len(order), dtype=bool)
    last_of_value[:-1] = sorted_values[1:] != sorted_values[:-1]
    candidates = np.flatnonzero(last_of_value)
    if len(candidates) == 0 or total[candidates].max() <= null:
        return SweepResult(profile.name, math.inf, null, normalise(null, files, profile))
    best = candidates[np.argmax(total[candidates])]
    raw = float(total[best])
    return SweepResult(profile.name, float(sorted_values[best]), raw, normalise(raw, files, profile))


def folder_scores(scores: Sequence[np.ndarray], files: Sequence[DataFile], profile: Profile,
                  threshold: float) -> dict[str, tuple[float, float | None]]:
    """(raw, normalised) per data folder at one threshold (the corpus-wide one NAB chooses per profile).

    A folder without windows (artificialNoAnomaly) has no normalised score: its raw score is minus what
    its false positives cost."""
    raws: dict[str, float] = {}
    members: dict[str, list[DataFile]] = {}
    for file_scores, data_file in zip(scores, files, strict=True):
        raws[data_file.folder] = raws.get(data_file.folder, 0.0) + score_file(file_scores, data_file, profile,
                                                                               threshold).raw
        members.setdefault(data_file.folder, []).append(data_file)
    return {folder: (raw, normalise(raw, members[folder], profile)) for folder, raw in raws.items()}
