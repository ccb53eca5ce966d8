"""Request traffic per service and hour: the load that SLIs, telemetry, cost and volume all share.

Traffic has a daily cycle in the owning team's time zone, quieter weekends, slow growth and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import topic_rng
from .org import Org

__all__ = ["Traffic", "build_traffic"]

_BASE_BY_TIER = {0: (20_000, 80_000), 1: (5_000, 20_000), 2: (1_000, 5_000), 3: (100, 1_000)}


@dataclass
class Traffic:
    """requests: services x hours (counts); latency_base_ms: typical p95 latency per service."""

    requests: np.ndarray
    latency_base_ms: np.ndarray
    load: np.ndarray  # services x hours, traffic relative to the service's mean (about 1)


def build_traffic(seed: int, org: Org) -> Traffic:
    """Hourly request counts for every service over the demo period."""
    rng = topic_rng(seed, "traffic")
    period = org.period
    n_services, hours = len(org.services), period.hours
    low = np.array([_BASE_BY_TIER[s.tier][0] for s in org.services], dtype=float)
    high = np.array([_BASE_BY_TIER[s.tier][1] for s in org.services], dtype=float)
    base = np.exp(rng.uniform(np.log(low), np.log(high)))
    team_of = org.service_team_index()
    offsets = np.repeat(org.offsets[team_of], 24, axis=1)  # services x hours, seconds
    utc_hour = np.arange(hours) % 24
    local_hour = (utc_hour[None, :] + offsets // 3600) % 24
    daily = 0.35 + 0.65 * np.clip(np.sin((local_hour - 6) / 16 * np.pi), 0, None)
    weekday = np.repeat(period.weekdays(), 24)
    weekly = np.where(weekday >= 5, 0.7, 1.0)[None, :]
    growth = (1 + 0.1 * np.arange(hours) / max(hours, 1))[None, :]
    noise = np.exp(0.08 * rng.standard_normal((n_services, hours)))
    shape = daily * weekly * growth * noise
    load = shape / shape.mean(axis=1, keepdims=True)
    requests = rng.poisson(base[:, None] * shape).astype(np.int64)
    latency = np.exp(rng.uniform(np.log(80), np.log(400), n_services))
    return Traffic(requests, latency, load)
