"""Web page tests reuse the API's app on an in-memory store (tests/api/conftest.py), with one more
indicator that is red in the current period: `all_incidents` (3 incidents, red from 2; 1 before, amber).
The browser tests (the dashboard and the published catalog) share Debian's Chromium through `browser_context`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from catalog_helpers import BASE, indicator

from api.conftest import KEY, api_store, app, auth, client, tokens  # noqa: F401
from engmetrics.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
#: Where the browser tests put their screenshots (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A browser test module's `pytestmark`.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium is not installed at /usr/bin/chromium "
                                                     "(apt-get install chromium)"),
]

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


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """A fresh Chromium profile (no browser download: Debian's binary)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()
