"""People-facing data: customer satisfaction, support requests, docs, decisions and surveys.

CSAT drops on days when a service is slow or down; teams paged by noisy alert rules rate their
on-call sustainability lower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .common import local_times, lognormal_seconds, to_table, topic_rng, with_prefix
from .org import Org

__all__ = ["Experience", "build_experience", "quarter_label"]

_SEGMENTS = ("free", "pro", "enterprise")
_HIDDEN_SERVICE = "reporting"  # see _csat
_TOPICS = ("access request", "database migration", "pipeline failure", "capacity", "dns change",
           "dashboard", "data export")
_DOCS = ("runbook", "architecture", "onboarding", "oncall-guide", "api-reference", "adr-index")
_DIMENSIONS = ("ease_of_delivery", "focus_time", "oncall_sustainability", "code_review_quality",
               "psychological_safety")
_DECISIONS = (
    ("Adopt trunk-based development", ("deployment_frequency", "change_lead_time_p50")),
    ("Add canary stage to production deploys", ("change_fail_rate", "time_to_restore_p50")),
    ("Silence or fix noisy alert rules", ("alert_actionable_ratio",)),
    ("Right-size idle instances", ("cost_per_transaction",)),
    ("Review rotation with a 4-hour target", ("review_latency_p90",)),
    ("Invest in latency work on the checkout path", ("csat_mean", "availability_ratio")),
)


@dataclass
class Experience:
    csat: pa.Table
    support_requests: pa.Table
    doc_updates: pa.Table
    decisions: pa.Table
    perception: pa.Table
    feedback: pa.Table


def quarter_label(day: np.datetime64) -> str:
    month = int(str(day.astype("M8[M]"))[5:7])
    return f"{str(day)[:4]}-Q{(month - 1) // 3 + 1}"


def build_experience(seed: int, org: Org, latency_ms: np.ndarray, latency_base_ms: np.ndarray,
                     incident_share: np.ndarray, alert_noise: np.ndarray) -> Experience:
    """CSAT, support requests, doc updates, decisions, perception and peer feedback."""
    rng = topic_rng(seed, "experience")
    return Experience(
        _csat(rng, org, latency_ms, latency_base_ms, incident_share), _support(rng, org), _docs(rng, org),
        _decisions(rng, org), _perception(rng, org, alert_noise), _feedback(rng, org))


def _csat(rng: np.random.Generator, org: Org, latency_ms: np.ndarray, base: np.ndarray,
          incident_share: np.ndarray) -> pa.Table:
    """Responses on a 1-5 scale; the day's latency (relative to normal) and outages lower them.

    A reliability issue no SLO sees: over the last `min(28, days // 4)` days, enterprise customers of
    `reporting` (slow exports; no SLO measures export time) answer 2 points lower.
    """
    days = org.period.days
    facing = np.flatnonzero([s.customer_facing for s in org.services])
    ratio = latency_ms.reshape(len(org.services), days, 24).mean(axis=2) / base[:, None]
    outage = incident_share.reshape(len(org.services), days, 24).mean(axis=2)
    counts = rng.poisson(4.0, size=(len(facing), days))
    f, d = np.nonzero(counts)
    f, d = np.repeat(f, counts[f, d]), np.repeat(d, counts[f, d])
    s = facing[f]
    latent = 4.4 - 2.5 * (ratio[s, d] - 1) - 6.0 * outage[s, d] + 0.8 * rng.standard_normal(len(s))
    ts = org.period.day_starts()[d] + rng.integers(0, 86400, len(d)).astype("m8[s]")
    segment = np.array(_SEGMENTS)[rng.choice(3, len(s), p=[0.6, 0.3, 0.1])]
    service = np.array([x.id for x in org.services])[s]
    hidden = (service == _HIDDEN_SERVICE) & (segment == "enterprise") & (d >= days - min(28, days // 4))
    score = np.clip(np.round(latent - np.where(hidden, 2.0, 0.0)), 1, 5)
    order = np.argsort(ts, kind="stable")
    return to_table({
        "response_id": with_prefix("R-", np.arange(1, len(s) + 1), 6), "ts": ts[order],
        "segment": segment[order], "service": service[order], "score": score[order],
        "scale": np.full(len(s), 5, dtype=np.int64),
    })


def _support(rng: np.random.Generator, org: Org) -> pa.Table:
    """Requests to the platform, data and identity teams, most resolved within days."""
    counts = rng.poisson(np.where(org.workdays(), 0.6, 0.0))
    t, d = np.nonzero(counts)
    t, d = np.repeat(t, counts[t, d]), np.repeat(d, counts[t, d])
    providers = np.array([org.team_index(x) for x in ("platform", "data", "identity")])
    to_team = providers[rng.choice(3, len(t), p=[0.55, 0.3, 0.15])]
    created = local_times(rng, org.period.day_starts()[d], org.offsets[t, d],
                          np.array([x.work_start for x in org.teams])[t], np.array([x.work_end for x in org.teams])[t])
    resolved = created + lognormal_seconds(rng, 20 * 3600, 1.2, len(t))
    resolved = np.where((resolved >= org.period.end) | (rng.random(len(t)) < 0.05), np.datetime64("NaT"),
                        resolved)
    order = np.argsort(created, kind="stable")
    names = np.array([x.id for x in org.teams])
    return to_table({
        "request_id": with_prefix("SR-", np.arange(1, len(t) + 1), 5), "from_team": names[t][order],
        "to_team": names[to_team][order], "created_at": created[order], "resolved_at": resolved[order],
        "topic": np.array(_TOPICS)[rng.integers(0, len(_TOPICS), len(t))],
    })


def _docs(rng: np.random.Generator, org: Org) -> pa.Table:
    counts = rng.poisson(np.where(org.workdays()[org.person_team], 0.08, 0.0))
    p, d = np.nonzero(counts)
    team = org.person_team[p]
    updated = local_times(rng, org.period.day_starts()[d], org.offsets[team, d],
                          np.array([x.work_start for x in org.teams])[team],
                          np.array([x.work_end for x in org.teams])[team])
    doc = np.char.add(np.char.add(np.char.add("docs/", np.array([x.id for x in org.teams])[team]), "/"),
                      np.char.add(np.array(_DOCS)[rng.integers(0, len(_DOCS), len(p))], ".md"))
    order = np.argsort(updated, kind="stable")
    return to_table({"doc_id": doc[order], "updated_at": updated[order],
                     "team": np.array([x.id for x in org.teams])[team][order], "author": org.people[p][order]})


def _decisions(rng: np.random.Generator, org: Org) -> pa.Table:
    k = max(1, org.period.days // 15)
    days = np.sort(rng.choice(org.period.days, size=min(k, org.period.days), replace=False))
    pick = rng.integers(0, len(_DECISIONS), len(days))
    outcomes = ("improved", "no measurable change", "worse, reverted", "too early to tell")
    return to_table({
        "decision_id": with_prefix("DEC-", np.arange(1, len(days) + 1), 3),
        "date": pa.array(org.period.day_starts()[days].astype("M8[D]"), pa.date32()),
        "title": np.array([_DECISIONS[i][0] for i in pick]),
        "owner_team": np.array([x.id for x in org.teams])[rng.integers(0, len(org.teams), len(days))],
        "metrics": pa.array([list(_DECISIONS[i][1]) for i in pick], pa.list_(pa.string())),
        "outcome": np.array(outcomes)[rng.integers(0, len(outcomes), len(days))],
    })


def _quarters(org: Org) -> list[str]:
    return sorted({quarter_label(d) for d in org.period.day_starts()[:: 7]} |
                  {quarter_label(org.period.day_starts()[-1])})


def _perception(rng: np.random.Generator, org: Org, alert_noise: np.ndarray) -> pa.Table:
    """Team-level survey means (1-5); noisy pagers hurt on-call sustainability."""
    quarters = _quarters(org)
    noise = alert_noise / max(alert_noise.max(), 1.0)
    rows = [(t.id, q, dim) for t in org.teams for q in quarters for dim in _DIMENSIONS]
    team = np.repeat(np.arange(len(org.teams)), len(quarters) * len(_DIMENSIONS))
    dim = np.tile(np.arange(len(_DIMENSIONS)), len(org.teams) * len(quarters))
    score = 3.7 + 0.3 * rng.standard_normal(len(rows)) - np.where(dim == 2, 1.5 * noise[team], 0)
    return to_table({"team": np.array([r[0] for r in rows]), "period": np.array([r[1] for r in rows]),
                     "dimension": np.array([r[2] for r in rows]), "score": np.round(np.clip(score, 1, 5), 2)})


def _feedback(rng: np.random.Generator, org: Org) -> pa.Table:
    """Each person rates two teammates per quarter on two dimensions (restricted, individual-level)."""
    rater, ratee, period, dimension = [], [], [], []
    for q in _quarters(org):
        for t in range(len(org.teams)):
            members = org.members(t)
            for i, person in enumerate(members):
                for step in (1, 2):
                    other = members[(i + step) % len(members)]
                    for dim in ("collaboration", "craft"):
                        rater.append(person)
                        ratee.append(other)
                        period.append(q)
                        dimension.append(dim)
    score = np.clip(np.round(3.8 + 0.7 * rng.standard_normal(len(rater))), 1, 5)
    return to_table({"rater": org.people[np.array(rater)], "ratee": org.people[np.array(ratee)],
                     "period": np.array(period), "dimension": np.array(dimension), "score": score})
