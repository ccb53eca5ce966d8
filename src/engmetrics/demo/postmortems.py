"""Postmortems: most resolved incidents of severity 1-3 get one a few days later, of uneven completeness;
some severe incidents never do (they count as 0 in `engmetrics postmortem completeness --by team`).

>>> from datetime import date
>>> from engmetrics.demo.common import Period
>>> from engmetrics.demo.delivery import build_delivery
>>> from engmetrics.demo.incidents import build_incidents
>>> from engmetrics.demo.org import build_org
>>> org = build_org(7, Period.ending(date(2026, 1, 4), days=60))
>>> table = build_postmortems(7, org, build_incidents(7, org, build_delivery(7, org).deploys).table)
>>> table.num_rows > 0 and min(table.column("completeness").to_pylist()) >= 0.4
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..incidents.postmortem.model import DEFAULT_FACTORS
from .common import lognormal_seconds, to_table, topic_rng
from .org import Org

__all__ = ["build_postmortems"]

_SOURCES = ("alert", "customer", "employee")


def build_postmortems(seed: int, org: Org, incidents: pa.Table) -> pa.Table:
    """One postmortem for 85 % of the resolved severity 1-3 incidents, imported 1-10 days after resolution."""
    rng = topic_rng(seed, "postmortems")
    columns = {c: np.asarray(incidents.column(c).to_numpy(zero_copy_only=False))
               for c in ("incident_id", "team", "severity", "summary", "impact_started_at", "mitigated_at",
                         "resolved_at")}
    resolved = columns["resolved_at"].astype("M8[s]")
    imported = resolved + lognormal_seconds(rng, 3 * 86400, 0.6, len(resolved))
    keep = ((columns["severity"] <= 3) & ~np.isnat(resolved) & (rng.random(len(resolved)) < 0.85)
            & (imported < org.period.end))
    n = int(keep.sum())
    start, mitigated = columns["impact_started_at"].astype("M8[s]")[keep], columns["mitigated_at"].astype("M8[s]")[keep]
    gap = (mitigated - start).astype("m8[s]")
    minutes = np.where(np.isnat(gap), np.nan, gap.astype(np.int64) / 60)
    completeness = np.round(rng.choice([0.4, 0.65, 0.85, 0.95, 1.0], n, p=[0.1, 0.2, 0.3, 0.2, 0.2]), 3)
    ids = columns["incident_id"][keep].astype(str)
    factors = [sorted(set(rng.choice(DEFAULT_FACTORS, rng.integers(1, 4)).tolist())) for _ in range(n)]
    return to_table({
        "incident_id": ids, "file": np.char.add(np.char.add("postmortems/", ids), ".md"),
        "team": columns["team"][keep].astype(str), "summary": columns["summary"][keep].astype(str),
        "users_affected": rng.integers(10, 5000, n), "duration_minutes": np.round(minutes, 1),
        "slo_budget_consumed": np.round(rng.uniform(0.01, 0.6, n), 3),
        "detection_source": np.array(rng.choice(_SOURCES, n, p=[0.7, 0.2, 0.1])),
        "trigger": np.full(n, "a change rolled out to every region at once"),
        "resolution": np.full(n, "rolled back and drained the queue"),
        "contributing_factors": pa.array(factors, pa.list_(pa.string())),
        "went_well": np.full(n, "the alert fired within minutes"),
        "went_wrong": np.full(n, "the runbook was out of date"),
        "got_lucky": np.full(n, "traffic was low at the time"),
        "confidentiality": np.where(columns["severity"][keep] <= 2, "confidential", "internal"),
        "authors": pa.array([[t] for t in columns["team"][keep].astype(str)], pa.list_(pa.string())),
        "action_items": rng.integers(2, 5, n), "completeness": completeness,
        "content_sha256": np.array([f"{i:064x}" for i in rng.integers(0, 2**62, n)]),
        "imported_at": imported[keep],
    })
