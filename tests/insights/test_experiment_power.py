"""Sample-ratio mismatch (scipy chi-square), the smallest detectable effect (statsmodels power), and the
stratified seeded assignment of `design`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.power import TTestIndPower

from engmetrics.insights.experiments.design import assign
from engmetrics.insights.experiments.power import (
    sample_ratio_mismatch,
    smallest_detectable_effect,
    t_detectable_effect,
)


def test_srm_flags_a_30_70_split_when_50_50_was_expected():
    # expected 50 / 50 of 100: chi2 = (30 - 50)^2 / 50 + (70 - 50)^2 / 50 = 16, p = P(chi2_1 > 16) = 6.3e-5.
    srm = sample_ratio_mismatch(30, 70, 0.5)
    assert srm.mismatch
    assert srm.p_value == pytest.approx(sps.chi2.sf(16, 1), rel=1e-12)
    assert srm.p_value == pytest.approx(6.334e-5, rel=1e-3)


def test_srm_accepts_a_split_matching_the_expected_ratio():
    srm = sample_ratio_mismatch(30, 70, 0.3)
    assert not srm.mismatch and srm.p_value == pytest.approx(1.0)


def test_srm_with_an_empty_arm_is_a_mismatch():
    # 3 treated, 0 control, 50 / 50 expected: chi2 = 2 * 1.5^2 / 1.5 = 3, p = P(chi2_1 > 3) = 0.0833: not below
    # 0.01, yet an empty arm is the most extreme split there is: a mismatch.
    srm = sample_ratio_mismatch(3, 0, 0.5)
    assert srm.mismatch and srm.p_value == pytest.approx(sps.chi2.sf(3, 1), rel=1e-12)
    assert sample_ratio_mismatch(0, 5, 0.5).mismatch


def test_srm_not_checked_without_an_expected_ratio():
    srm = sample_ratio_mismatch(3, 9, None)
    assert srm.p_value is None and not srm.mismatch


@pytest.mark.parametrize(("n_treated", "n_control", "alpha", "power"), [
    (10, 10, 0.05, 0.8), (4, 4, 0.05, 0.8), (3, 9, 0.1, 0.9), (2, 2, 0.05, 0.8), (40, 25, 0.01, 0.8)])
def test_smallest_detectable_effect_matches_statsmodels(n_treated, n_control, alpha, power):
    sd = 2.5
    d = TTestIndPower().solve_power(effect_size=None, nobs1=n_treated, ratio=n_control / n_treated, alpha=alpha,
                                    power=power, alternative="two-sided")
    got = smallest_detectable_effect(sd, n_treated, n_control, alpha=alpha, power=power)
    assert got == pytest.approx(d * sd, rel=1e-4)


def test_smallest_detectable_effect_hand_checked_against_the_normal_rule():
    # Large arms: the t rule approaches (z_.975 + z_.8) * sd * sqrt(2 / n) = 2.8016 * 1 * sqrt(2 / 2000) = 0.0886.
    assert smallest_detectable_effect(1.0, 2000, 2000, alpha=0.05, power=0.8) == pytest.approx(0.0886, abs=2e-4)


def test_no_detectable_effect_without_spread_or_units():
    assert smallest_detectable_effect(0.0, 5, 5, alpha=0.05, power=0.8) is None
    assert smallest_detectable_effect(1.0, 1, 1, alpha=0.05, power=0.8) is None
    assert t_detectable_effect(0.0, 10, alpha=0.05, power=0.8) is None


def test_coefficient_detectable_effect_scales_with_its_standard_error():
    one = t_detectable_effect(1.0, 20, alpha=0.05, power=0.8)
    assert t_detectable_effect(3.0, 20, alpha=0.05, power=0.8) == pytest.approx(3 * one)
    assert 2.8 < one < 3.0  # t(.975, 20) = 2.086 plus about z_.8 = 0.84 (a little more for the t tails)


def test_assignment_is_deterministic_and_stratified():
    strata = {"a": "web", "b": "web", "c": "web", "d": "web", "e": "data", "f": "data", "g": "core", "h": "core"}
    treated, control = assign(strata, ratio=0.5, seed=3)
    assert (treated, control) == assign(strata, ratio=0.5, seed=3)
    assert len(treated) == 4 and sorted(treated + control) == sorted(strata)
    for stratum in ("web", "data", "core"):  # every stratum split evenly
        members = [u for u, s in strata.items() if s == stratum]
        assert sum(u in treated for u in members) == len(members) // 2
    seeds = {tuple(assign(strata, ratio=0.5, seed=s)[0]) for s in range(20)}
    assert len(seeds) > 5  # the seed matters


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text("abcdefghij", min_size=1, max_size=3), st.sampled_from(["x", "y", "z"]),
                       min_size=2, max_size=30),
       st.floats(0.1, 0.9), st.integers(0, 10_000))
def test_assignment_keeps_the_ratio_overall_and_per_stratum(strata, ratio, seed):
    treated, control = assign(strata, ratio=ratio, seed=seed)
    assert sorted(treated + control) == sorted(strata) and not set(treated) & set(control)
    assert abs(len(treated) - ratio * len(strata)) <= 0.5 + 1e-9  # round(ratio * n) overall
    for stratum in set(strata.values()):
        members = [u for u, s in strata.items() if s == stratum]
        assert abs(sum(u in treated for u in members) - ratio * len(members)) <= 1 + 1e-9


def test_the_odd_strata_extra_treated_unit_goes_to_a_seeded_random_stratum():
    # Three strata of 3 units, ratio 0.5: the running target round(0.5 * units so far) is 2 after 3 units, 3
    # after 6, 5 after 9, so the strata in the order taken get 2, 1 and 2 treated. In sorted order b never got
    # its extra unit; with the order shuffled by the seed every stratum gets it for some seeds.
    strata = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b", "b3": "b", "c1": "c", "c2": "c", "c3": "c"}
    heavy = set()
    for seed in range(40):
        treated, _ = assign(strata, ratio=0.5, seed=seed)
        counts = {g: sum(strata[u] == g for u in treated) for g in "abc"}
        heavy |= {g for g, n in counts.items() if n == 2}
    assert heavy == {"a", "b", "c"}
