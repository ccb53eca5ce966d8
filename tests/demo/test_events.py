"""The demo's sampled request events agree with its SLI counts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np
import pyarrow.compute as pc

from engmetrics.demo import DemoData
from engmetrics.demo.events import SUCCESS_PROBABILITY

from .conftest import END


def test_weighted_events_estimate_the_last_two_days_of_requests(data: DemoData) -> None:
    events, sli = data.tables["request_events"], data.tables["sli_events"]
    start = datetime.combine(END - timedelta(days=1), time(), UTC)  # the period ends at END + 1 day
    assert pc.min(events.column("ts")).as_py() >= start
    availability = sli.filter(pc.equal(sli.column("indicator"), "availability"))
    recent = availability.filter(pc.greater_equal(availability.column("ts"), start))
    assert recent.num_rows == len(data.org.services) * 48  # two of the three days, every service
    errors = events.filter(pc.equal(events.column("outcome"), "error"))
    failed = pc.sum(pc.subtract(recent.column("total"), recent.column("good"))).as_py()
    # every error is kept with weight 1: the weighted error count is the failed requests exactly
    assert pc.sum(errors.column("weight")).as_py() == errors.num_rows == failed
    assert set(events.column("weight").unique().to_pylist()) == {1.0, 1 / SUCCESS_PROBABILITY}
    # successes: binomial(n, 1 %) kept, weight 100; the estimate's sd is sqrt(n p (1 - p)) / p ~ 10 sqrt(n)
    n_ok = pc.sum(recent.column("good")).as_py()
    estimate = pc.sum(events.column("weight")).as_py() - failed
    assert abs(estimate - n_ok) < 4 * np.sqrt(n_ok * (1 - SUCCESS_PROBABILITY) / SUCCESS_PROBABILITY)
