"""Release-gate overrides: a few times a quarter a team releases although its error budget is spent.

>>> from datetime import date
>>> from engmetrics.demo.org import build_org
>>> from engmetrics.demo.common import Period
>>> table = build_overrides(7, build_org(7, Period.ending(date(2026, 1, 4), days=14)))
>>> table.num_rows > 0 and set(table.column("stage").to_pylist()) == {"freeze"}
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .common import HOUR, MINUTE, to_table, topic_rng, with_prefix
from .org import Org

__all__ = ["build_overrides"]

_REASONS = ("hotfix for the open incident", "security patch", "rollback of the failing change",
            "regulatory deadline", "fix for the SLO burn itself")
_BY = ("release-manager", "incident-commander", "head-of-engineering")


def build_overrides(seed: int, org: Org) -> pa.Table:
    """About one override per 10 days (at least one), each for 24 hours, on a service in stage `freeze`."""
    rng = topic_rng(seed, "release_gate_overrides")
    count = max(1, org.period.days // 10)
    services = rng.choice(len(org.services), size=count)
    days = rng.integers(0, org.period.days, count)
    created = org.period.day_starts()[days] + 9 * HOUR + rng.integers(0, 8 * 60, count) * MINUTE
    order = np.argsort(created, kind="stable")
    ids = [org.services[s].id for s in services[order]]
    return to_table({
        "override_id": with_prefix("GO-", np.arange(1, count + 1), 4),
        "service": np.array(ids), "slo": np.array([f"{s}-availability" for s in ids]),
        "stage": np.full(count, "freeze"), "reason": np.array(rng.choice(_REASONS, count)),
        "overridden_by": np.array(rng.choice(_BY, count)),
        "created_at": created[order], "expires_at": created[order] + 24 * HOUR,
    })
