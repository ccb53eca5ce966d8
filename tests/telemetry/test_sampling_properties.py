"""Properties of sampling and the HT estimates: unbiased, errors kept under stratification, intervals cover."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.telemetry.sampling import HeadSampling, StratifiedSampling, Stratum, sample
from engmetrics.telemetry.sampling_estimate import estimate_count, estimate_ratio, estimate_sum

DRAWS = 300


@settings(max_examples=25, deadline=None, derandomize=True)
@given(values=st.lists(st.integers(0, 1_000), min_size=5, max_size=150),
       p=st.floats(0.05, 1.0), stratified=st.booleans())
def test_ht_total_is_unbiased(values, p, stratified):
    """The mean of the HT total over many keyed draws lies within 4 standard errors of the truth, the standard
    error from the population's own design variance sum (1 - pi) / pi y^2 / DRAWS (not from the estimator)."""
    y = np.array(values, dtype=float)
    table = pa.table({"id": np.arange(y.size), "y": y, "zero": y == 0})
    if stratified:  # zeros kept with certainty, the rest with p
        policy = StratifiedSampling(key="id", column="zero", strata=[Stratum(value=True, probability=1.0)], default=p)
        pi = np.where(y == 0, 1.0, p)
    else:
        policy = HeadSampling(key="id", probability=p)
        pi = np.full(y.size, p)
    estimates = np.array([estimate_sum(sample(table, policy, f"draw-{d}".encode()), "y").value
                          for d in range(DRAWS)])
    design_se = np.sqrt(((1 - pi) / pi**2 * y**2).sum() / DRAWS)
    assert abs(estimates.mean() - y.sum()) <= 4 * design_se + 1e-9


@settings(max_examples=30, deadline=None, derandomize=True)
@given(statuses=st.lists(st.sampled_from(["ok", "error", "timeout"]), min_size=1, max_size=300),
       default=st.floats(0.001, 1.0), seed=st.binary(min_size=1, max_size=16))
def test_stratified_with_p_one_keeps_every_error(statuses, default, seed):
    table = pa.table({"id": [f"req-{i}" for i in range(len(statuses))], "status": statuses})
    policy = StratifiedSampling(key="id", column="status", strata=[Stratum(value="error", probability=1.0)],
                                default=default)
    kept = sample(table, policy, seed)
    kept_status = np.array(kept.column("status").to_pylist(), dtype=object)
    weights = kept.column("weight").to_numpy()
    assert (kept_status == "error").sum() == statuses.count("error")
    assert (weights[kept_status == "error"] == 1.0).all()
    assert np.allclose(weights[kept_status != "error"], 1.0 / default)


def _coverage(table, policy, truths, draws=400):
    """Share of draws whose 95 % interval holds the truth, per estimate (count, error count, error ratio)."""
    hits = np.zeros(3)
    for d in range(draws):
        kept = sample(table, policy, f"cover-{d}".encode())
        for i, est in enumerate((estimate_count(kept), estimate_sum(kept, "error"), estimate_ratio(kept, "error"))):
            hits[i] += est.lower <= truths[i] <= est.upper
    return hits / draws


@pytest.mark.parametrize("policy", [
    HeadSampling(key="id", probability=0.2),
    StratifiedSampling(key="id", column="error", strata=[Stratum(value=True, probability=1.0)], default=0.05),
], ids=["head", "stratified"])
def test_intervals_cover_near_nominal(policy):
    """5,000 events, 5 % errors (every 20th): the head sample holds about 50 errors, enough for the normal
    interval. Coverage over 400 draws has a binomial SE of sqrt(.95 * .05 / 400) = 0.011; we accept
    0.95 +- 0.035 (about 3 SE). The stratified error count is exact (always covered)."""
    n = 5_000
    table = pa.table({"id": np.arange(n), "error": np.arange(n) % 20 == 0})
    coverage = _coverage(table, policy, (n, n / 20, 1 / 20))
    for share in coverage:
        assert 0.915 <= share <= 0.985 or share == 1.0, coverage
