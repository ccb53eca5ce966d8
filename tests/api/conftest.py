"""An app on an in-memory store holding a small catalog and data ingested through the library.

As of 2026-03-31, weekly: current = 2026-03-25..31, previous = 2026-03-18..24 (UTC, inclusive days).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.ingest import ingest_files
from engmetrics.settings import Settings
from engmetrics.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalog"))
from catalog_helpers import BASE, GUARD, OUTCOMES, indicator

KEY = bytes(range(32))
AS_OF = date(2026, 3, 31)
ROLES = ("viewer", "team-member", "manager", "metrics-admin", "auditor", "telemetry-pusher")
INCIDENTS = indicator(BASE, id="incidents", name="Incidents per team", kind="lagging", unit="incidents",
                      direction="lower_is_better", outcome="failures", guardrail=None,
                      calculation={"dataset": "incidents", "group_by": "team", "measure": {"type": "count"}},
                      thresholds={"green": {"max": 1}, "amber": {"min": 1, "max": 3}, "red": {"min": 3}})
DEPLOYMENTS = """deployment_id,service,environment,started_at,status
d1,pay,production,2026-03-25T00:00:00Z,success
d2,pay,production,2026-03-26T10:00:00Z,success
d3,pay,production,2026-03-27T10:00:00Z,failure
d4,search,production,2026-03-28T10:00:00Z,success
d5,search,production,2026-03-30T10:00:00Z,failure
d6,search,production,2026-03-31T23:59:59Z,success
d7,pay,production,2026-03-24T23:59:59Z,success
d8,pay,production,2026-03-18T00:00:00Z,failure
d9,pay,production,2026-04-01T00:00:00Z,success
"""
INCIDENT_ROWS = """incident_id,team,severity,declared_at
i1,payments,2,2026-03-26T10:00:00Z
i2,payments,3,2026-03-27T10:00:00Z
i3,search,2,2026-03-28T10:00:00Z
i4,search,1,2026-03-20T10:00:00Z
"""


def write_workspace(root: Path) -> Path:
    """A workspace with outcome `delivery` <- deploys (guardrail failures) and failures <- incidents."""
    (root / "metrics").mkdir(parents=True)
    doc = {"outcomes": OUTCOMES, "indicators": [BASE, GUARD, INCIDENTS]}
    (root / "metrics" / "delivery.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


@pytest.fixture
def api_store(tmp_path):
    with Store.open("duckdb://") as store:
        for name, text in (("deployments", DEPLOYMENTS), ("incidents", INCIDENT_ROWS)):
            path = tmp_path / f"{name}.csv"
            path.write_text(text)
            ingest_files(store, name, [path], pseudonym_key=KEY)
        yield store


@pytest.fixture
def settings(tmp_path) -> Settings:
    root = write_workspace(tmp_path / "ws")
    (root / ".engmetrics").mkdir()
    (root / ".engmetrics" / "pseudonym.key").write_text(KEY.hex() + "\n")
    return Settings(workspace=root)


@pytest.fixture
def app(settings, api_store):
    return create_app(settings, store=api_store)


@pytest.fixture
def client(app):
    return TestClient(app)


@pytest.fixture
def tokens(api_store) -> dict[str, str]:
    """A token per role; the team-member's team is `payments`."""
    return {role: create_token(api_store, role, ["payments"] if role == "team-member" else [],
                               description=f"test {role}").token for role in ROLES}


@pytest.fixture
def auth(tokens):
    """auth(role) -> request headers with that role's bearer token."""
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}
