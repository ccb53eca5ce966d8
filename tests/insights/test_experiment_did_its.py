"""Difference-in-differences (hand-checked 2 x 2 means, statsmodels OLS with interaction, randomisation
inference) and the interrupted time series (statsmodels OLS with HAC errors, a recovered slope change)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from engmetrics.insights.experiments.did import did
from engmetrics.insights.experiments.its import hac_lags, its


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
