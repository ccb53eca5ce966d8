"""Welch, permutation and CUPED against scipy / statsmodels on the same data, hand-checked values, and the
coverage of the interval over repeated simulated experiments with a known effect."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engmetrics.insights.experiments.stats import (
    assignment_count,
    assignment_weights,
    cuped,
    permutation_test,
    pooled_sd,
    rejects,
    two_sided,
    welch,
)

TREATED = [12.0, 15.5, 11.0, 14.0, 16.5]
CONTROL = [10.0, 9.5, 12.5, 8.0]


def test_welch_hand_checked():
    # treated 3, 4, 5 (mean 4, var 1); control 1, 2, 3 (mean 2, var 1): se = sqrt(1/3 + 1/3) = 0.8165,
    # t = 2 / 0.8165 = 2.449, df = (2/3)^2 / (2 * (1/3)^2 / 2) = 4; t(0.975, 4) = 2.776 -> 2 +- 2.267.
    est = welch([3.0, 4.0, 5.0], [1.0, 2.0, 3.0], alpha=0.05)
    assert est.effect == 2.0
    assert est.details["df"] == pytest.approx(4.0)
    assert est.low == pytest.approx(2 - 2.7764451 * 0.8164966, abs=1e-6)
    assert est.high == pytest.approx(2 + 2.7764451 * 0.8164966, abs=1e-6)


def test_welch_matches_scipy():
    est = welch(TREATED, CONTROL, alpha=0.1)
    ref = sps.ttest_ind(TREATED, CONTROL, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert est.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert (est.low, est.high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert est.details["df"] == pytest.approx(ref.df, rel=1e-12)


def test_welch_without_spread_gives_zero_width_interval():
    est = welch([2.0, 2.0], [1.0, 1.0], alpha=0.05)
    assert (est.effect, est.low, est.high, est.p_value) == (1.0, 1.0, 1.0, 0.0)


def _diff(x, y, axis):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def test_exact_permutation_matches_scipy():
    # 9 units, 5 treated: C(9, 5) = 126 assignments, all listed.
    perm = permutation_test(TREATED, CONTROL)
    ref = sps.permutation_test((TREATED, CONTROL), _diff, permutation_type="independent", vectorized=True,
                               n_resamples=10_000, alternative="two-sided")
    assert perm.exact and perm.assignments == 126
    assert perm.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_permutation_hand_checked():
    # treated {3, 4}, control {1, 2}: 6 assignments; differences of means: {3,4} 2, {2,4} 1, {1,4} 0,
    # {2,3} 0, {1,3} -1, {1,2} -2. P(D >= 2) = 1/6, P(D <= 2) = 1 -> p = 2 * 1/6 = 1/3.
    perm = permutation_test([3.0, 4.0], [1.0, 2.0])
    assert perm.p_value == pytest.approx(1 / 3)
    assert perm.smallest_p_value == pytest.approx(1 / 3)


def test_monte_carlo_permutation_is_seeded_and_close_to_scipy():
    rng = np.random.default_rng(3)
    t, c = rng.normal(1.0, 1.0, 14), rng.normal(0.0, 1.0, 14)  # C(28, 14) = 40 116 600 assignments
    perm = permutation_test(t, c, seed=11)
    again = permutation_test(t, c, seed=11)
    ref = sps.permutation_test((t, c), _diff, permutation_type="independent", vectorized=True,
                               n_resamples=9_999, alternative="two-sided", random_state=5)
    assert not perm.exact and perm.p_value == again.p_value
    assert perm.p_value == pytest.approx(ref.pvalue, abs=0.01)  # two Monte Carlo estimates of the same p


def test_cuped_is_ancova_and_matches_statsmodels_ols():
    rng = np.random.default_rng(8)
    x = rng.normal(50, 10, 16)
    y = 0.8 * x + rng.normal(0, 3, 16) + np.r_[np.full(8, 4.0), np.zeros(8)]
    est = cuped(y[:8], y[8:], x[:8], x[8:], alpha=0.05)
    arm = np.r_[np.ones(8), np.zeros(8)]
    ref = sm.OLS(y, sm.add_constant(np.column_stack([arm, x - x.mean()]))).fit()  # Y ~ 1 + T + (X - mean X)
    assert ref.df_resid == 13 and est.details["df"] == 13  # n - 3
    assert est.effect == pytest.approx(ref.params[1], rel=1e-10)
    assert est.details["se"] == pytest.approx(ref.bse[1], rel=1e-10)
    assert est.p_value == pytest.approx(ref.pvalues[1], rel=1e-10)
    assert (est.low, est.high) == pytest.approx(tuple(ref.conf_int(alpha=0.05)[1]), rel=1e-10)
    theta = ref.params[2]
    adjusted = y - theta * (x - x.mean())
    assert est.details["theta"] == pytest.approx(theta, rel=1e-10)
    assert est.effect == pytest.approx(adjusted[:8].mean() - adjusted[8:].mean(), rel=1e-10)  # adjusted means
    assert est.details["variance_reduction"] == pytest.approx(1 - adjusted.var(ddof=1) / y.var(ddof=1), rel=1e-10)
    assert est.details["variance_reduction"] > 0.5  # the covariate explains most of the spread


def test_cuped_hand_checked():
    # treated (X, Y): (0, 1), (2, 5); control: (0, 0), (2, 2). Mean X 1, centred X -1, 1, -1, 1.
    # OLS of Y on 1, T, Xc: the treated slope 2 and control slope 1 pool to theta 1.5 (equal X spread), the
    # arms are balanced in X, so the effect is mean Y treated - control = 3 - 1 = 2. Fitted values:
    # treated 3 -+ 1.5 = 1.5, 4.5; control 1 -+ 1.5 = -0.5, 2.5; residuals -0.5, 0.5, 0.5, -0.5: RSS 1,
    # df = 4 - 3 = 1, sigma^2 = 1; var(T coef) = sigma^2 * (1/2 + 1/2) = 1 (T and Xc orthogonal): se 1.
    est = cuped([1.0, 5.0], [0.0, 2.0], [0.0, 2.0], [0.0, 2.0], alpha=0.05)
    assert est.effect == pytest.approx(2.0) and est.details["theta"] == pytest.approx(1.5)
    assert est.details["se"] == pytest.approx(1.0) and est.details["df"] == 1
    assert (est.low, est.high) == pytest.approx((2 - 12.7062047, 2 + 12.7062047))  # t(.975, 1) = 12.706


def test_cuped_without_spread_in_the_covariate_is_the_pooled_t_test():
    est = cuped([3.0, 4.0, 5.0], [1.0, 2.0, 3.0], [7.0, 7.0, 7.0], [7.0, 7.0, 7.0], alpha=0.05)
    ref = sps.ttest_ind([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    assert est.details["theta"] == 0.0 and est.details["df"] == 4
    assert est.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_cuped_interval_covers_a_known_effect_95_percent_of_the_time_with_few_units():
    # 4 units per arm, Y = 2 + 2 X + effect 3 T + noise(sd 1), X ~ N(10, 1): ANCOVA's interval is exact under
    # normal errors. 4 000 experiments: binomial sd sqrt(.95 * .05 / 4000) = 0.34 %, so 94.0-96.0 % is a
    # 3-sd band. On these same draws Welch on the CUPED-adjusted values (theta from all units, the effect in it,
    # treated as known) covers 92.6 %, outside the band; ANCOVA 94.6 %.
    rng = np.random.default_rng(31)
    covered = 0
    for _ in range(4000):
        x = rng.normal(10.0, 1.0, 8)
        y = 2 + 2.0 * x + 3.0 * np.r_[np.ones(4), np.zeros(4)] + rng.normal(0, 1.0, 8)
        est = cuped(y[:4], y[4:], x[:4], x[4:], alpha=0.05)
        covered += est.low <= 3.0 <= est.high
    assert 0.94 <= covered / 4000 <= 0.96


def test_pooled_sd_hand_checked():
    # arms {1, 3} and {2, 6}: squares about the means 1 + 1 + 4 + 4 = 10 over 4 - 2 = 2 -> sqrt(5).
    assert pooled_sd([1.0, 3.0], [2.0, 6.0]) == pytest.approx(5 ** 0.5)


def test_interval_covers_a_known_effect_about_95_percent_of_the_time():
    # 400 simulated experiments, 8 units per arm, true effect 2.5: the 95 % Welch interval should cover it in
    # about 95 % of them; binomial sd sqrt(.95 * .05 / 400) = 1.1 %, so 91-99 % is a loose 3.5-sd band.
    rng = np.random.default_rng(2026)
    covered = 0
    for _ in range(400):
        t, c = rng.normal(12.5, 3.0, 8), rng.normal(10.0, 4.0, 8)
        est = welch(t, c, alpha=0.05)
        covered += est.low <= 2.5 <= est.high
    assert 0.91 <= covered / 400 <= 0.99


def test_simulated_experiment_interval_covers_the_effect_and_rejects():
    rng = np.random.default_rng(17)
    t, c = rng.normal(20.0, 2.0, 12), rng.normal(14.0, 2.0, 12)
    est = welch(t, c, alpha=0.05)
    assert est.low <= 6.0 <= est.high and est.p_value < 0.001


values = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=6)


@settings(max_examples=60, deadline=None)
@given(values, values, st.floats(-50, 50))
def test_shifting_the_treated_arm_shifts_effect_and_interval(treated, control, shift):
    base = welch(treated, control, alpha=0.05)
    moved = welch([v + shift for v in treated], control, alpha=0.05)
    assert moved.effect == pytest.approx(base.effect + shift, abs=1e-6)
    assert moved.low == pytest.approx(base.low + shift, abs=1e-6)
    assert base.low <= base.effect <= base.high


@settings(max_examples=40, deadline=None)
@given(values, values)
def test_permutation_p_value_is_a_probability_and_symmetric(treated, control):
    forward = permutation_test(treated, control)
    backward = permutation_test(control, treated)
    assert forward.smallest_p_value <= forward.p_value <= 1
    assert forward.p_value == pytest.approx(backward.p_value)


def test_monte_carlo_p_value_counts_the_observed_assignment_once():
    # Fixed draws of the statistic, R = 9: 1, 2, 3, 4, 5, 6, 7, 8, 9 and the observed 8.5. At least as large:
    # 9 (one draw), at most: eight draws. Monte Carlo: (1 + 1) / (9 + 1) = 0.2, doubled 0.4; exact would give
    # 2 * 1/9 = 0.222.
    draws = np.arange(1.0, 10.0)[:, None]
    assert two_sided(draws, np.asarray(8.5), exact=False) == pytest.approx(0.4)
    assert two_sided(draws, np.asarray(8.5), exact=True) == pytest.approx(2 / 9)
    # Beyond every draw: (0 + 1) / 10, doubled 0.2 (never 0); central: capped at 1.
    assert two_sided(draws, np.asarray(20.0), exact=False) == pytest.approx(0.2)
    assert two_sided(draws, np.asarray(5.0), exact=False) == pytest.approx(1.0)


def test_monte_carlo_permutation_of_an_extreme_split_gives_two_over_r_plus_one():
    # 30 units, 15 treated at 100 + i and 15 controls at i: C(30, 15) = 155 117 520 assignments, so with
    # max_exact 0 and R = 99 random ones no draw repeats the observed split (chance 99 / 1.6e8) and none is as
    # extreme: p = 2 * (0 + 1) / (99 + 1) = 0.02, the smallest the test can give.
    perm = permutation_test(np.arange(15.0) + 100, np.arange(15.0), seed=1, max_exact=0, resamples=99)
    assert not perm.exact and perm.p_value == pytest.approx(0.02) and perm.smallest_p_value == pytest.approx(0.02)


def test_permutation_within_strata_hand_checked():
    # treated 3 (stratum x), 4 (y); control 1 (x), 2 (y): one treated per stratum, 2 x 2 = 4 assignments:
    # {3, 4} 2, {3, 2} 0, {1, 4} 0, {1, 2} -2 -> p = 2 * 1/4 = 0.5 (6 assignments and 1/3 without strata).
    perm = permutation_test([3.0, 4.0], [1.0, 2.0], strata=["x", "y", "x", "y"])
    assert perm.exact and perm.assignments == 4
    assert perm.p_value == pytest.approx(0.5) and perm.smallest_p_value == pytest.approx(0.5)
    masks, exact = assignment_weights(4, 2, seed=1, strata=["x", "y", "x", "y"])
    assert exact and sorted(map(tuple, masks.astype(int).tolist())) == [
        (0, 0, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 0, 0)]


def test_monte_carlo_draws_keep_each_stratum_treated_count():
    strata = ["x"] * 6 + ["y"] * 4 + ["x"] * 4 + ["y"] * 6  # treated: 6 x, 4 y; control 4 x, 6 y
    masks, exact = assignment_weights(20, 10, seed=3, max_exact=10, resamples=500, strata=strata)
    labels = np.array(strata)
    assert not exact and masks.shape == (500, 20)
    assert (masks[:, labels == "x"].sum(axis=1) == 6).all() and (masks[:, labels == "y"].sum(axis=1) == 4).all()
    assert assignment_count(strata, np.arange(20) < 10) == comb(10, 6) * comb(10, 4)  # 210 * 210


def test_p_value_equal_to_alpha_rejects():
    assert rejects(2 / 20, 0.1) and rejects(1 / 3, 1 / 3) and not rejects(0.1000001, 0.1) and not rejects(None, 0.1)
