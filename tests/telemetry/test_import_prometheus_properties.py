"""Properties of the import: range pieces cover the grid exactly within Prometheus' limit, and per-step counter
buckets add up to the events that happened, across resets."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.errors import InputError
from engmetrics.telemetry.prom_api import parse_instant, pieces
from engmetrics.telemetry.prom_import import SliQuery, counter_buckets, histogram_selector


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 2_000_000_000), steps=st.integers(0, 100_000), step=st.integers(1, 3600),
       extra=st.integers(0, 3599), limit=st.integers(1, 11_000))
def test_pieces_cover_every_grid_point_once_within_the_limit(start, steps, step, extra, limit):
    end = start + steps * step + extra % step
    ranges = pieces(start, end, step, max_points=limit)
    points = [t for first, last in ranges for t in range(first, last + 1, step)]
    assert points == list(range(start, end + 1, step))
    assert all((last - first) // step + 1 <= limit for first, last in ranges)
    assert all(first % step == start % step for first, _ in ranges)


@settings(max_examples=150, deadline=None)
@given(events=st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=1, max_size=40),
       step=st.sampled_from([1, 15, 60]))
def test_counter_buckets_add_up_to_the_events_across_resets(events, step):
    """A counter scraped every step: each step adds some events, or restarts (from 0) and adds some; a restart is
    seen when the value drops, so restarts are generated only where it does."""
    value, values, expected = 0, [0], {}
    for k, (added, restart) in enumerate(events, start=1):
        restarted = restart and added < value
        value = added if restarted else value + added
        values.append(value)
        expected[(k - 1) * step] = float(added)  # events up to the point at k*step: the bucket one step before
    batch = pa.table({"series": ["c"] * len(values), "value": [float(v) for v in values],
                      "ts": pa.array([k * step for k in range(len(values))], pa.timestamp("s", tz="UTC"))})
    buckets = counter_buckets(batch, step)
    got = dict(zip([int(t.timestamp()) for t in buckets.column("ts").to_pylist()],
                   buckets.column("increase").to_pylist(), strict=True))
    assert got == expected


def test_instants_and_selectors():
    assert parse_instant("2026-03-01", end=True).isoformat() == "2026-03-02T00:00:00+00:00"
    assert parse_instant("2026-03-01T10:00:00+02:00").isoformat() == "2026-03-01T08:00:00+00:00"
    with pytest.raises(InputError, match="invalid duration"):
        parse_instant("now-soon")
    with pytest.raises(InputError, match="not an ISO date"):
        parse_instant("yesterday")
    assert histogram_selector("http_seconds") == ("http_seconds",
                                                  '{__name__=~"http_seconds_bucket|http_seconds_count"}')
    with pytest.raises(InputError, match="names the histogram"):
        histogram_selector("rate(http_seconds_bucket[5m])")
    with pytest.raises(InputError, match="takes no --good-query"):
        SliQuery("h", good="g", le=0.5)
