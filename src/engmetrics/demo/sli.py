"""Service level indicators and the raw telemetry behind them.

Every service reports hourly `availability` (requests that did not fail) and `latency` (requests
faster than the service's threshold) as good/total counts. Errors and latency rise while an
incident is unmitigated, in proportion to its severity and to the share of the hour it covered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .common import to_table, topic_rng
from .incidents import ERROR_RATE, LATENCY_FACTOR, Incidents
from .org import Org
from .traffic import Traffic

__all__ = ["Sli", "build_sli"]


@dataclass
class Sli:
    sli_events: pa.Table
    telemetry_samples: pa.Table
    latency_ms: np.ndarray  # services x hours, p95 latency
    incident_share: np.ndarray  # services x hours, share of the hour under an unmitigated incident


def _incident_effects(org: Org, incidents: Incidents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share of each hour under an incident, extra error rate, latency multiplier): services x hours."""
    period = org.period
    shape = (len(org.services), period.hours)
    share, errors, latency = np.zeros(shape), np.zeros(shape), np.ones(shape)
    start = period.start.astype(np.int64)
    for s, sev, imp, mit in zip(incidents.service, incidents.severity, incidents.impact_started,
                                incidents.mitigated, strict=True):
        a = imp.astype(np.int64) - start
        b = (period.end if np.isnat(mit) else mit).astype(np.int64) - start
        hours = np.arange(a // 3600, min(-(-b // 3600), period.hours))
        cover = (np.minimum((hours + 1) * 3600, b) - np.maximum(hours * 3600, a)) / 3600
        share[s, hours] = np.minimum(share[s, hours] + cover, 1)
        errors[s, hours] += cover * ERROR_RATE[sev]
        latency[s, hours] *= 1 + cover * (LATENCY_FACTOR[sev] - 1)
    return share, errors, latency


def build_sli(seed: int, org: Org, traffic: Traffic, incidents: Incidents) -> Sli:
    """`sli_events` and `telemetry_samples`, plus hourly latency for CSAT."""
    rng = topic_rng(seed, "sli")
    n_services, hours = traffic.requests.shape
    share, extra_errors, latency_factor = _incident_effects(org, incidents)
    base_errors = np.exp(rng.uniform(np.log(2e-4), np.log(2e-3), n_services))[:, None]
    total = traffic.requests
    failed = rng.binomial(total, np.clip(base_errors + extra_errors, 0, 1))
    days = hours // 24
    slow_days = np.where(rng.random((n_services, days)) < 0.04, 1.4, 1.0)  # a bad cache, a noisy neighbour
    daily = np.repeat(slow_days * np.exp(0.06 * rng.standard_normal((n_services, days))), 24, axis=1)
    latency = (traffic.latency_base_ms[:, None] * (0.85 + 0.15 * traffic.load) * latency_factor * daily
               * np.exp(0.05 * rng.standard_normal((n_services, hours))))
    slow_rate = np.clip(0.01 * (latency / traffic.latency_base_ms[:, None]) ** 3, 0, 1)
    slow = rng.binomial(total, slow_rate)

    names = np.array([s.id for s in org.services])
    ts = org.period.hour_starts()
    service_col = np.repeat(names, hours)
    ts_col = np.tile(ts, n_services)
    sli = pa.concat_tables([
        to_table({"service": service_col, "indicator": np.full(total.size, kind), "ts": ts_col,
                  "good": (total - bad).ravel().astype(float), "total": total.ravel().astype(float)})
        for kind, bad in (("availability", failed), ("latency", slow))
    ])

    # Telemetry: a request counter (reset once when a pod restarts) and a p95 latency gauge.
    counter = np.cumsum(total, axis=1)
    reset = rng.integers(hours // 3, max(hours // 3 + 1, 2 * hours // 3), n_services)
    after = np.arange(hours)[None, :] >= reset[:, None]
    counter = np.where(after, counter - np.take_along_axis(counter, reset[:, None], axis=1) + total[
        np.arange(n_services), reset][:, None], counter)
    labels = np.array([json.dumps({"env": "production", "service": n}, sort_keys=True) for n in names])
    series_total = np.array([f'http_requests_total{{env="production",service="{n}"}}' for n in names])
    series_p95 = np.array([f'http_request_duration_p95_seconds{{env="production",service="{n}"}}' for n in names])
    source = np.char.add("prometheus/", names)
    telemetry = pa.concat_tables([
        to_table({"series": np.repeat(series, hours), "ts": ts_col, "metric": np.full(total.size, metric),
                  "labels": np.repeat(labels, hours), "value": values.ravel().astype(float),
                  "source": np.repeat(source, hours)})
        for series, metric, values in ((series_total, "http_requests_total", counter),
                                       (series_p95, "http_request_duration_p95_seconds",
                                        np.round(latency / 1000, 4)))
    ])
    return Sli(sli, telemetry, latency, share)
