"""Properties of the estimates an indicator computes over stored sampled rows (request_events), through the
engine: unbiased, and 95 % intervals that cover the truth at about the stated rate.

Each keyed draw of the sample is stored as its own `service` (d0, d1, ...), so one grouped calculation gives
the estimate of every draw, exactly as an indicator grouped by service computes it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.catalog.compute import compute
from engmetrics.catalog.model import Calculation
from engmetrics.catalog.periods import Period
from engmetrics.store import Store
from engmetrics.telemetry.sampling import HeadSampling, StratifiedSampling, Stratum, sample

WEEK = Period(date(2026, 3, 2), date(2026, 3, 8))
ERROR = {"column": "outcome", "value": "error"}


def _population(durations: np.ndarray, errors: np.ndarray) -> pa.Table:
    n = durations.size
    start = datetime(2026, 3, 2, tzinfo=UTC)
    return pa.table({"id": np.arange(n), "ts": pa.array([start + timedelta(seconds=int(s)) for s in
                                                          np.arange(n) * (6 * 86400 // max(n, 1))],
                                                         pa.timestamp("us", "UTC")),
                     "outcome": np.where(errors, "error", "ok"), "duration_ms": durations.astype(float)})


def _store_draws(population: pa.Table, policy, draws: int) -> Store:
    """A store whose request_events hold `draws` keyed samples of `population`, draw d as service `d{d}`."""
    parts = []
    for d in range(draws):
        kept = sample(population, policy, f"draw-{d}".encode())
        parts.append(pa.table({
            "event_id": pa.array([f"{d}-{i}" for i in kept.column("id").to_pylist()], pa.string()),
            "ts": kept.column("ts"), "service": pa.array([f"d{d}"] * kept.num_rows, pa.string()),
            "outcome": kept.column("outcome"), "duration_ms": kept.column("duration_ms"),
            "weight": kept.column("weight")}))
    store = Store.open("duckdb://")
    store.sql.register("_draws", pa.concat_tables(parts))
    store.sql.execute("INSERT INTO request_events (event_id, ts, service, outcome, duration_ms, weight) "
                      "SELECT event_id, ts, service, outcome, duration_ms, weight FROM _draws")
    store.sql.unregister("_draws")
    return store


def _per_draw(store: Store, measure: dict, draws: int) -> list:
    calc = Calculation.model_validate({"dataset": "request_events", "group_by": "service", "measure": measure})
    got = compute(store, calc, WEEK)
    return [got.get(f"d{d}") for d in range(draws)]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(values=st.lists(st.integers(0, 1_000), min_size=5, max_size=120), p=st.floats(0.05, 1.0),
       stratified=st.booleans())
def test_stored_estimate_of_a_sum_is_unbiased(values, p, stratified):
    """The mean over 300 keyed draws of the engine's HT sum lies within 4 standard errors of the truth, the
    standard error from the design variance sum (1 - pi) / pi y^2 / 300 (not from the estimator). A draw that
    kept no row estimates 0."""
    draws = 300
    y = np.array(values, dtype=float)
    zero = y == 0
    if stratified:  # rows with y = 0 ("errors" here) kept with certainty, the rest with p
        policy = StratifiedSampling(key="id", column="outcome", strata=[Stratum(value="error", probability=1.0)],
                                    default=p)
        pi = np.where(zero, 1.0, p)
    else:
        policy = HeadSampling(key="id", probability=p)
        pi = np.full(y.size, p)
    with _store_draws(_population(y, zero), policy, draws) as store:
        got = _per_draw(store, {"type": "sum", "column": "duration_ms"}, draws)
    estimates = np.array([0.0 if g is None else g.value for g in got])
    design_se = np.sqrt(((1 - pi) / pi**2 * y**2).sum() / draws)
    assert abs(estimates.mean() - y.sum()) <= 4 * design_se + 1e-9


@pytest.mark.parametrize(("policy", "exact"), [
    (HeadSampling(key="id", probability=0.2), set()),
    (StratifiedSampling(key="id", column="outcome", strata=[Stratum(value="error", probability=1.0)], default=0.05),
     {"errors"}),
], ids=["head", "stratified"])
def test_stored_intervals_cover_near_nominal(policy, exact):
    """5,000 events, 5 % errors (every 20th), 400 draws: the share of 95 % intervals holding the truth, for the
    event count, the error count and the error ratio.

    The band, by hand: with true coverage 0.95 the number of covering draws is Binomial(400, 0.95), mean 380,
    SD sqrt(400 * .95 * .05) = 4.36 (0.0109 as a share). 0.915-0.985 is 366-394 draws, 14 = 3.2 SD either side:
    a correct interval falls outside with probability 0.0013 (two-sided normal tail at 3.2 SD; the exact
    binomial tail is 0.0012). An interval twice too wide covers 0.9999 of draws (z = 3.92): 400 > 394, so it
    fails; one 30 % too narrow covers 0.83 (z = 1.37): about 332 < 366, fails too. (The draws use fixed keys,
    so the test is deterministic.) Only an estimate with no random part is exactly covered
    every time: the stratified error count (every error kept at weight 1), whose interval is the point itself.
    """
    n, draws = 5_000, 400
    errors = np.arange(n) % 20 == 0
    truths = {"count": n, "errors": n / 20, "ratio": 1 / 20}
    measures = {"count": {"type": "count"}, "errors": {"type": "count", "filters": [ERROR]},
                "ratio": {"type": "ratio", "numerator": {"type": "count", "filters": [ERROR]},
                          "denominator": {"type": "count"}}}
    with _store_draws(_population(np.ones(n), errors), policy, draws) as store:
        for name, measure in measures.items():
            got = _per_draw(store, measure, draws)
            assert all(g is not None and g.estimated for g in got)
            share = np.mean([g.low <= truths[name] <= g.high for g in got])
            if name in exact:
                assert all(g.low == g.value == g.high == truths[name] for g in got), name
            else:
                assert 0.915 <= share <= 0.985, (name, share)
