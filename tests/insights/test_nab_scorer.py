"""NAB scoring with hand-checked numbers, and its invariants (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.insights.nab.corpus import DataFile, Profile
from engmetrics.insights.nab.scorer import folder_scores, normalise, score_file, sigma, sweep

STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)

# sigma(y) = 2 / (1 + e^(5y)) - 1, by hand:
SIGMA_START = 0.986614  # y = -1:   e^-5 = 0.0067379,  2 / 1.0067379 = 1.986614
SIGMA_MID = 0.848284  # y = -0.5:   e^-2.5 = 0.0820850, 2 / 1.0820850 = 1.848284
SIGMA_09 = 0.978026  # y = -0.9:    e^-4.5 = 0.0111090, 2 / 1.0111090 = 1.978026
SIGMA_AFTER = -0.244919  # y = 0.1: e^0.5 = 1.6487213,  2 / 2.6487213 = 0.755081


def one_window(name: str = "folder/a.csv", length: int = 100) -> DataFile:
    """100 rows (probation floor(0.15 * 100) = 15 rows), one window on rows 40..49 (10 rows)."""
    stamps = np.arange(length).astype("datetime64[m]").astype("datetime64[s]")
    return DataFile(name, stamps, np.zeros(length), np.array([[40, 49]]))


def detections(*rows: int, length: int = 100) -> np.ndarray:
    scores = np.zeros(length)
    scores[list(rows)] = 1.0
    return scores


def test_sigma_by_hand() -> None:
    assert sigma(np.array([-1.0, -0.5, -0.9, 0.0, 0.1])) == pytest.approx(
        [SIGMA_START, SIGMA_MID, SIGMA_09, 0.0, SIGMA_AFTER], abs=1e-6)


def test_detection_at_window_start_is_perfect() -> None:
    # row 40: y = -(49 - 40 + 1) / 10 = -1 -> A_TP sigma(-1) = 0.986614; null -1, perfect 0.986614 -> 100
    result = score_file(detections(40), one_window(), STANDARD, 0.5)
    assert result.raw == pytest.approx(SIGMA_START, abs=1e-6)
    assert (result.detected, result.missed, result.false_positives) == (1, 0, 0)
    assert normalise(result.raw, [one_window()], STANDARD) == pytest.approx(100.0)


def test_detection_mid_window() -> None:
    # row 45: y = -(49 - 45 + 1) / 10 = -0.5 -> 0.848284; normalised 100 (0.848284 + 1) / 1.986614 = 93.0370
    result = score_file(detections(45), one_window(), STANDARD, 0.5)
    assert result.raw == pytest.approx(SIGMA_MID, abs=1e-6)
    assert normalise(result.raw, [one_window()], STANDARD) == pytest.approx(93.0370, abs=1e-3)


def test_only_the_first_detection_in_a_window_counts() -> None:
    # rows 41 and 45: row 41 at y = -0.9 scores 0.978026; row 45 adds nothing
    assert score_file(detections(41, 45), one_window(), STANDARD, 0.5).raw == pytest.approx(SIGMA_09, abs=1e-6)


def test_false_positive_just_after_the_window() -> None:
    # row 50: y = (50 - 49) / 10 = 0.1 -> 0.11 * -0.244919 = -0.026941; the window is missed: -1
    result = score_file(detections(50), one_window(), STANDARD, 0.5)
    assert result.raw == pytest.approx(-1.0 + 0.11 * SIGMA_AFTER, abs=1e-6)
    assert (result.detected, result.missed, result.false_positives) == (0, 1, 1)


def test_false_positive_before_any_window_costs_a_fp() -> None:
    # row 20 precedes every window: -0.11; row 40 opens the window: +0.986614
    assert score_file(detections(20, 40), one_window(), STANDARD, 0.5).raw == pytest.approx(SIGMA_START - 0.11,
                                                                                            abs=1e-6)


def test_missed_window_and_probation() -> None:
    # row 10 lies in the probationary period (rows 0..14): ignored; the window is missed: -A_FN
    assert score_file(detections(10), one_window(), STANDARD, 0.5).raw == -1.0
    assert score_file(detections(10), one_window(), LOW_FN, 0.5).raw == -2.0
    assert normalise(-1.0, [one_window()], STANDARD) == 0.0


def test_sweep_picks_the_best_threshold() -> None:
    # row 45 scores 0.9 (in the window: 0.848284), row 80 scores 0.95 (y = 31 / 10 = 3.1: 0.11 sigma(3.1)
    # = 0.11 * -0.9999996 = -0.11). At 0.95 only the FP fires: -1 - 0.11 = -1.11; at 0.9 both fire:
    # 0.848284 - 0.11 = 0.738284; at 0 every scored row fires: rows 15..39 alone cost 25 * 0.11 = 2.75,
    # so at most 0.986614 - 2.75 < 0.738284.
    scores = np.zeros(100)
    scores[45], scores[80] = 0.9, 0.95
    best = sweep([scores], [one_window()], STANDARD)
    assert best.threshold == 0.9
    assert best.raw == pytest.approx(SIGMA_MID - 0.11, abs=1e-6)
    assert best.normalised == pytest.approx(100 * (SIGMA_MID - 0.11 + 1) / (SIGMA_START + 1), abs=1e-4)


def test_null_and_perfect_detectors_on_a_small_corpus() -> None:
    files = [one_window("f/a.csv"), one_window("f/b.csv"), one_window("g/c.csv")]
    never = [np.zeros(100)] * 3
    assert sweep(never, files, STANDARD).normalised == 0.0
    perfect = [detections(40)] * 3
    assert sweep(perfect, files, STANDARD).normalised == pytest.approx(100.0)
    per_folder = folder_scores(perfect, files, STANDARD, 0.5)
    assert per_folder["f"] == pytest.approx((2 * SIGMA_START, 100.0), abs=1e-5)


def test_a_folder_without_windows_has_no_normalised_score() -> None:
    stamps = np.arange(100).astype("datetime64[s]")
    quiet = DataFile("none/a.csv", stamps, np.zeros(100), np.zeros((0, 2), dtype=np.int64))
    raw, normalised = folder_scores([detections(20, 60)], [quiet], STANDARD, 0.5)["none"]
    assert (raw, normalised) == (pytest.approx(-0.22), None)


@st.composite
def corpora(draw: st.DrawFn) -> tuple[list[DataFile], list[np.ndarray]]:
    files, scores = [], []
    for number in range(draw(st.integers(1, 3))):
        length = draw(st.integers(20, 80))
        cuts = sorted(draw(st.lists(st.integers(0, length - 1), max_size=6, unique=True)))
        windows = np.array(cuts[: len(cuts) // 2 * 2], dtype=np.int64).reshape(-1, 2)
        stamps = np.arange(length).astype("datetime64[s]")
        files.append(DataFile(f"d{number % 2}/f{number}.csv", stamps, np.zeros(length), windows))
        scores.append(np.array(draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
                                              min_size=length, max_size=length))))
    return files, scores


@settings(max_examples=150, deadline=None)
@given(corpora())
def test_sweep_is_optimal_and_bounded(case: tuple[list[DataFile], list[np.ndarray]]) -> None:
    files, scores = case
    best = sweep(scores, files, STANDARD)
    # never firing is always possible: the null detector scores 0
    never = sum(score_file(s, f, STANDARD, math.inf).raw for s, f in zip(scores, files, strict=True))
    if best.normalised is None:
        assert all(len(f.windows) == 0 for f in files)
        return
    assert normalise(never, files, STANDARD) == 0.0
    assert -1e-9 <= best.normalised <= 100.0 + 1e-9
    # the sweep's raw score is the one score_file gives at its threshold, and no threshold does better
    at = sum(score_file(s, f, STANDARD, best.threshold).raw for s, f in zip(scores, files, strict=True))
    if math.isfinite(best.threshold):
        assert best.raw == pytest.approx(at, abs=1e-9)
    for threshold in (0.0, 0.25, 0.5, 0.75, 1.0):
        raw = sum(score_file(s, f, STANDARD, threshold).raw for s, f in zip(scores, files, strict=True))
        assert raw <= best.raw + 1e-9
        assert normalise(raw, files, STANDARD) <= 100.0 + 1e-9
