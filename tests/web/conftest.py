"""Web page tests reuse the API's app on an in-memory store (tests/api/conftest.py), with one more
indicator that is red in the current period: `all_incidents` (3 incidents, red from 2; 1 before, amber)."""

from __future__ import annotations

import pytest
import yaml
from catalog_helpers import BASE, indicator

from api.conftest import KEY, api_store, app, auth, client, tokens  # noqa: F401
from engmetrics.settings import Settings

RED = indicator(BASE, id="all_incidents", name="All incidents", kind="lagging", unit="incidents",
                direction="lower_is_better", outcome="delivery", guardrail=None,
                calculation={"dataset": "incidents", "measure": {"type": "count"}},
                thresholds={"green": {"max": 1}, "amber": {"min": 1, "max": 2}, "red": {"min": 2}})


@pytest.fixture
def settings(tmp_path) -> Settings:
    """The API tests' workspace plus the red indicator."""
    from api.conftest import write_workspace

    root = write_workspace(tmp_path / "ws")
    path = root / "metrics" / "delivery.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["indicators"].append(RED)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (root / ".engmetrics").mkdir()
    (root / ".engmetrics" / "pseudonym.key").write_text(KEY.hex() + "\n")
    return Settings(workspace=root)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright (slow-ish)")
