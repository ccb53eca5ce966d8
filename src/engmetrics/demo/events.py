"""Sampled request events: what an upstream tail sampler (an OpenTelemetry collector keeping every error and
1 % of the successes) delivers for the demo's last two days.

Each kept event carries its weight = 1 / inclusion probability (1 for an error, 100 for a success), so the
weighted count of a service-hour estimates its requests in `sli_events` and the weighted error count equals
its failed requests exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .common import to_table, topic_rng
from .org import Org
from .traffic import Traffic

__all__ = ["SUCCESS_PROBABILITY", "build_events"]

SUCCESS_PROBABILITY = 0.01  # the sampler keeps this share of successful requests, and every error
_HOURS = 48
_OPERATIONS = np.array(["GET /items", "GET /items/{id}", "POST /orders", "GET /health"])


def build_events(seed: int, org: Org, traffic: Traffic, sli_events: pa.Table, latency_ms: np.ndarray) -> pa.Table:
    """The sampled `request_events` of every service for the period's last 48 hours (fewer if shorter).

    `sli_events` gives each service-hour's failed requests (availability: total - good, services x hours
    order as `demo.sli` builds it) and `latency_ms` its p95 latency."""
    rng = topic_rng(seed, "events")
    n_services, hours = traffic.requests.shape
    first = max(hours - _HOURS, 0)
    availability = sli_events.slice(0, n_services * hours)
    total = availability.column("total").to_numpy().reshape(n_services, hours)[:, first:]
    failed = total - availability.column("good").to_numpy().reshape(n_services, hours)[:, first:]
    kept_ok = rng.binomial((total - failed).astype(np.int64), SUCCESS_PROBABILITY)
    per_cell = (kept_ok + failed.astype(np.int64)).ravel()
    cell = np.repeat(np.arange(per_cell.size), per_cell)
    position = np.arange(cell.size) - np.repeat(np.cumsum(per_cell) - per_cell, per_cell)
    error = position >= kept_ok.ravel()[cell]  # each cell's successes first, then its errors
    service, hour = np.divmod(cell, hours - first)
    hour_start = org.period.hour_starts()[first:][hour]
    ts = hour_start + rng.integers(0, 3600, cell.size).astype("m8[s]")
    p95 = latency_ms[:, first:][service, hour]
    duration = np.round(p95 / np.exp(1.645 * 0.5) * np.exp(0.5 * rng.standard_normal(cell.size)), 1)
    names = np.array([s.id for s in org.services])
    return to_table({
        "event_id": np.char.add(np.char.add(names[service], "-"), np.arange(cell.size).astype(str)),
        "ts": ts, "service": names[service], "operation": _OPERATIONS[rng.integers(0, len(_OPERATIONS), cell.size)],
        "outcome": np.where(error, "error", "ok"), "duration_ms": duration, "attributes": np.full(cell.size, None),
        "weight": np.where(error, 1.0, 1 / SUCCESS_PROBABILITY),
    })
