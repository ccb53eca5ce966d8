"""The band engine: any window's sums from running sums over bands equal a direct sum (property test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.slo.engine import band_sums, slice_sums
from engmetrics.slo.exclusions import Exclusion

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = [("a", "x"), ("a", "y"), ("b", "x")]

rows = st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 119), st.integers(0, 5), st.integers(0, 5)),
                max_size=40)


def _table(data):
    return ibis.memtable(pa.table({
        "service": pa.array([k[0] for k, *_ in data], pa.string()),
        "indicator": pa.array([k[1] for k, *_ in data], pa.string()),
        "ts": pa.array([T0 + timedelta(minutes=m) for _, m, _, _ in data], pa.timestamp("us", tz="UTC")),
        "good": pa.array([float(min(g, n)) for *_, g, n in data], pa.float64()),
        "total": pa.array([float(n) for *_, _, n in data], pa.float64())}))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.sets(st.integers(1, 119), max_size=5), st.integers(0, 119), st.integers(1, 30))
def test_window_sums_equal_direct_sums(data, inner_cuts, x_start, x_length):
    """Every window between cuts, every key: kept and excluded sums, and 5-minute slices, by brute force."""
    cuts = [T0] + [T0 + timedelta(minutes=m) for m in sorted(inner_cuts)]
    end = T0 + timedelta(minutes=120)
    excluded = Exclusion("test", "a", "why", T0 + timedelta(minutes=x_start),
                         T0 + timedelta(minutes=x_start + x_length))
    bands = band_sums(_table(data), cuts, end=end, exclusions=[excluded])
    slices = slice_sums(_table(data), bands, width="5m", targets=[(*k, 0.5) for k in KEYS], exclusions=[excluded])

    def is_excluded(key, minute):
        return key[0] == "a" and x_start <= minute < x_start + x_length

    bounds = [*cuts, end]
    for i, start in enumerate(cuts):
        for stop in bounds[i + 1:]:
            lo, hi = (start - T0).total_seconds() / 60, (stop - T0).total_seconds() / 60
            for key in KEYS:
                events = [(m, float(min(g, n)), float(n)) for k, m, g, n in data if k == key]
                inside = [e for e in events if lo <= e[0] < hi]
                kept = [e for e in inside if not is_excluded(key, e[0])]
                out = [e for e in inside if is_excluded(key, e[0])]
                counts = bands.counts(key, start, stop)
                assert (counts.good, counts.total) == (sum(e[1] for e in kept), sum(e[2] for e in kept))
                assert counts.excluded.get(0, (0.0, 0.0)) == (sum(e[1] for e in out), sum(e[2] for e in out))
                per_slice: dict[int, list[float]] = {}  # kept events by 5-minute slice start
                for m, g, n in (e for e in events if not is_excluded(key, e[0])):
                    sums = per_slice.setdefault(m // 5 * 5, [0.0, 0.0])
                    sums[0] += g
                    sums[1] += n
                counted = [(g, n) for s, (g, n) in per_slice.items() if lo <= s < hi and n > 0]
                got = slices.counts(key, 0.5, start, stop)
                assert (got.slices, got.good_slices) == (len(counted), sum(g / n >= 0.5 for g, n in counted))
