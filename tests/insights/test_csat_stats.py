"""The CSAT statistics: hand-checked correlations by lag, the regression against statsmodels, Holm, invariants."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.insights.csat import CsatOptions, correlations, regression
from engmetrics.insights.csat_stats import correlation, holm

D0 = date(2026, 3, 1)


def _days(n: int, first: date = D0) -> list[date]:
    return [first + timedelta(days=k) for k in range(n)]


def test_correlation_by_lag_is_hand_checked():
    # Satisfaction on 2..6 March: 0.4 0.8 1.0 0.8 1.0 (scores 2 4 5 4 5 of 5).
    # Availability badness 1..6 March: 0.05, then 0.01 .. 0.05 on 2..6 March.
    daily = pd.DataFrame({"segment": "free", "service": "a", "day": _days(5, D0 + timedelta(days=1)),
                          "responses": 1, "satisfaction": [0.4, 0.8, 1.0, 0.8, 1.0], "exposure": 0.0})
    sli = pd.DataFrame({"service": "a", "indicator": "availability", "day": _days(6),
                        "badness": [0.05, 0.01, 0.02, 0.03, 0.04, 0.05]})
    rows = correlations(daily, sli, CsatOptions(max_lag=1, min_days=4))
    lag0, lag1 = rows
    # Lag 0: x = 1..5 (scaled), y = 2 4 5 4 5. dx = -2..2, dy = -2 0 1 0 1: Sxy = 6, Sxx = 10, Syy = 6,
    # r = 6 / sqrt(60) = 0.774597. Ranks of y: 1 2.5 4.5 2.5 4.5, rho = 7 / sqrt(10 * 9) = 0.737865.
    # Fisher: z = atanh(0.774597) = 1.031718, half = 1.959964 / sqrt(2) = 1.385904,
    # interval tanh(-0.354185) = -(e^0.708370 - 1) / (e^0.708370 + 1) = -1.030679 / 3.030679 = -0.340082
    # .. tanh(2.417622) = (e^4.835245 - 1) / (e^4.835245 + 1) = 124.8694 / 126.8694 = 0.984236.
    assert (lag0["lag_days"], lag0["n"]) == (0, 5)
    assert lag0["pearson"] == pytest.approx(0.774597, abs=1e-6)
    assert lag0["spearman"] == pytest.approx(0.737865, abs=1e-6)
    assert lag0["pearson_interval"] == pytest.approx([-0.340082, 0.984236], abs=2e-6)
    # Lag 1: satisfaction on day d against badness on d - 1: x = 5 1 2 3 4, y = 2 4 5 4 5.
    # dx = 2 -2 -1 0 1, dy = -2 0 1 0 1: Sxy = -4 + 0 - 1 + 0 + 1 = -4, r = -4 / sqrt(60) = -0.516398.
    assert (lag1["lag_days"], lag1["n"]) == (1, 5)
    assert lag1["pearson"] == pytest.approx(-0.516398, abs=1e-6)
    assert {lag0["segment"], lag0["service"], lag0["sli"]} == {"free", "a", "availability"}


def test_too_few_days_or_a_constant_series_gives_no_correlation():
    assert correlation([1, 2, 3], [3, 2, 1]) is None  # n = 3: no Fisher interval
    assert correlation([1, 2, 3, 4], [1, 1, 1, 1]) is None
    assert correlation([0.0, 5e-324, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]) is None  # a spread below floating point
    daily = pd.DataFrame({"segment": "free", "service": "a", "day": _days(5), "responses": 1,
                          "satisfaction": [0.4, 0.8, 1.0, 0.8, 1.0], "exposure": 0.0})
    sli = pd.DataFrame({"service": "a", "indicator": "availability", "day": _days(5), "badness": 0.01 * np.arange(5)})
    assert correlations(daily, sli, CsatOptions(max_lag=0, min_days=6)) == []


def test_holm_is_hand_checked():
    # sorted 0.01, 0.03, 0.04 -> x3 = 0.03, x2 = 0.06, x1 = 0.04 -> running max 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]


def _panel(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    segments, services, days = ["enterprise", "free", "pro"], ["a", "b", "c"], _days(40)
    keys = pd.MultiIndex.from_product([segments, services, days], names=["segment", "service", "day"]).to_frame(
        index=False)
    sli = pd.MultiIndex.from_product([services, ["availability", "latency"], days],
                                     names=["service", "indicator", "day"]).to_frame(index=False)
    sli["badness"] = rng.gamma(2.0, 0.01, len(sli))
    wide = sli.pivot_table(index=["service", "day"], columns="indicator", values="badness").reset_index()
    keys = keys.merge(wide, on=["service", "day"])
    keys["exposure"] = (rng.random(len(keys)) < 0.1) * rng.random(len(keys))
    effect = keys["segment"].map({"enterprise": -0.05, "free": 0.0, "pro": 0.02})
    keys["satisfaction"] = (0.85 - 3 * keys["availability"] - 1.5 * keys["latency"] - 0.1 * keys["exposure"]
                            + effect + 0.05 * rng.standard_normal(len(keys)))
    keys["responses"] = 3
    return keys[["segment", "service", "day", "responses", "satisfaction", "exposure", "availability", "latency"]], sli


def test_regression_matches_statsmodels_ols():
    smf = pytest.importorskip("statsmodels.formula.api")
    daily, sli = _panel()
    fit = regression(daily.drop(columns=["availability", "latency"]), sli)
    ref = smf.ols("satisfaction ~ availability + latency + exposure + C(segment)", data=daily).fit()
    names = {"intercept": "Intercept", "sli_bad:availability": "availability", "sli_bad:latency": "latency",
             "incident_exposure": "exposure", "segment:free": "C(segment)[T.free]", "segment:pro": "C(segment)[T.pro]"}
    assert [c.term for c in fit.coefficients] == list(names)
    intervals = ref.conf_int(0.05)
    for c in fit.coefficients:
        assert c.estimate == pytest.approx(ref.params[names[c.term]], rel=1e-9, abs=1e-12)
        assert c.interval == pytest.approx(tuple(intervals.loc[names[c.term]]), rel=1e-9, abs=1e-12)
        assert c.p_value == pytest.approx(ref.pvalues[names[c.term]], rel=1e-6, abs=1e-300)
    assert fit.r_squared == pytest.approx(ref.rsquared, rel=1e-9)
    assert fit.n == int(ref.nobs) == 360


def test_a_term_that_never_varies_is_dropped():
    daily, sli = _panel()
    fit = regression(daily.drop(columns=["availability", "latency"]).assign(exposure=0.0), sli)
    assert "incident_exposure" not in [c.term for c in fit.coefficients]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=4, max_size=40))
def test_correlation_invariants(pairs):
    x, y = np.array(pairs).T
    c = correlation(x, y)
    if c is None:
        return
    low, high = c.pearson_interval
    assert -1 <= low <= c.pearson <= high <= 1
    assert -1 - 1e-12 <= c.spearman <= 1 + 1e-12
    swapped = correlation(y, x)
    assert swapped.pearson == pytest.approx(c.pearson, abs=1e-12)
    flipped = correlation(x, -y)  # negating one side flips the sign and mirrors the interval
    assert flipped.pearson == pytest.approx(-c.pearson, abs=1e-12)
    assert flipped.pearson_interval == pytest.approx((-high, -low), abs=1e-9)


def test_a_badness_term_is_negative_when_worse_slis_go_with_lower_satisfaction():
    # Four days of service a: availability badness 0, 0.01, 0.02, 0.03 (1 - good / total) and satisfaction
    # 0.9, 0.88, 0.86, 0.84 = 0.9 - 2 * badness exactly: the fit is exact, intercept 0.9 and `sli_bad:availability`
    # -2 (one more failed request in a hundred goes with 0.02 less satisfaction). No `exposure` column (the caller
    # may not read incidents): no `incident_exposure` term.
    daily = pd.DataFrame({"segment": "free", "service": "a", "day": _days(4), "responses": 1,
                          "satisfaction": [0.9, 0.88, 0.86, 0.84]})
    sli = pd.DataFrame({"service": "a", "indicator": "availability", "day": _days(4),
                        "badness": [0.0, 0.01, 0.02, 0.03]})
    fit = regression(daily, sli)
    assert [c.term for c in fit.coefficients] == ["intercept", "sli_bad:availability"]
    assert [c.estimate for c in fit.coefficients] == pytest.approx([0.9, -2.0], abs=1e-12)
    assert fit.r_squared == pytest.approx(1.0) and fit.n == 4
