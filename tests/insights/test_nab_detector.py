"""The NAB detector: hand-checked firings, causality (hypothesis), and a run over three NAB files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.insights.nab.corpus import load_corpus
from engmetrics.insights.nab.detector import DetectorSettings, anomaly_scores, trailing_mean_std
from engmetrics.insights.nab.scorer import score_file

NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"


def test_trailing_mean_std_by_hand() -> None:
    # rows before row 3 with history 3: 1, 3, 5 -> mean 3, population std sqrt((4 + 0 + 4) / 3) = 1.632993
    mean, std = trailing_mean_std(np.array([1.0, 3.0, 5.0, 7.0]), 3)
    assert np.isnan(mean[0])
    assert mean[1:].tolist() == [1.0, 2.0, 3.0]
    assert std[3] == pytest.approx(1.632993, abs=1e-6)


def test_a_spike_fires_once_then_the_detector_stays_quiet() -> None:
    # 600 rows alternating 0, 1: trailing mean 0.5, std 0.5; the spike 9 reads z = (9 - 0.5) / 0.5 = 17,
    # so a >= 17 and its score a / (a + 6.6) >= 17 / 23.6 = 0.7203; the 199 rows after it score 0
    values = np.r_[np.tile([0.0, 1.0], 300), [9.0], np.tile([0.0, 1.0], 300)]
    scores = anomaly_scores(values)
    assert scores[600] >= 17 / 23.6
    assert (scores[:600] < 0.5).all()
    assert (scores[601:800] == 0.0).all()
    assert (scores[800:] < 0.5).all()


def test_a_level_shift_fires_on_the_run_mean() -> None:
    # alternating 0, 1 then alternating 1.5, 2.5: each row alone is z ~ 2 or 4 (below 6.6); the old rows'
    # z are +-1, so after j shifted rows the run mean is ~3 j / 20, times sqrt(20) = 4.47: it reaches 6.6 at
    # j ~ 10, inside the first run of 20 rows
    values = np.r_[np.tile([0.0, 1.0], 300), np.tile([1.5, 2.5], 50)]
    fired = np.flatnonzero(anomaly_scores(values) >= 0.5)
    assert len(fired) == 1 and 600 <= fired[0] < 620


def test_a_constant_series_never_fires() -> None:
    assert (anomaly_scores(np.full(500, 3.0)) == 0.0).all()


@pytest.mark.parametrize("spike", [6.0, 4.999])
def test_a_spike_on_a_flat_series_fires(spike: float) -> None:
    # 300 rows of 5.0: the trailing std is 0, so row 300 (6.0 above, 4.999 below the mean) reads
    # z = +-10 x 6.6 = +-66, a = 66 and scores 66 / (66 + 6.6) = 10 / 11 = 0.909091; the 199 rows after it
    # are quiet. From row 500 on the history holds the spike among 5.0s: at row 500, p = 1/500 of the rows
    # differ by d, std = d sqrt(p (1 - p)) = 0.0447 d and z = -p d / std = -0.045: nothing more fires
    values = np.r_[np.full(300, 5.0), [spike], np.full(400, 5.0)]
    scores = anomaly_scores(values)
    assert scores[300] == pytest.approx(10 / 11, abs=1e-12)
    assert np.flatnonzero(scores >= 0.5).tolist() == [300]


def test_a_step_after_a_flat_stretch_fires_at_its_own_row() -> None:
    # 300 rows of 2.0 then 2.5: the step's row reads z = 66 (std 0), score 10 / 11. (Without the flat rule
    # row 300 scores 0 and the step shows one row late, at row 301: std = 0.5 sqrt(300) / 301 = 0.0288,
    # z = (2.5 - 2.00166) / 0.0288 = 17.3.)
    values = np.r_[np.full(300, 2.0), np.full(150, 2.5)]
    scores = anomaly_scores(values)
    assert np.flatnonzero(scores >= 0.5)[0] == 300
    assert scores[300] == pytest.approx(10 / 11, abs=1e-12)


def test_a_small_change_in_an_exactly_repeating_day_fires_on_the_day_over_day_term() -> None:
    # 5 identical days of a sine (288 rows a day): x_t - x_{t-288} is exactly 0 from row 288 on, so the
    # day-over-day term sees a flat stretch. Row 1200 gets +0.05 (well inside the sine's range): its daily
    # difference reads 0.5 x 66 = 33, so a = 33 and the score is 33 / (33 + 6.6) = 0.833333. (Without the
    # flat rule that row scores 0.41 and nothing fires after the start-up.)
    values = np.tile(np.sin(np.arange(288) * 2 * np.pi / 288), 5)
    values[1200] += 0.05
    stamps = (np.arange(len(values)) * 300).astype("datetime64[s]")
    scores = anomaly_scores(values, stamps)
    assert scores[1200] == pytest.approx(33 / 39.6, abs=1e-12)
    assert np.flatnonzero(scores[1000:] >= 0.5).tolist() == [200]


def test_a_change_after_fewer_than_run_flat_rows_is_not_a_flat_jump() -> None:
    # 10 rows of 1.0 (fewer than run = 20) then 2.0: start-up, z stays 0 (std 0 over too few rows), so
    # row 10 scores 0 (NAB leaves the first rows of a file unscored as its probationary period)
    scores = anomaly_scores(np.r_[np.full(10, 1.0), [2.0]])
    assert scores[10] == 0.0


def test_a_changed_daily_shape_fires_on_the_day_over_day_term() -> None:
    # hourly-like shape sampled every 5 minutes (288 rows a day): 4 days of a sine, then the sine inverted
    # for 2 days. The level stays in range (|z| <= sqrt(2) = 1.41), but x_t - x_{t-288} jumps from 0 to
    # -2 sin: the day-over-day term fires once the inversion starts; without timestamps nothing fires
    # there. (Both fire in the first days, while the trailing std rests on a few rows: start-up, which NAB
    # leaves unscored as its probationary period.)
    day = np.sin(np.arange(288) * 2 * np.pi / 288)
    values = np.r_[np.tile(day, 4) + 0.01 * np.cos(np.arange(1152) * 0.7), -np.tile(day, 2)]
    stamps = (np.arange(len(values)) * 300).astype("datetime64[s]")
    fired = np.flatnonzero(anomaly_scores(values, stamps)[1100:] >= 0.5) + 1100
    assert len(fired) >= 1 and 1152 <= fired[0] < 1152 + 60
    assert not (anomaly_scores(values)[1100:] >= 0.5).any()


@st.composite
def series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Random values, or flat stretches with steps and spikes (where the std is 0 for a while)."""
    length = draw(st.integers(1, 700))
    if draw(st.booleans()):
        values = np.array(draw(st.lists(st.floats(-1e3, 1e3), min_size=length, max_size=length)))
    else:
        levels = draw(st.lists(st.sampled_from([-2.5, 0.0, 0.1, 7.0]), min_size=1, max_size=6))
        cuts = np.sort(draw(st.lists(st.integers(0, length), min_size=len(levels) - 1,
                                     max_size=len(levels) - 1)))
        values = np.asarray(levels, dtype=float)[np.searchsorted(cuts, np.arange(length), side="right")]
    step = draw(st.sampled_from([60, 300, 3600]))
    jitter = np.array(draw(st.lists(st.integers(0, 30), min_size=length, max_size=length)))
    stamps = (np.arange(length) * step + jitter).astype("datetime64[s]")
    return values, stamps, draw(st.integers(0, length))


@settings(max_examples=60, deadline=None)
@given(series(), st.integers(5, 300), st.integers(1, 30), st.integers(1, 100))
def test_the_detector_is_causal(case: tuple[np.ndarray, np.ndarray, int], history: int, run: int,
                                quiet: int) -> None:
    """Scoring a prefix gives the same scores as scoring the whole series (future rows never change past
    scores, timestamps included), and every score lies in [0, 1)."""
    values, stamps, cut = case
    config = DetectorSettings(history=history, run=run, fire=3.0, quiet=quiet)
    whole = anomaly_scores(values, stamps, config)
    np.testing.assert_array_equal(anomaly_scores(values[:cut], stamps[:cut], config), whole[:cut])
    assert ((whole >= 0.0) & (whole < 1.0)).all()


@pytest.mark.slow
@pytest.mark.skipif(not NAB.is_dir(), reason=f"the NAB corpus is not at {NAB} (../shared/data/nab beside the repo)")
def test_three_nab_files() -> None:
    """Each window of three small tuning files is found early enough to earn at least 0.75 of A_TP (a false
    positive just after a window costs little) at the 0.5 firing level."""
    names = {"artificialWithAnomaly/art_daily_jumpsup.csv", "realAWSCloudwatch/ec2_network_in_257a54.csv",
             "realAWSCloudwatch/elb_request_count_8c0756.csv"}
    corpus = load_corpus(NAB, ["artificialWithAnomaly", "realAWSCloudwatch"])
    files = [f for f in corpus.files if f.name in names]
    assert len(files) == 3
    for data_file in files:
        scores = anomaly_scores(data_file.values, data_file.timestamps)
        result = score_file(scores, data_file, corpus.profiles["standard"], 0.5)
        assert result.missed == 0 and result.false_positives <= 1, data_file.name
        assert result.raw > 0.75 * len(data_file.windows), data_file.name
