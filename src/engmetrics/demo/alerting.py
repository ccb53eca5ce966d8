"""On-call rotations, alerts and maintenance windows.

Each team runs a weekly primary rotation that hands over on Monday 09:00 local time. Incidents fire
actionable, high-urgency alerts; a handful of noisy rules fire daily, are rarely actionable and
mostly resolve on their own; the on-call person of the owning team responds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from .common import HOUR, NAT, after_end, lognormal_seconds, to_table, topic_rng, with_prefix
from .incidents import Incidents
from .org import Org

__all__ = ["Alerting", "build_alerting"]

_QUIET_RULES = ("HighErrorRate", "HighLatency", "PodCrashLooping", "DiskFillingUp", "CertificateExpiry")
_NOISY_RULES = ("CPUThrottlingHigh", "QueueDepthWarning", "HeartbeatFlapping")


@dataclass
class Alerting:
    oncall_shifts: pa.Table
    alerts: pa.Table
    maintenance_windows: pa.Table
    alerts_per_team: np.ndarray  # non-actionable alerts per team (for the perception survey)


def _shifts(org: Org) -> tuple[pa.Table, list[np.ndarray], list[np.ndarray]]:
    """Weekly shifts per team; also per team the shift starts and the person index on call."""
    period = org.period
    first = period.dates()[0]
    monday = first - timedelta(days=first.weekday())
    weeks = (period.days + first.weekday()) // 7 + 1
    rows: dict[str, list] = {"person": [], "rotation": [], "start_at": [], "team": [], "end_at": []}
    starts_by_team, person_by_team = [], []
    for t, team in enumerate(org.teams):
        members = org.members(t)
        days = [monday + timedelta(weeks=w) for w in range(weeks + 1)]
        starts = np.array([np.datetime64(d.isoformat(), "s") + 9 * HOUR for d in days])
        offsets = np.array([_offset_on(org, t, d) for d in days])
        starts = starts - offsets.astype("m8[s]")
        on_call = members[(np.arange(len(days)) + t) % len(members)]
        keep = starts[:-1] < period.end
        rows["person"] += org.people[on_call[:-1][keep]].tolist()
        rows["rotation"] += [f"{team.id}-primary"] * int(keep.sum())
        rows["start_at"].append(starts[:-1][keep])
        rows["team"] += [team.id] * int(keep.sum())
        rows["end_at"].append(starts[1:][keep])
        starts_by_team.append(starts)
        person_by_team.append(on_call)
    table = to_table({k: np.concatenate(v) if k in ("start_at", "end_at") else np.array(v) for k, v in rows.items()})
    return table, starts_by_team, person_by_team


def _offset_on(org: Org, team: int, day: date) -> int:
    index = min(max((day - org.period.dates()[0]).days, 0), org.period.days - 1)
    return int(org.offsets[team, index])


def build_alerting(seed: int, org: Org, incidents: Incidents) -> Alerting:
    """On-call shifts, alerts (incident-driven and noise) and maintenance windows."""
    rng = topic_rng(seed, "alerting")
    period, end = org.period, org.period.end
    shifts, starts_by_team, person_by_team = _shifts(org)
    service_team = org.service_team_index()
    n_services = len(org.services)

    # Incident alerts: one to three per incident, fired after the impact starts.
    per_incident = rng.integers(1, 4, len(incidents.ids))
    inc = np.repeat(np.arange(len(incidents.ids)), per_incident)
    inc_fired = incidents.impact_started[inc] + lognormal_seconds(rng, 6 * 60, 0.8, len(inc))
    inc_rule = np.array(_QUIET_RULES[:2])[rng.integers(0, 2, len(inc))]
    inc_resolved = np.where(np.isnat(incidents.mitigated[inc]), NAT, incidents.mitigated[inc])
    inc_resolved = np.maximum(inc_resolved, inc_fired + 60 * np.timedelta64(1, "s"))

    # Background alerts: every service has quiet rules; three services carry the noisy ones.
    noisy_services = rng.choice(n_services, size=3, replace=False)
    rules, rule_service, rule_rate, rule_actionable = [], [], [], []
    for s in range(n_services):
        for name in _QUIET_RULES:
            rules.append(name)
            rule_service.append(s)
            rule_rate.append(0.02)
            rule_actionable.append(0.5)
        if s in noisy_services:
            for name in _NOISY_RULES:
                rules.append(name)
                rule_service.append(s)
                rule_rate.append(rng.uniform(1.0, 3.0))
                rule_actionable.append(0.05)
    counts = rng.poisson(np.array(rule_rate)[:, None] * np.ones(period.days))
    rule_idx, day = np.nonzero(counts)
    rule_idx, day = np.repeat(rule_idx, counts[rule_idx, day]), np.repeat(day, counts[rule_idx, day])
    bg_fired = period.day_starts()[day] + rng.integers(0, 86400, len(day)).astype("m8[s]")
    bg_service = np.array(rule_service)[rule_idx]
    bg_actionable = rng.random(len(day)) < np.array(rule_actionable)[rule_idx]
    bg_auto = ~bg_actionable & (rng.random(len(day)) < 0.8)
    bg_resolved = bg_fired + np.where(bg_auto, lognormal_seconds(rng, 6 * 60, 0.7, len(day)),
                                      lognormal_seconds(rng, 50 * 60, 1.0, len(day)))

    service = np.concatenate([incidents.service[inc], bg_service])
    fired = np.concatenate([inc_fired, bg_fired])
    rule = np.concatenate([inc_rule, np.array(rules)[rule_idx]])
    actionable = np.concatenate([np.ones(len(inc), bool), bg_actionable])
    auto = np.concatenate([np.zeros(len(inc), bool), bg_auto])
    resolved = np.concatenate([inc_resolved, bg_resolved])
    incident_id = np.concatenate([incidents.ids[inc], np.full(len(day), None)]).astype(object)
    urgency = np.where(actionable | (rng.random(len(fired)) < 0.3), "high", "low")
    acked = (urgency == "high") & ~auto
    acknowledged = np.where(acked, fired + lognormal_seconds(rng, 4 * 60, 0.9, len(fired)), NAT)
    keep = fired < end
    team = service_team[service]
    responder = np.full(len(fired), None, dtype=object)
    for t in range(len(org.teams)):
        rows = np.flatnonzero((team == t) & acked)
        shift = np.clip(np.searchsorted(starts_by_team[t], fired[rows], side="right") - 1, 0,
                        len(person_by_team[t]) - 1)
        responder[rows] = org.people[person_by_team[t][shift]]
    order = np.flatnonzero(keep)[np.argsort(fired[keep], kind="stable")]
    names = np.array([s.id for s in org.services])
    alerts = to_table({
        "alert_id": with_prefix("AL-", np.arange(1, len(order) + 1), 6),
        "rule": np.char.add(np.char.add(names[service[order]], ":"), rule[order]),
        "source": np.full(len(order), "alertmanager"), "service": names[service[order]],
        "team": np.array([t.id for t in org.teams])[team[order]], "urgency": urgency[order],
        "fired_at": fired[order], "acknowledged_at": after_end(acknowledged[order], end),
        "resolved_at": after_end(resolved[order], end), "responder": responder[order],
        "incident_id": incident_id[order], "actionable": actionable[order], "auto_resolved": auto[order],
    })
    noise = np.bincount(team[keep & ~actionable], minlength=len(org.teams)).astype(float)
    return Alerting(shifts, alerts, _maintenance(rng, org), noise)


def _maintenance(rng: np.random.Generator, org: Org) -> pa.Table:
    """A monthly window (first Saturday, 02:00 UTC) for tier 0-1 services, plus a few one-offs."""
    first = org.period.dates()[0]
    saturday = first + timedelta(days=(5 - first.weekday()) % 7)
    while saturday.day > 7:
        saturday += timedelta(weeks=1)
    rows = []
    for s in org.services:
        if s.tier <= 1:
            start = np.datetime64(saturday.isoformat(), "s") + 2 * HOUR
            rows.append((s.id, start, start + 2 * HOUR, "FREQ=MONTHLY;BYDAY=1SA", "routine patching"))
    one_off = rng.choice(len(org.services), size=min(5, len(org.services)), replace=False)
    days = rng.integers(0, org.period.days, len(one_off))
    for s, d in zip(one_off, days, strict=True):
        start = org.period.day_starts()[d] + 22 * HOUR
        rows.append((org.services[s].id, start, start + 3 * HOUR, None, "database upgrade"))
    return to_table({
        "window_id": with_prefix("MW-", np.arange(1, len(rows) + 1), 3),
        "service": np.array([r[0] for r in rows]), "start_at": np.array([r[1] for r in rows]),
        "end_at": np.array([r[2] for r in rows]), "rrule": np.array([r[3] for r in rows], dtype=object),
        "reason": np.array([r[4] for r in rows]), "approved_by": np.full(len(rows), "change-advisory-board"),
    })
