"""Welch, permutation and CUPED against scipy / statsmodels on the same data, hand-checked values, and the
coverage of the interval over repeated simulated experiments with a known effect."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engmetrics.insights.experiments.stats import cuped, permutation_test, pooled_sd, welch

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


def test_cuped_matches_statsmodels_and_scipy():
    rng = np.random.default_rng(8)
    x = rng.normal(50, 10, 16)
    y = 0.8 * x + rng.normal(0, 3, 16) + np.r_[np.full(8, 4.0), np.zeros(8)]
    est = cuped(y[:8], y[8:], x[:8], x[8:], alpha=0.05)
    slope = sm.OLS(y, sm.add_constant(x)).fit().params[1]  # theta = cov(Y, X) / var(X) = the OLS slope
    adjusted = y - slope * (x - x.mean())
    ref = sps.ttest_ind(adjusted[:8], adjusted[8:], equal_var=False)
    assert est.details["theta"] == pytest.approx(slope, rel=1e-10)
    assert est.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert est.details["variance_reduction"] == pytest.approx(1 - adjusted.var(ddof=1) / y.var(ddof=1), rel=1e-10)
    assert est.details["variance_reduction"] > 0.5  # the covariate explains most of the spread


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
