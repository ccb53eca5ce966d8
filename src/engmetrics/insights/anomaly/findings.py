"""Findings: runs of flagged points, merged across methods, with a stable id.

Each method yields `Detection`s, runs of consecutive flagged buckets with one direction (a gap ends a run),
peak at the most extreme point. Detections of one *family* on a series (`point`: decompose, esd, counts;
`shift`: changepoint) that overlap or touch are merged into one `Finding`: methods joined with `+` (sorted),
the run's union, the peak, value, expected range and score of the strongest. Scores are z-like for every
method: the robust |z| of the residual (decompose, and S-H-ESD's own residual for esd), the normal quantile of
a count's tail probability, a shift in sigmas. A flagged value lies outside its expected range.

Practical significance: a point or shift is kept only when it also moved enough to matter (`practical`). An
SLI ratio (`ratio=True`) must move by `sli_min_change` and its bad fraction `1 - ratio` change by
`sli_min_bad_change` relative to the smaller of the expected and the seen bad fraction; any other series must
move by `min_relative_change` of its expected level.

`finding_id` is the first 16 hex digits of sha256(`series|family|start_at`), so a rescan finds the same id.
`start_at` is the start of the first bucket, `end_at` the end of the last (exclusive), `peak_at` the start of
the peak bucket; a shift runs from the first bucket at the new level to the end of that level's segment.
`group` is an indicator series' group (null otherwise) and `datasets` the datasets the series reads, kept
for access checks (`engmetrics.insights.marks.visible_findings`).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..config import AnomalySettings
from .changepoints import level_shifts
from .counts import count_anomalies
from .decompose import decompose, periods_for
from .esd import seasonal_hybrid_esd

__all__ = ["Detection", "Finding", "detect", "family", "finding_id", "findings_of", "practical"]

_TINY = 1e-12


@dataclass(frozen=True)
class Detection:
    """One method's run of flagged points (indices into the series, inclusive)."""

    method: str
    start: int
    end: int
    peak: int
    direction: str
    score: float
    value: float
    expected: float
    low: float
    high: float


@dataclass(frozen=True)
class Finding:
    """A row of `_anomaly_findings` (see the module docstring for the fields' meaning)."""

    finding_id: str
    series: str
    source: str
    metric: str | None
    group: str | None
    datasets: tuple[str, ...]
    method: str
    direction: str
    start_at: datetime
    end_at: datetime
    peak_at: datetime | None
    value: float | None
    expected: float | None
    expected_low: float | None
    expected_high: float | None
    score: float
    detected_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def family(method: str) -> str:
    """`shift` for change-point findings, `point` for the rest.

    >>> family("changepoint"), family("decompose+esd")
    ('shift', 'point')
    """
    return "shift" if "changepoint" in method.split("+") else "point"


def finding_id(series: str, method_family: str, start_at: datetime) -> str:
    """The stable id of a finding.

    >>> from datetime import UTC
    >>> finding_id("dataset:deployments", "point", datetime(2026, 3, 2, tzinfo=UTC))
    '4fe09404986d70a7'
    """
    return hashlib.sha256(f"{series}|{method_family}|{start_at.isoformat()}".encode()).hexdigest()[:16]


def practical(values: np.ndarray, expected: np.ndarray, *, ratio: bool, settings: AnomalySettings) -> np.ndarray:
    """Whether each value moved far enough from its expected value to matter (module doc); NaN: False.

    >>> conf = AnomalySettings()
    >>> practical(np.array([0.99781, 0.99]), np.array([0.99851, 0.9995]), ratio=True, settings=conf).tolist()
    [False, True]
    >>> practical(np.array([217.0, 40.0]), np.array([221.0, 22.0]), ratio=False, settings=conf).tolist()
    [False, True]
    """
    with np.errstate(invalid="ignore"):
        change = np.abs(values - expected)
        if not ratio:
            return change >= settings.min_relative_change * np.abs(expected)
        bad, usual = np.clip(1 - values, 0, 1), np.clip(1 - expected, 0, 1)
        relative = change / np.maximum(np.minimum(bad, usual), _TINY)
        return (change >= settings.sli_min_change) & (relative >= settings.sli_min_bad_change)


def _point_runs(method: str, flags: np.ndarray, values: np.ndarray, score: np.ndarray, expected: np.ndarray,
                low: np.ndarray, high: np.ndarray) -> list[Detection]:
    """Runs of consecutive flagged points with the same direction."""
    sign = np.where(flags, np.where(values >= expected, 1, -1), 0)
    edges = np.flatnonzero(np.diff(np.r_[0, sign, 0]))
    runs = []
    for start, stop in itertools.pairwise(edges):
        if sign[start] == 0:
            continue
        peak = int(start + np.nanargmax(score[start:stop]))
        runs.append(Detection(method, int(start), int(stop - 1), peak, "up" if sign[start] > 0 else "down",
                              float(score[peak]), float(values[peak]), float(expected[peak]), float(low[peak]),
                              float(high[peak])))
    return runs


def detect(values: np.ndarray, step: timedelta, *, counts: bool, settings: AnomalySettings,
           ratio: bool = False) -> list[Detection]:
    """Every method's detections on one regular series (NaN = gap). Sparse count series (median below
    `sparse_median`) get the count model, the others decomposition and S-H-ESD; all get change points. Only
    practically significant points and shifts are kept (`practical`; `ratio`: an SLI ratio). Fewer than
    `min_points` known values: nothing."""
    x = np.asarray(values, dtype=float)
    known = ~np.isnan(x)
    if np.count_nonzero(known) < settings.min_points:
        return []
    periods = periods_for(step, len(x))
    period = max(periods, default=None)
    k = settings.threshold
    runs: list[Detection] = []

    def matters(expected: np.ndarray) -> np.ndarray:
        return practical(x, expected, ratio=ratio, settings=settings)

    if counts and float(np.nanmedian(x)) < settings.sparse_median:
        flags, score, expected, low, high = count_anomalies(x, period, alpha=settings.count_alpha)
        runs += _point_runs("counts", flags & matters(expected), x, score, expected, low, high)
    else:
        d = decompose(x, periods)
        flags = (np.abs(np.nan_to_num(d.z)) >= k) & matters(d.expected)
        runs += _point_runs("decompose", flags, x, np.abs(d.z), d.expected, d.expected - k * d.scale,
                            d.expected + k * d.scale)
        outliers, z, expected, half = seasonal_hybrid_esd(x, period, max_share=settings.max_anomaly_share,
                                                          alpha=settings.alpha)
        flags = np.zeros(len(x), dtype=bool)
        flags[outliers] = True
        runs += _point_runs("esd", flags & matters(expected), x, np.abs(z), expected, expected - half,
                            expected + half)
    for s in level_shifts(x, period, penalty=settings.shift_penalty, threshold=settings.shift_threshold,
                          min_size=settings.shift_min_size):
        if practical(np.array([s.value]), np.array([s.expected]), ratio=ratio, settings=settings)[0]:
            runs.append(Detection("changepoint", s.start, s.end, s.start, s.direction, s.score, s.value, s.expected,
                                  s.expected - settings.shift_threshold * s.sigma,
                                  s.expected + settings.shift_threshold * s.sigma))
    return runs


def _finite(value: float) -> float | None:
    """A number JSON can carry (NaN and infinities are None)."""
    return float(value) if np.isfinite(value) else None


def _merge(group: list[Detection]) -> tuple[str, int, int, Detection]:
    best = max(group, key=lambda d: d.score)
    methods = "+".join(sorted({d.method for d in group}))
    return methods, min(d.start for d in group), max(d.end for d in group), best


def findings_of(detections: list[Detection], times: list[datetime], ends: list[datetime], *, series: str,
                source: str, metric: str | None = None, group: str | None = None,
                datasets: Iterable[str] = ()) -> list[Finding]:
    """Findings of one series from its detections (merged per family, see the module docstring), oldest
    first; bucket i is `[times[i], ends[i])`. `group` (an indicator's group) and `datasets` (what the series
    reads) are stored with each finding for access checks."""
    reads = tuple(sorted(set(datasets)))
    out = []
    for fam in ("point", "shift"):
        members = sorted((d for d in detections if family(d.method) == fam), key=lambda d: (d.start, d.end))
        merged: list[list[Detection]] = []
        for d in members:
            if merged and d.start <= max(m.end for m in merged[-1]) + 1 and d.direction == merged[-1][0].direction:
                merged[-1].append(d)
            else:
                merged.append([d])
        for run in merged:
            methods, start, end, best = _merge(run)
            start_at = times[start]
            out.append(Finding(finding_id(series, fam, start_at), series, source, metric, group, reads, methods,
                               best.direction, start_at, ends[end], times[best.peak], _finite(best.value),
                               _finite(best.expected), _finite(best.low), _finite(best.high), round(best.score, 6)))
    return sorted(out, key=lambda f: f.start_at)
