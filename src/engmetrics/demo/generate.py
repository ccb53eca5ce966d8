"""Generate every dataset of the demo organisation in memory (no files, no store).

>>> from datetime import date
>>> data = generate(days=7, seed=7, end=date(2026, 1, 5))
>>> sorted(data.tables) == sorted(REGISTRY)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from ..store.datasets import REGISTRY
from .alerting import build_alerting
from .bad_rows import bad_rows
from .common import Period
from .cost import build_cost
from .delivery import build_delivery
from .events import build_events
from .experience import build_experience
from .incidents import build_incidents
from .org import Org, build_org, org_tables
from .overrides import build_overrides
from .postmortems import build_postmortems
from .sli import build_sli
from .traffic import build_traffic

__all__ = ["DemoData", "generate"]


@dataclass
class DemoData:
    """The demo's tables (good rows, registry column names), the bad rows added to its files, and the
    cost side's invoices, exchange rates and notes (what `engmetrics cost reconcile` should find)."""

    period: Period
    org: Org
    tables: dict[str, pa.Table]
    bad_rows: dict[str, list[dict[str, Any]]]
    invoices: list[dict[str, Any]] = field(default_factory=list)
    rates: list[dict[str, Any]] = field(default_factory=list)
    cost_notes: dict[str, Any] = field(default_factory=dict)


def generate(*, days: int, seed: int, end: date) -> DemoData:
    """All datasets for `days` days up to (not including) `end`, from `seed`."""
    period = Period.ending(end, days)
    org = build_org(seed, period)
    traffic = build_traffic(seed, org)
    delivery = build_delivery(seed, org)
    incidents = build_incidents(seed, org, delivery.deploys)
    sli = build_sli(seed, org, traffic, incidents)
    alerting = build_alerting(seed, org, incidents)
    cost = build_cost(seed, org, traffic)
    experience = build_experience(seed, org, sli.latency_ms, traffic.latency_base_ms, sli.incident_share,
                                  alerting.alerts_per_team)
    tables = {
        **org_tables(org),
        "sli_events": sli.sli_events, "telemetry_samples": sli.telemetry_samples,
        "request_events": build_events(seed, org, traffic, sli.sli_events, sli.latency_ms),
        "deployments": incidents.deploys.table([s.id for s in org.services]),
        "changes": delivery.changes, "reviews": delivery.reviews, "commit_files": delivery.commit_files,
        "incidents": incidents.table, "action_items": incidents.action_items,
        "alerts": alerting.alerts, "oncall_shifts": alerting.oncall_shifts,
        "maintenance_windows": alerting.maintenance_windows,
        "cost": cost.cost, "utilization": cost.utilization, "business_volume": cost.business_volume,
        "csat": experience.csat, "support_requests": experience.support_requests,
        "doc_updates": experience.doc_updates, "decisions": experience.decisions,
        "perception": experience.perception, "feedback": experience.feedback,
        "release_gate_overrides": build_overrides(seed, org),
        "postmortems": build_postmortems(seed, org, incidents.table),
    }
    missing = set(REGISTRY) - set(tables)
    if missing:  # a dataset was added to the registry but not to the demo
        raise AssertionError(f"the demo does not generate {sorted(missing)}")
    return DemoData(period, org, {name: tables[name] for name in REGISTRY}, bad_rows(period),
                    cost.invoices, cost.rates, cost.notes)
