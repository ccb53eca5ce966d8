"""Incidents, their postmortem action items and the rollbacks that fix deploy-caused ones.

Bigger production deploys fail more often; a failed deploy starts an incident shortly after it
finishes and is mitigated by a rollback. Other incidents (capacity, dependencies, ...) arrive at
random, more often for critical services. Durations are lognormal and grow with severity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .common import MINUTE, NAT, after_end, lognormal_seconds, to_table, topic_rng, with_prefix
from .delivery import Deploys
from .org import Org

__all__ = ["Incidents", "build_incidents"]

_CAUSES = ("capacity", "dependency", "configuration", "infrastructure", "data")
_FACTORS = ("missing alert", "insufficient testing", "manual step", "unclear ownership", "load spike",
            "stale runbook", "config drift", "retry storm")
_SYMPTOMS = ("elevated error rate", "high latency", "partial outage", "timeouts", "degraded throughput")
# Fraction of requests failing while an incident of severity 1..5 is not yet mitigated.
ERROR_RATE = np.array([0.0, 0.35, 0.15, 0.05, 0.015, 0.004])
LATENCY_FACTOR = np.array([0.0, 4.0, 2.5, 1.8, 1.3, 1.1])


@dataclass
class Incidents:
    """Incident arrays (for SLIs, alerts, CSAT) and the finished tables."""

    service: np.ndarray
    severity: np.ndarray
    impact_started: np.ndarray
    mitigated: np.ndarray  # NaT while still open
    ids: np.ndarray
    table: pa.Table
    action_items: pa.Table
    deploys: Deploys  # the input deploys plus rollbacks and hotfixes


def build_incidents(seed: int, org: Org, deploys: Deploys) -> Incidents:
    """Incidents caused by deploys plus spontaneous ones; rollbacks added to the deploys."""
    rng = topic_rng(seed, "incidents")
    period, end = org.period, org.period.end
    ids_of_deploys = deploys.id
    prod = np.flatnonzero((deploys.environment == "production") & (deploys.status == "success")
                          & ~np.isnat(deploys.finished_at))
    risk = 0.012 + 0.012 * np.clip(np.log2(deploys.size[prod] / 100 + 1), 0, 4)
    failed = prod[rng.random(len(prod)) < risk]
    tier = np.array([s.tier for s in org.services])
    spontaneous_rate = np.array([0.03, 0.02, 0.012, 0.008])[tier]
    counts = rng.poisson(spontaneous_rate[:, None] * np.ones(period.days))
    sp_service, sp_day = np.nonzero(counts)
    sp_start = period.day_starts()[sp_day] + rng.integers(0, 86400, len(sp_day)).astype("m8[s]")

    service = np.concatenate([deploys.service[failed], sp_service])
    impact = np.concatenate([deploys.finished_at[failed] + lognormal_seconds(rng, 15 * 60, 0.8, len(failed)),
                             sp_start])
    caused_by = np.concatenate([ids_of_deploys[failed], np.full(len(sp_day), None)]).astype(object)
    keep = impact < end - 30 * MINUTE
    service, impact, caused_by = service[keep], impact[keep], caused_by[keep]
    order = np.argsort(impact, kind="stable")
    service, impact, caused_by = service[order], impact[order], caused_by[order]
    n = len(service)
    from_deploy = np.array([c is not None for c in caused_by], dtype=bool)

    severity = rng.choice(np.arange(1, 6), size=n, p=[0.03, 0.12, 0.35, 0.35, 0.15])
    severity = np.where(tier[service] >= 2, np.maximum(severity, 3), severity)
    detected = impact + lognormal_seconds(rng, 8 * 60, 0.9, n)
    declared = detected + lognormal_seconds(rng, 6 * 60, 0.8, n)
    acknowledged = detected + lognormal_seconds(rng, 4 * 60, 0.8, n)
    restore_median = np.array([0, 50, 70, 90, 120, 180])[severity] * 60.0
    restore = np.exp(np.log(restore_median) + 0.9 * rng.standard_normal(n))
    mitigated = impact + restore.astype(np.int64).astype("m8[s]")
    mitigated = np.maximum(mitigated, detected + 5 * MINUTE)
    resolved = np.maximum(mitigated + lognormal_seconds(rng, 3 * 3600, 1.0, n), declared + MINUTE)
    acknowledged, mitigated, resolved = (after_end(x, end) for x in (acknowledged, mitigated, resolved))
    declared = np.minimum(declared, end - MINUTE)
    detected = np.minimum(detected, declared)

    ids = with_prefix("INC-", np.arange(1, n + 1), 4)
    names = np.array([s.id for s in org.services])
    teams = np.array([s.team for s in org.services])
    symptom = np.array(_SYMPTOMS)[rng.integers(0, len(_SYMPTOMS), n)]
    cause = np.where(from_deploy, "change", np.array(_CAUSES)[rng.integers(0, len(_CAUSES), n)])
    factors = [sorted({_FACTORS[i] for i in rng.integers(0, len(_FACTORS), rng.integers(1, 4))}) for _ in range(n)]
    customer = (severity <= 3) & np.array([s.customer_facing for s in org.services])[service]
    users = np.where(customer, np.round(np.exp(rng.normal(8 - severity, 1.0))), np.nan)
    table = to_table({
        "incident_id": ids, "service": names[service], "team": teams[service],
        "severity": severity.astype(np.int64), "title": np.char.add(np.char.add(names[service], ": "), symptom),
        "summary": np.char.add("Customers saw ", symptom), "impact_started_at": impact, "detected_at": detected,
        "declared_at": declared, "acknowledged_at": acknowledged, "mitigated_at": mitigated,
        "resolved_at": resolved,
        "detection_source": np.where(rng.random(n) < 0.75, "alert", np.where(rng.random(n) < 0.6, "customer",
                                                                                "employee")),
        "customer_impact": customer, "users_affected": pa.array(users, pa.int64(), from_pandas=True),
        "root_cause_category": cause, "contributing_factors": pa.array(factors, pa.list_(pa.string())),
        "caused_by_deployment_id": pa.array(caused_by.tolist(), pa.string()),
        "confidentiality": np.where(severity <= 2, "confidential", "internal"),
    })

    # A rollback mitigates each deploy-caused incident; a hotfix follows some spontaneous ones.
    fix_rows = np.flatnonzero(~np.isnat(mitigated) & (from_deploy | (rng.random(n) < 0.3)))
    k = len(fix_rows)
    fix_start = mitigated[fix_rows] - lognormal_seconds(rng, 8 * 60, 0.4, k)
    fix_start = np.maximum(fix_start, declared[fix_rows])
    fix_end = fix_start + lognormal_seconds(rng, 4 * 60, 0.4, k)
    rollback = from_deploy[fix_rows]
    fixes = Deploys(
        service=service[fix_rows], environment=np.full(k, "production"), started_at=fix_start,
        finished_at=np.where(fix_end >= end, NAT, fix_end),
        status=np.where(fix_end >= end, "in_progress", "success"),
        commit_sha=np.full(k, "0" * 40), change_ids=[[] for _ in range(k)], is_rollback=rollback,
        is_hotfix=~rollback, fixes_incident_id=ids[fix_rows].astype(object), size=np.zeros(k, np.int64),
        id=np.full(k, "")).numbered(first=len(deploys) + 1)
    all_deploys = Deploys.concat([deploys, fixes])
    action_items = _action_items(rng, org, ids, severity, resolved, teams[service])
    return Incidents(service, severity, impact, mitigated, ids, table, action_items, all_deploys)


def _action_items(rng: np.random.Generator, org: Org, ids: np.ndarray, severity: np.ndarray,
                  resolved: np.ndarray, team: np.ndarray) -> pa.Table:
    """Postmortems of severity 1-3 incidents yield 2-4 items; many are still open, some overdue."""
    end = org.period.end
    reviewed = (severity <= 3) & ~np.isnat(resolved)
    counts = np.where(reviewed, rng.integers(2, 5, len(ids)), 0)
    inc = np.repeat(np.arange(len(ids)), counts)
    item = np.concatenate([np.arange(1, c + 1) for c in counts]) if counts.sum() else np.array([], int)
    m = len(inc)
    created = resolved[inc] + lognormal_seconds(rng, 2 * 86400, 0.5, m)
    due = created + np.where(rng.random(m) < 0.5, 14, 30).astype("m8[D]").astype("m8[s]")
    took = lognormal_seconds(rng, 12 * 86400, 0.8, m)
    done = rng.random(m) < 0.65
    completed = np.where(done, created + took, NAT)
    completed = after_end(completed, end)
    status = np.where(~np.isnat(completed), "done",
                      np.where(rng.random(m) < 0.1, "wont_do", np.where(rng.random(m) < 0.4, "in_progress",
                                                                            "open")))
    keep = created < end
    types = np.array(["mitigate", "prevent", "process"])[rng.integers(0, 3, m)]
    return to_table({
        "incident_id": ids[inc][keep], "item_id": with_prefix("AI-", item[keep], 2), "type": types[keep],
        "owner_team": team[inc][keep], "created_at": created[keep], "due_at": due[keep],
        "completed_at": completed[keep], "status": status[keep],
    })
