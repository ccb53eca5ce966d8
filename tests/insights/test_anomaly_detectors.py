"""The detectors on hand-built series: decomposition, S-H-ESD (Rosner's data, NIST's published numbers),
level shifts, the count model for sparse series, gaps, and how flagged points become findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engmetrics.insights.anomaly import Detection, detect, family, findings_of
from engmetrics.insights.anomaly.changepoints import level_shifts
from engmetrics.insights.anomaly.counts import count_anomalies
from engmetrics.insights.anomaly.decompose import decompose, periods_for, robust_scale, rolling_median
from engmetrics.insights.anomaly.esd import critical_values, generalized_esd, seasonal_hybrid_esd
from engmetrics.insights.anomaly.findings import practical
from engmetrics.insights.config import AnomalySettings

DAY, WEEK = timedelta(days=1), timedelta(days=7)
DEFAULTS = AnomalySettings()
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)

# Rosner (1983), as printed in the NIST/SEMATECH e-Handbook, section 1.3.5.17.3 (54 values).
ROSNER = [-0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56, 1.58, 1.65, 1.69,
          1.70, 1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10, 2.14, 2.15, 2.23, 2.24, 2.26, 2.35,
          2.37, 2.40, 2.47, 2.54, 2.62, 2.64, 2.90, 2.92, 2.92, 2.93, 3.21, 3.26, 3.30, 3.59, 3.68, 4.30, 4.64,
          5.34, 5.42, 6.01]
# NIST's table (3 decimals, truncated): test statistics R_1..R_10 and critical values lambda_1..lambda_10.
NIST_R = [3.118, 2.942, 3.179, 2.810, 2.815, 2.848, 2.279, 2.310, 2.101, 2.067]
NIST_LAMBDA = [3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085]


def weekly(weeks: int, seed: int, shift_at: int | None = None, shift: float = 0.0) -> np.ndarray:
    """Weekdays 10, weekends 2, normal noise sd 1; `shift` added from day `shift_at` on."""
    x = np.tile([10.0, 10, 10, 10, 10, 2, 2], weeks) + np.random.default_rng(seed).normal(0, 1, 7 * weeks)
    if shift_at is not None:
        x[shift_at:] += shift
    return x


def test_rosner_generalized_esd_matches_nist():
    result = generalized_esd(np.array(ROSNER), 10, alpha=0.05, robust=False)
    assert len(ROSNER) == 54
    # R_3 = 3.179 > lambda_3 = 3.143 and R_i < lambda_i for i > 3: three outliers, the three largest values.
    assert sorted(np.array(ROSNER)[result.outliers].tolist()) == [5.34, 5.42, 6.01]
    assert np.allclose(np.floor(result.statistics * 1000) / 1000, NIST_R, atol=0.0011)
    assert np.allclose(result.critical, NIST_LAMBDA, atol=0.0011)


def test_critical_values_against_scipy_t():
    # lambda_1 for n = 20, alpha = 0.05: p = 1 - 0.05 / 40, t with 18 dof; lambda = 19 t / sqrt((18 + t^2) 20)
    t = stats.t.ppf(1 - 0.05 / 40, 18)
    assert critical_values(20, 1, 0.05)[0] == pytest.approx(19 * t / np.sqrt((18 + t**2) * 20))


def test_seasonal_hybrid_esd_finds_planted_outliers():
    x = weekly(8, seed=1)
    x[[10, 33]] = [25.0, -6.0]  # a Thursday at 25 (expected ~10), a Tuesday at -6
    outliers, z, expected, _ = seasonal_hybrid_esd(x, 7, max_share=0.05, alpha=0.05)
    assert sorted(outliers.tolist()) == [10, 33]
    assert z[10] > 10 and z[33] < -10
    assert expected[10] == pytest.approx(10, abs=1) and expected[12] == pytest.approx(2, abs=1)


def test_decompose_weekly_parts_and_scale():
    x = np.tile([10.0, 10, 10, 10, 10, 2, 2], 6)
    x[17] = 30.0  # a weekday: residual 20, every other residual 0, so MAD = 0 and mean AD = 20 / 42
    d = decompose(x, 7)
    assert d.trend[20] == 10 and d.seasonal[5] == -8 and d.seasonal[0] == 0
    assert d.scale == pytest.approx(np.sqrt(np.pi / 2) * 20 / 42)  # the mean-absolute-deviation fallback
    assert np.flatnonzero(np.abs(d.z) > 3).tolist() == [17]


def test_robust_scale_and_rolling_median_by_hand():
    # median 3; |x - 3| = 2, 1, 0, 1, 97 -> MAD 1 -> scale 1.4826
    assert robust_scale(np.array([1.0, 2, 3, 4, 100])) == (3.0, 1.4826)
    assert robust_scale(np.array([5.0, 5, 5])) == (5.0, 0.0)
    # window 3 without the centre: neighbours (nan, 9), (1, 2), (9, nan), (2, 3), (nan, nan)
    assert rolling_median(np.array([1.0, 9, 2, np.nan, 3]), 3)[:4].tolist() == [9.0, 1.5, 9.0, 2.5]


def test_periods_follow_the_step():
    assert periods_for(timedelta(hours=1), 24 * 28) == (24, 168)  # four weeks
    assert periods_for(timedelta(hours=1), 24 * 27) == (24,)
    assert periods_for(DAY, 28) == (7,) and periods_for(DAY, 27) == ()
    assert periods_for(WEEK, 52) == ()


@pytest.mark.parametrize(("shift", "direction"), [(5.0, "up"), (-4.0, "down")])
def test_weekly_seasonal_level_shift_found_within_a_day(shift, direction):
    x = weekly(16, seed=2, shift_at=70, shift=shift)
    runs = detect(x, DAY, counts=False, settings=DEFAULTS)
    shifts = [r for r in runs if r.method == "changepoint"]
    assert len(shifts) == 1
    assert abs(shifts[0].start - 70) <= 1 and shifts[0].direction == direction
    # levels are medians of the deseasonalised series: the size of the shift comes back within noise
    assert shifts[0].value - shifts[0].expected == pytest.approx(shift, abs=1.0)
    # point findings, if any, sit where the rolling trend is still catching up with the shift
    assert all(60 <= r.start <= 80 for r in runs if r.method != "changepoint")


def test_no_finding_on_the_same_series_without_the_shift():
    assert detect(weekly(16, seed=2), DAY, counts=False, settings=DEFAULTS) == []


def test_spike_in_a_sparse_weekly_series_is_exactly_one_finding():
    deploys = np.array([1, 0, 2, 1, 0, 1, 2, 0, 1, 1, 12, 1, 0, 2, 1, 0, 1, 2, 1, 0], dtype=float)
    times = [MONDAY + i * WEEK for i in range(len(deploys))]
    runs = detect(deploys, WEEK, counts=True, settings=DEFAULTS)
    found = findings_of(runs, times, [t + WEEK for t in times], series="dataset:deployments", source="dataset")
    assert [(f.start_at, f.method, f.direction, f.value) for f in found] == [(times[10], "counts", "up", 12.0)]
    # baseline: counts <= their 90th percentile (2) -> 19 weeks, mean 17/19; variance 0.59 < mean: Poisson
    lam = 17 / 19
    assert found[0].expected == pytest.approx(lam)
    assert found[0].score == pytest.approx(stats.norm.isf(stats.poisson.sf(11, lam)), rel=1e-6)


def test_count_model_flags_a_drop_in_a_busy_series():
    x = np.array([20, 22, 19, 21, 20, 18, 23, 20, 0, 21, 19, 20], dtype=float)  # a week without deploys
    flags, _, _, low, high = count_anomalies(x, None, alpha=0.001)
    assert np.flatnonzero(flags).tolist() == [8]
    assert low[8] < 20 < high[8]


def test_gaps_are_not_findings():
    x = weekly(12, seed=5)
    x[[20, 21, 22, 50]] = np.nan  # gauge gaps are NaN
    assert detect(x, DAY, counts=False, settings=DEFAULTS) == []
    sparse = np.zeros(30)
    sparse[[3, 9, 17, 25]] = 1  # counts: a missing bucket is 0, and zeros are the normal state here
    assert detect(sparse, WEEK, counts=True, settings=DEFAULTS) == []


def test_too_few_points_are_not_scanned():
    x = np.r_[np.ones(8), 50.0]
    assert detect(x, DAY, counts=False, settings=DEFAULTS) == []


def test_consecutive_flagged_points_make_one_finding_with_the_extreme_peak():
    x = weekly(10, seed=3)
    x[30:33] += [15.0, 25.0, 18.0]  # a three-day burst on weekdays 30, 31, 32 (Wed..Fri)
    runs = detect(x, DAY, counts=False, settings=DEFAULTS)
    times = [MONDAY + i * DAY for i in range(len(x))]
    found = [f for f in findings_of(runs, times, [t + DAY for t in times], series="s", source="dataset")
             if f.method != "changepoint"]
    assert len(found) == 1
    f = found[0]
    assert (f.start_at, f.end_at, f.peak_at, f.direction) == (times[30], times[33], times[31], "up")
    assert f.value == pytest.approx(x[31]) and f.expected_low < f.expected < f.expected_high < f.value


def test_methods_merge_on_overlap_and_ids_are_stable():
    times = [MONDAY + i * DAY for i in range(10)]
    ends = [t + DAY for t in times]
    a = Detection("decompose", 3, 4, 4, "up", 5.0, 9.0, 2.0, 1.0, 3.0)
    b = Detection("esd", 4, 4, 4, "up", 6.5, 9.0, 2.5, 1.5, 3.5)
    c = Detection("changepoint", 6, 9, 6, "down", 4.0, 1.0, 3.0, 2.0, 4.0)
    found = findings_of([c, b, a], times, ends, series="x", source="dataset")
    assert [(f.method, f.start_at, f.end_at, f.score, f.expected) for f in found] == [
        ("decompose+esd", times[3], ends[4], 6.5, 2.5), ("changepoint", times[6], ends[9], 4.0, 3.0)]
    again = findings_of([a, b, c], times, ends, series="x", source="dataset")
    assert [f.finding_id for f in again] == [f.finding_id for f in found]
    assert family("decompose+esd") == "point" and family("changepoint") == "shift"


def test_level_shift_on_a_flat_series_with_a_step():
    x = np.r_[np.full(15, 3.0), np.full(15, 7.0)] + 0.1 * np.sin(np.arange(30) * 2.3)
    (s,) = level_shifts(x, None)
    assert (s.start, s.end, s.direction) == (15, 29, "up")
    assert s.value == pytest.approx(7.0, abs=0.1) and s.expected == pytest.approx(3.0, abs=0.1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=0, max_size=80),
       st.sampled_from([DAY, WEEK, timedelta(hours=1)]), st.booleans())
def test_detectors_never_raise_and_never_flag_a_gap(raw, step, counts):
    x = np.array([np.nan if v is None else (abs(round(v)) if counts else v) for v in raw], dtype=float)
    runs = detect(x, step, counts=counts, settings=DEFAULTS)
    for r in runs:
        assert 0 <= r.start <= r.peak <= r.end < len(x)
        assert not np.isnan(x[r.peak]) and np.isfinite(r.score) and r.score >= 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=20, max_size=60), st.floats(-1e3, 1e3), st.floats(0.1, 100))
def test_scores_do_not_change_under_shift_and_scale(raw, offset, factor):
    x = np.array(raw)
    a, b = decompose(x, ()), decompose(x * factor + offset, ())
    assert np.allclose(a.z, b.z, atol=1e-6, equal_nan=True)


def test_hourly_series_with_a_daily_season_flags_a_dip_at_night_only_once():
    hours = np.arange(24 * 21)
    x = 0.99 + 0.005 * np.sin(2 * np.pi * hours / 24) + np.random.default_rng(11).normal(0, 0.0005, hours.size)
    # 03:00 on day 15: 0.02 below its usual level (40 noise sds); as a ratio its bad fraction goes from about
    # 1 - (0.99 + 0.005 sin(pi / 4)) = 0.0065 to 0.0265, four times more: over the practical floor
    x[24 * 15 + 3] -= 0.02
    x[24 * 4:24 * 4 + 5] = np.nan  # five hours without events
    runs = detect(x, timedelta(hours=1), counts=False, settings=DEFAULTS, ratio=True)
    assert [(r.start, r.end, r.direction) for r in runs if r.method != "changepoint"] == [
        (24 * 15 + 3, 24 * 15 + 3, "down")] * len([r for r in runs if r.method != "changepoint"])
    assert {r.method for r in runs} == {"decompose", "esd"}


def test_decompose_expected_includes_the_residual_median():
    # x = i^2, no season, window 7: an interior point's neighbours are (i +- 1)^2, (i +- 2)^2, (i +- 3)^2, median
    # ((i-1)^2 + (i+1)^2) / 2 = i^2 + 1, so 14 of the 20 residuals (i = 3..16) are -1 and the residual median is
    # -1: the expected value trend + median(r) is i^2 again, where the trend alone is one above it.
    x = np.arange(20, dtype=float) ** 2
    d = decompose(x, ())
    assert d.trend[10] == 101 and d.centre == -1 and d.expected[10] == 100
    assert np.all(d.z[3:17] == 0)


def _outside(r: Detection) -> bool:
    tol = 1e-9 * max(1.0, abs(r.value))
    return r.value <= r.low + tol or r.value >= r.high - tol


def _burst() -> np.ndarray:
    x = weekly(10, seed=3)
    x[30:33] += [15.0, 25.0, 18.0]
    return x


@pytest.mark.parametrize(("x", "step", "counts", "methods"), [
    (_burst(), DAY, False, {"decompose", "esd"}),
    (np.array([1, 0, 2, 1, 0, 1, 2, 0, 1, 1, 12, 1, 0, 2, 1, 0, 1, 2, 1, 0], dtype=float), WEEK, True, {"counts"}),
    (weekly(16, seed=2, shift_at=70, shift=5.0), DAY, False, {"changepoint"}),
])
def test_a_flagged_value_is_outside_its_expected_range_for_each_method(x, step, counts, methods):
    runs = detect(x, step, counts=counts, settings=DEFAULTS)
    assert methods <= {r.method for r in runs}
    for r in runs:
        assert _outside(r), r
    # the count model's range by hand: baseline 17/19 (Poisson), P(X > high) <= 0.001 -> high = 5; 12 > 5
    if counts:
        (spike,) = runs
        assert (spike.high, spike.value) == (stats.poisson.isf(0.001, 17 / 19), 12.0) and spike.high == 5


def test_esd_range_is_its_critical_value_times_the_scale():
    x = _burst()
    outliers, z, expected, half = seasonal_hybrid_esd(x, 7, max_share=0.05, alpha=0.01)
    # at most floor(0.05 * 70) = 3 outliers, lambda_i from n = 70: the burst's three days, each outside
    assert sorted(outliers.tolist()) == [30, 31, 32]
    scale = np.abs(x - expected)[outliers] / np.abs(z[outliers])  # z = (value - expected) / scale
    assert sorted(half[outliers] / scale) == pytest.approx(sorted(critical_values(70, 3, 0.01)))
    assert np.all(np.abs(x - expected)[outliers] > half[outliers])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(-1e4, 1e4)), min_size=14, max_size=70),
       st.sampled_from([DAY, WEEK]), st.booleans())
def test_every_detection_lies_outside_its_expected_range(raw, step, counts):
    x = np.array([np.nan if v is None else (abs(round(v)) if counts else v) for v in raw], dtype=float)
    for r in detect(x, step, counts=counts, settings=DEFAULTS):
        assert _outside(r), r


def test_practical_floor_by_hand():
    conf = AnomalySettings()
    values = np.array([0.99781, 0.990, 0.9995, 0.9985])
    expected = np.array([0.99851, 0.9985, 0.998, 0.9986])
    # bad fractions: 0.00219 vs 0.00149 (+47 %), 0.010 vs 0.0015 (x 6.7), 0.0005 vs 0.002 (a quarter: 3.0
    # relative to the smaller) and 0.0015 vs 0.0014 (+7 %, and only 0.0001 apart)
    assert practical(values, expected, ratio=True, settings=conf).tolist() == [False, True, True, False]
    # other series: 10 % of the expected level; 214 against 220 is 2.7 %, 150 is 32 %, 0 against 0 is nothing
    assert practical(np.array([214.0, 150.0, 0.0, 3.0]), np.array([220.0, 220.0, 0.0, 0.1]), ratio=False,
                     settings=conf).tolist() == [False, True, True, True]
    off = AnomalySettings(min_relative_change=0, sli_min_change=0, sli_min_bad_change=0)
    assert practical(values, expected, ratio=True, settings=off).all()


def test_a_stable_series_small_step_is_no_finding_without_the_floor_it_is():
    # row counts 220 +- 1 with a day at 214: about 8 MADs off, but 2.7 % of the level, under the 10 % floor
    x = 220.0 + np.tile([0.0, 1, -1, 0, 1, 0, -1], 8)
    x[40] = 214.0
    assert detect(x, DAY, counts=True, settings=DEFAULTS) == []
    loose = AnomalySettings(min_relative_change=0)
    points = [r for r in detect(x, DAY, counts=True, settings=loose) if r.method != "changepoint"]
    assert {(r.start, r.direction) for r in points} == {(40, "down")}
