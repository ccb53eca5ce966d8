"""Difference-in-differences (hand-checked 2 x 2 means, statsmodels OLS with interaction, randomisation
inference) and the interrupted time series (statsmodels OLS with HAC errors, a recovered slope change)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from engmetrics.insights.experiments.did import GRID, did
from engmetrics.insights.experiments.its import hac_lags, its
from engmetrics.insights.experiments.stats import rejects


def test_did_on_four_teams_hand_checked():
    # Team means before -> after. Treated: checkout 10 -> 7, payments 12 -> 10 (changes -3, -2, mean -2.5).
    # Control: search 11 -> 11.5, platform 9 -> 9.5 (changes +0.5, +0.5, mean +0.5). DiD = -2.5 - 0.5 = -3.
    est = did([10.0, 12.0], [7.0, 10.0], [11.0, 9.0], [11.5, 9.5], alpha=0.05)
    assert est.effect == pytest.approx(-3.0)
    assert est.details["treated_change"] == pytest.approx(-2.5)
    assert est.details["control_change"] == pytest.approx(0.5)
    # 4 units, 2 treated: 6 assignments; the observed one is the most extreme (-3; its mirror +3), so
    # p = 2 * 1/6 = 1/3, and no data could give less than 1/3 > 0.05: the interval is unbounded.
    assert est.details["assignments"] == 6
    assert est.p_value == pytest.approx(1 / 3)
    assert est.details["smallest_p_value"] == pytest.approx(1 / 3)
    assert est.details["reachable"] is False and (est.low, est.high) == (None, None)


def test_did_matches_statsmodels_interaction():
    rng = np.random.default_rng(4)
    before = rng.normal(20, 4, 10)
    after = before + rng.normal(1.0, 1.0, 10) + np.r_[np.full(3, -4.0), np.zeros(7)]
    est = did(before[:3], after[:3], before[3:], after[3:], alpha=0.05)
    y = np.r_[before, after]
    treated = np.tile(np.r_[np.ones(3), np.zeros(7)], 2)
    post = np.r_[np.zeros(10), np.ones(10)]
    x = sm.add_constant(np.column_stack([treated, post, treated * post]))
    assert est.effect == pytest.approx(sm.OLS(y, x).fit().params[3], rel=1e-10)


def test_did_randomisation_inference_and_interval():
    # 3 treated of 10 units: C(10, 3) = 120 assignments, smallest p 2/120 < 0.05: the test can reject.
    rng = np.random.default_rng(9)
    before = rng.normal(20, 4, 10)
    after = before + rng.normal(0.0, 0.5, 10) + np.r_[np.full(3, -5.0), np.zeros(7)]
    est = did(before[:3], after[:3], before[3:], after[3:], alpha=0.05)
    assert est.details["assignments"] == 120 and est.details["reachable"]
    d = after - before
    stats = []  # the randomisation distribution, listed independently of the code under test
    from itertools import combinations
    for combo in combinations(range(10), 3):
        mask = np.zeros(10, bool)
        mask[list(combo)] = True
        stats.append(d[mask].mean() - d[~mask].mean())
    stats = np.array(stats)
    p = min(1.0, 2 * min((stats <= est.effect + 1e-9).mean(), (stats >= est.effect - 1e-9).mean()))
    assert est.p_value == pytest.approx(p)
    assert est.p_value == pytest.approx(2 / 120)  # the observed assignment is the most extreme one
    assert est.low < -5.0 < est.high  # the true effect is not rejected
    assert est.low < est.effect < est.high


def test_its_matches_statsmodels_hac():
    rng = np.random.default_rng(12)
    t = np.arange(30.0)
    post = (t >= 18).astype(float)
    y = 5 + 0.3 * t + 2.0 * post - 0.5 * (t - 18) * post + rng.normal(0, 0.6, 30)
    est = its(t, y, 18, alpha=0.05)
    x = np.column_stack([np.ones(30), t, post, (t - 18) * post])
    lags = hac_lags(30)  # floor(4 * 0.3 ** (2/9)) = floor(3.06) = 3
    assert lags == 3
    ref = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    ci = ref.conf_int(alpha=0.05)
    assert est.effect == pytest.approx(ref.params[2], rel=1e-10)
    assert est.details["level_change_se"] == pytest.approx(ref.bse[2], rel=1e-8)
    assert est.details["slope_change_se"] == pytest.approx(ref.bse[3], rel=1e-8)
    assert (est.low, est.high) == pytest.approx(tuple(ci[2]), rel=1e-8)
    assert est.p_value == pytest.approx(ref.pvalues[2], rel=1e-8)
    assert est.details["slope_change_p_value"] == pytest.approx(ref.pvalues[3], rel=1e-8)


def test_its_recovers_a_slope_change_within_its_interval():
    # Weekly series of one team: flat at 40 for 16 weeks, then falling by 1.5 a week for 16 weeks.
    rng = np.random.default_rng(21)
    t = np.arange(32.0)
    post = (t >= 16).astype(float)
    y = 40 - 1.5 * (t - 16) * post + rng.normal(0, 1.0, 32)
    est = its(t, y, 16, alpha=0.05)
    low, high = est.details["slope_change_interval"]
    assert low <= -1.5 <= high
    assert high < 0 and est.details["slope_change_p_value"] < 0.001
    assert abs(est.details["slope_before"]) < 0.2


def test_its_exact_line_hand_checked():
    # y = 1 + t before t0 = 4 and 5 + t from it: level change 4, slope change 0, no residuals.
    est = its([0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 9, 10, 11, 12], 4, alpha=0.05)
    assert est.effect == pytest.approx(4.0) and est.details["slope_change"] == pytest.approx(0.0, abs=1e-9)
    assert est.details["slope_before"] == pytest.approx(1.0)


def _brute_force_accepted(d_treated, d_control, deltas, alpha):
    """The effects not rejected, from the definition: for each delta subtract it from the treated units'
    differences, list every assignment of the treated count, and reject when twice the smaller tail share of
    statistics at least as extreme as the observed one is at most alpha."""
    from itertools import combinations

    k, n = len(d_treated), len(d_treated) + len(d_control)
    accepted = []
    for delta in deltas:
        values = [v - delta for v in d_treated] + list(d_control)
        stats = []
        for combo in combinations(range(n), k):
            inside = [values[i] for i in combo]
            outside = [values[i] for i in range(n) if i not in combo]
            stats.append(sum(inside) / k - sum(outside) / (n - k))
        observed = stats[0]  # combinations start with the observed (first k) units
        less = sum(s <= observed + 1e-9 for s in stats)
        greater = sum(s >= observed - 1e-9 for s in stats)
        if not 2 * min(less, greater) / len(stats) <= alpha + 1e-12:
            accepted.append(delta)
    return accepted


def test_did_p_equal_to_alpha_rejects_and_the_interval_agrees():
    # Changes: treated 10, 11, 12; control 0, 1, -1. 6 units, 3 treated: C(6, 3) = 20 assignments; the observed
    # one is the only one with the top three, so p = 2 * 1/20 = 0.1 = alpha: rejected (p <= alpha), reachable,
    # and the interval excludes 0. By hand: with delta subtracted the observed split stays the unique extreme
    # while 10 - delta > 1 (delta < 9) or 12 - delta < -1 (delta > 13); at delta = 9 or 13 a tie doubles the
    # tail (p 0.2): the accepted set is [9, 13].
    est = did([0.0, 0.0, 0.0], [10.0, 11.0, 12.0], [0.0, 0.0, 0.0], [0.0, 1.0, -1.0], alpha=0.1)
    assert est.effect == pytest.approx(11.0) and est.p_value == pytest.approx(0.1)
    assert est.details["smallest_p_value"] == pytest.approx(0.1) and est.details["reachable"] is True
    grid_step = 2 * 4 * 13 / (GRID - 1)  # span 4 * max(ptp(d) = 13, |effect| = 11) each side
    assert 9.0 <= est.low <= 9.0 + grid_step and 13.0 - grid_step <= est.high <= 13.0
    assert rejects(est.p_value, 0.1)


def test_did_interval_matches_an_independent_brute_force_inversion():
    rng = np.random.default_rng(5)
    before = rng.normal(20, 3, 7)
    after = before + rng.normal(0.0, 1.0, 7) + np.r_[np.full(3, 4.0), np.zeros(4)]
    d = after - before
    est = did(before[:3], after[:3], before[3:], after[3:], alpha=0.1)  # C(7, 3) = 35: smallest p 2/35 < 0.1
    assert est.details["reachable"]
    step = 2 * 4 * max(np.ptp(d), abs(est.effect)) / (GRID - 1)  # the code's grid spacing
    fine = np.arange(est.effect - 15, est.effect + 15, 0.002)
    accepted = _brute_force_accepted(d[:3], d[3:], fine, 0.1)
    assert accepted[0] - 0.002 - 1e-9 <= est.low <= accepted[0] + step  # the grid's first point inside
    assert accepted[-1] - step <= est.high <= accepted[-1] + 0.002 + 1e-9
    assert est.low < est.effect < est.high


def test_did_cannot_reach_alpha_with_four_teams():
    # 4 units, 2 treated: 6 assignments, smallest p 2/6 = 1/3 > 0.1: not reachable, unbounded interval.
    est = did([0.0, 0.0], [10.0, 11.0], [0.0, 0.0], [0.0, 1.0], alpha=0.1)
    assert est.details["smallest_p_value"] == pytest.approx(1 / 3) and est.details["reachable"] is False
    assert (est.low, est.high) == (None, None)


def test_did_permutes_within_strata():
    # Changes: treated 3 (stratum x), 4 (y); control 1 (x), 2 (y). Within strata one unit of each is treated:
    # 2 x 2 = 4 assignments: {3, 4} -> 7/2 - 3/2 = 2, {3, 2} 0, {1, 4} 0, {1, 2} -2. p = 2 * 1/4 = 1/2
    # (without strata: 6 assignments, p = 2 * 1/6 = 1/3).
    est = did([0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [1.0, 2.0], alpha=0.05, strata=["x", "y", "x", "y"])
    assert est.details["assignments"] == 4 and est.p_value == pytest.approx(0.5)
    assert est.details["smallest_p_value"] == pytest.approx(0.5)
    plain = did([0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [1.0, 2.0], alpha=0.05)
    assert plain.details["assignments"] == 6 and plain.p_value == pytest.approx(1 / 3)


def test_its_with_a_bucket_in_both_periods_uses_the_period_not_t():
    # 6 before points at t = 0..5 on y = 10 + 0.5 t and 6 after points at t = 5..10 on y = 14 + 0.5 t: the
    # bucket t = 5 is in both periods (a week split by the change). D from the period: level change exactly 4.
    t = np.r_[np.arange(6.0), np.arange(5.0, 11.0)]
    phase = np.r_[np.zeros(6, bool), np.ones(6, bool)]
    y = np.where(phase, 14.0, 10.0) + 0.5 * t
    est = its(t, y, 5, alpha=0.05, after=phase)
    assert round(est.effect, 2) == 4.00 and est.details["points_after"] == 6
    assert est.details["slope_change"] == pytest.approx(0.0, abs=1e-9)
    wrong = its(t, y, 5, alpha=0.05)  # t >= 5 puts the last before point after the change too
    assert wrong.details["points_after"] == 7 and round(wrong.effect, 2) != 4.00


def _analysis(est, method="did", treated=("a", "b", "c"), control=("d", "e", "f"), alpha=0.1, power=None):
    from engmetrics.insights.experiments import Analysis, ExperimentSpec
    from engmetrics.insights.experiments.power import sample_ratio_mismatch

    spec = ExperimentSpec.model_validate({
        "experiment": "x", "metric": "m", "unit": "team", "assignment": "observational", "treated": list(treated),
        "control": list(control), "before": {"from": "2026-01-05", "to": "2026-01-18"},
        "after": {"from": "2026-01-19", "to": "2026-02-01"}, "alpha": alpha})
    return Analysis(spec, method, est, sample_ratio_mismatch(len(treated), len(control), None),
                    power or {"smallest_detectable_effect": None}, list(treated), list(control))


def test_the_verdict_follows_the_same_rule_as_the_interval_at_p_equal_to_alpha():
    est = did([0.0, 0.0, 0.0], [10.0, 11.0, 12.0], [0.0, 0.0, 0.0], [0.0, 1.0, -1.0], alpha=0.1)
    analysis = _analysis(est)
    assert analysis.significant  # p = 0.1 = alpha rejects, as the interval [9.05, 12.95] (no 0) says
    assert analysis.verdict() == "m improved by 11 under the change (90 % interval 9.05 to 13, p = 0.1, did)."


def test_the_verdict_says_no_effect_could_be_detected_when_alpha_is_out_of_reach():
    est = did([0.0, 0.0], [10.0, 11.0], [0.0, 0.0], [0.0, 1.0], alpha=0.1)
    verdict = _analysis(est, treated=("a", "b"), control=("c", "d")).verdict()
    assert verdict.startswith("No effect could be detected on m with this many units (2 treated, 2 control): the "
                              "smallest attainable p-value, 0.333, is above alpha 0.1")
