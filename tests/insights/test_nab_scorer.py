"""NAB scoring with hand-checked numbers, its invariants (hypothesis), and NAB's own scoreboard."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.insights.nab.corpus import DataFile, Profile, load_corpus
from engmetrics.insights.nab.scorer import folder_scores, normalise, perfect_raw, score_file, sigma, sweep

NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"

STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)

# sigma(y) = 2 / (1 + e^(5y)) - 1, by hand:
SIGMA_START = 0.986614  # y = -1:    e^-5 = 0.0067379,  2 / 1.0067379 = 1.986614
SIGMA_MID = 0.848284  # y = -0.5:    e^-2.5 = 0.0820850, 2 / 1.0820850 = 1.848284
SIGMA_09 = 0.978026  # y = -0.9:     e^-4.5 = 0.0111090, 2 / 1.0111090 = 1.978026
SIGMA_AFTER = -0.244919  # y = 0.1:  e^0.5 = 1.6487213,  2 / 2.6487213 = 0.755081
SIGMA_NINTH = -0.270847  # y = 1/9:  e^(5/9) = 1.648721 x e^0.055556 (1.057128) = 1.742910, 2 / 2.742910 = 0.729153
SIGMA_ONE = -0.986614  # y = 1:      e^5 = 148.41316, 2 / 149.41316 = 0.013386
# in-window weights are sigma(y) / sigma(-1), so the window start earns exactly A_TP:
WEIGHT_MID = 0.859793  # 0.848284 / 0.986614: 0.986614 x 0.86 = 0.848488, (0.848488 - 0.848284) / 0.986614 = 0.000207
WEIGHT_09 = 0.991295  # 0.978026 / 0.986614: 0.986614 x 0.9913 = 0.978031, 0.000005 / 0.986614 = 0.0000051


def one_window(name: str = "folder/a.csv", length: int = 100) -> DataFile:
    """100 rows (probation floor(0.15 * 100) = 15 rows), one window on rows 40..49 (10 rows)."""
    stamps = np.arange(length).astype("datetime64[m]").astype("datetime64[s]")
    return DataFile(name, stamps, np.zeros(length), np.array([[40, 49]]))


def detections(*rows: int, length: int = 100) -> np.ndarray:
    scores = np.zeros(length)
    scores[list(rows)] = 1.0
    return scores


def test_sigma_by_hand() -> None:
    assert sigma(np.array([-1.0, -0.5, -0.9, 0.0, 0.1, 1 / 9, 1.0])) == pytest.approx(
        [SIGMA_START, SIGMA_MID, SIGMA_09, 0.0, SIGMA_AFTER, SIGMA_NINTH, SIGMA_ONE], abs=1e-6)


def test_sigma_is_clamped_to_minus_one_from_three_on() -> None:
    # y = 2.9: e^14.5 = 1,982,759, 2 / 1,982,760 = 1.0087e-6 -> -0.9999990 (not clamped);
    # y = 3 and beyond: exactly -1 (the curve alone would give 2 / (1 + e^15) - 1 = -0.99999939)
    below, at, beyond = sigma(np.array([2.9, 3.0, 50.0]))
    assert below == pytest.approx(-0.9999990, abs=1e-7) and below != -1.0
    assert (at, beyond) == (-1.0, -1.0)


def test_detection_at_window_start_scores_exactly_a_tp() -> None:
    # row 40: y = -(49 - 40 + 1) / 10 = -1 -> A_TP sigma(-1) / sigma(-1) = 1; null -1, perfect 1 -> 100
    result = score_file(detections(40), one_window(), STANDARD, 0.5)
    assert result.raw == pytest.approx(1.0, abs=1e-12)
    assert (result.detected, result.missed, result.false_positives) == (1, 0, 0)
    assert perfect_raw([one_window(), one_window("f/b.csv")], STANDARD) == 2.0
    assert normalise(result.raw, [one_window()], STANDARD) == pytest.approx(100.0)


def test_detection_mid_window() -> None:
    # row 45: y = -(49 - 45 + 1) / 10 = -0.5 -> 0.848284 / 0.986614 = 0.859793;
    # normalised 100 (0.859793 + 1) / (1 + 1) = 92.9896
    result = score_file(detections(45), one_window(), STANDARD, 0.5)
    assert result.raw == pytest.approx(WEIGHT_MID, abs=1e-6)
    assert normalise(result.raw, [one_window()], STANDARD) == pytest.approx(92.9896, abs=1e-3)


def test_only_the_first_detection_in_a_window_counts() -> None:
    # rows 41 and 45: row 41 at y = -0.9 scores 0.978026 / 0.986614 = 0.991295; row 45 adds nothing
    assert score_file(detections(41, 45), one_window(), STANDARD, 0.5).raw == pytest.approx(WEIGHT_09, abs=1e-6)


def test_false_positive_just_after_the_window() -> None:
    # row 50: y = (50 - 49) / (10 - 1) = 1/9 -> 0.11 x -0.270847 = -0.029793; the window is missed: -1
    result = score_file(detections(50), one_window(), STANDARD, 0.5)
    assert result.raw == pytest.approx(-1.0 + 0.11 * SIGMA_NINTH, abs=1e-6)
    assert (result.detected, result.missed, result.false_positives) == (0, 1, 1)


def test_false_positive_far_after_the_window_costs_exactly_a_fp() -> None:
    # row 76: y = (76 - 49) / 9 = 3 -> sigma clamped to -1: -0.11 exactly; row 75: y = 26 / 9 = 2.889,
    # e^14.444 = e^14 (1,202,604) x e^0.4444 (1.559623) = 1,875,609, sigma = -1 + 2 / 1,875,610 = -0.9999989,
    # costs 0.11 x 0.9999989 = 0.1099999 (the window is missed either way: -1)
    assert score_file(detections(76), one_window(), STANDARD, 0.5).raw == -1.11
    near = score_file(detections(75), one_window(), STANDARD, 0.5).raw
    assert near == pytest.approx(-1.0 - 0.1099999, abs=1e-7) and near > -1.11


def test_false_positive_after_short_windows() -> None:
    # a 2-row window on rows 40..41: row 42 sits at y = (42 - 41) / (2 - 1) = 1 -> 0.11 x -0.986614 = -0.108527;
    # row 40 detects the window: +1
    two = DataFile("f/a.csv", one_window().timestamps, np.zeros(100), np.array([[40, 41]]))
    assert score_file(detections(40, 42), two, STANDARD, 0.5).raw == pytest.approx(1.0 + 0.11 * SIGMA_ONE, abs=1e-6)
    # a 1-row window (L - 1 = 0): every row after it is far after it and costs A_FP
    single = DataFile("f/a.csv", one_window().timestamps, np.zeros(100), np.array([[40, 40]]))
    assert score_file(detections(40, 41), single, STANDARD, 0.5).raw == pytest.approx(1.0 - 0.11, abs=1e-12)


def test_false_positive_before_any_window_costs_a_fp() -> None:
    # row 20 precedes every window: -0.11; row 40 opens the window: +1
    assert score_file(detections(20, 40), one_window(), STANDARD, 0.5).raw == pytest.approx(0.89, abs=1e-12)


def test_missed_window_and_probation() -> None:
    # row 10 lies in the probationary period (rows 0..14): ignored; the window is missed: -A_FN
    assert score_file(detections(10), one_window(), STANDARD, 0.5).raw == -1.0
    assert score_file(detections(10), one_window(), LOW_FN, 0.5).raw == -2.0
    assert normalise(-1.0, [one_window()], STANDARD) == 0.0


def test_sweep_picks_the_best_threshold() -> None:
    # row 45 scores 0.9 (in the window: 0.859793), row 80 scores 0.95 (y = 31 / 9 = 3.44 >= 3: -0.11).
    # At 0.95 only the FP fires: -1 - 0.11 = -1.11; at 0.9 both fire: 0.859793 - 0.11 = 0.749793; at 0
    # every scored row fires: rows 15..39 alone cost 25 x 0.11 = 2.75, so at most 1 - 2.75 < 0.749793.
    # Normalised: 100 (0.749793 + 1) / 2 = 87.4896
    scores = np.zeros(100)
    scores[45], scores[80] = 0.9, 0.95
    best = sweep([scores], [one_window()], STANDARD)
    assert best.threshold == 0.9
    assert best.raw == pytest.approx(WEIGHT_MID - 0.11, abs=1e-6)
    assert best.normalised == pytest.approx(87.4896, abs=1e-3)


def test_null_and_perfect_detectors_on_a_small_corpus() -> None:
    files = [one_window("f/a.csv"), one_window("f/b.csv"), one_window("g/c.csv")]
    never = [np.zeros(100)] * 3
    assert sweep(never, files, STANDARD).normalised == 0.0
    perfect = [detections(40)] * 3
    assert sweep(perfect, files, STANDARD).normalised == pytest.approx(100.0)
    per_folder = folder_scores(perfect, files, STANDARD, 0.5)
    assert per_folder["f"] == pytest.approx((2.0, 100.0), abs=1e-9)


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


# NAB's published scoreboard (README of numenta/NAB), standard profile, and the raw scores that the
# corpus's config/thresholds.json holds for the same detectors. 116 windows: null -116 (-232 low FN),
# perfect 116, so normalised = 100 (raw + 116) / 232 (low FN: 100 (raw + 232) / 348), by hand:
PUBLISHED_STANDARD = {
    "ARTime": 74.9,  # raw 57.661:    173.661 / 232 = 74.85
    "contextOSE": 69.9,  # 46.167:    162.167 / 232 = 69.90
    "earthgeckoSkyline": 58.2,  # 19.025: 135.025 / 232 = 58.20
    "relativeEntropy": 54.6,  # 10.771: 126.771 / 232 = 54.64
    "randomCutForest": 51.7,  # 3.984:  119.984 / 232 = 51.72
    "skyline": 35.7,  # -33.206:       82.794 / 232 = 35.69
    "bayesChangePt": 17.7,  # -74.903:  41.097 / 232 = 17.71
    "expose": 16.4,  # -77.867:        38.133 / 232 = 16.44
}


@pytest.mark.skipif(not NAB.is_dir(), reason=f"the NAB corpus is not at {NAB} (../shared/data/nab beside the repo)")
def test_thresholds_json_normalises_to_the_published_scoreboard() -> None:
    corpus = load_corpus(NAB)
    raw = json.loads((NAB / "config" / "thresholds.json").read_text())

    def normalised(detector: str, profile: str) -> float:
        value = normalise(raw[detector][profile]["score"], corpus.files, corpus.profiles[profile])
        assert value is not None
        return value

    for detector, published in PUBLISHED_STANDARD.items():
        assert round(normalised(detector, "standard"), 1) == published, detector
    # Relative Entropy's other profiles: low FP (-5.572 + 116) / 232 = 47.60 (published 47.6),
    # low FN (-27.229 + 232) / 348 = 58.84 (published 58.8)
    assert round(normalised("relativeEntropy", "reward_low_FP_rate"), 1) == 47.6
    assert round(normalised("relativeEntropy", "reward_low_FN_rate"), 1) == 58.8
    # Numenta HTM is published as a range over runs, 70.5-69.7: raw 46.634 gives 162.634 / 232 = 70.10
    assert 69.7 <= normalised("numenta", "standard") <= 70.5
    assert normalised("null", "standard") == 0.0
