"""A handful of deliberately bad rows, so that the demo's quarantine is not empty.

Each row breaks exactly one rule of its dataset (see `engmetrics datasets list`) and has a key of
its own, so it never replaces a good row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import HOUR, MINUTE, Period

__all__ = ["BAD_ROWS_EXPECTED", "bad_rows"]

# dataset -> number of bad rows written (tests and the CLI summary read this).
BAD_ROWS_EXPECTED = {"sli_events": 1, "deployments": 2, "incidents": 1, "csat": 1, "utilization": 1}


def _iso(value: np.datetime64) -> str:
    return str(value.astype("M8[s]")) + "Z"


def bad_rows(period: Period) -> dict[str, list[dict[str, Any]]]:
    """Bad rows per dataset: text values for CSV / JSON Lines files, Python values for Parquet."""
    mid = period.start + (period.days // 2) * 24 * HOUR + 14 * HOUR
    return {
        "sli_events": [{  # good > total
            "service": "payments-api", "indicator": "availability", "ts": (mid + 30 * MINUTE).item(),
            "good": 1250.0, "total": 1200.0}],
        "deployments": [
            {"deployment_id": "dep-900001", "service": "payments-api", "environment": "production",
             "started_at": _iso(mid), "finished_at": _iso(mid - 20 * MINUTE), "status": "success",
             "commit_sha": "f" * 40, "change_ids": [], "is_rollback": False, "is_hotfix": False,
             "fixes_incident_id": None},  # finished before it started
            {"deployment_id": "dep-900002", "service": "cart", "environment": "production",
             "started_at": _iso(mid + HOUR), "finished_at": _iso(mid + HOUR + 5 * MINUTE), "status": "shipped",
             "commit_sha": "e" * 40, "change_ids": [], "is_rollback": False, "is_hotfix": False,
             "fixes_incident_id": None},  # unknown status
        ],
        "incidents": [{  # severity is not a number
            "incident_id": "INC-9001", "service": "search-api", "team": "search", "severity": "high",
            "title": "search-api: imported from the old tracker", "impact_started_at": _iso(mid),
            "detected_at": _iso(mid + 5 * MINUTE), "declared_at": _iso(mid + 10 * MINUTE),
            "resolved_at": _iso(mid + 2 * HOUR)}],
        "csat": [{  # score above the scale
            "response_id": "R-900001", "ts": _iso(mid), "segment": "pro", "service": "checkout-web",
            "score": 7, "scale": 5}],
        "utilization": [{  # utilisation above 1
            "resource_id": "i-99999", "ts": mid.item(), "cpu_util": 1.7, "mem_util": 0.4, "provider": "AWS",
            "resource_type": "Virtual Machine", "region": "us-east-1"}],
    }
