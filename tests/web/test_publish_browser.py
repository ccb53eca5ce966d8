"""The published catalog (`engmetrics catalog publish`) in a real browser: Debian's Chromium, driven by
Playwright, opens the site from file:// with no server, shows the index and an indicator page, and the links
between them work. Screenshots go to `test-artifacts/` (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_helpers import BASE, GUARD, OUTCOMES, write_catalog

from engmetrics.governance.publish import publish_site

from .conftest import ARTIFACTS, BROWSER

pytestmark = BROWSER


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A two-indicator site (deploys, guarded by failures)."""
    root = tmp_path_factory.mktemp("publish") / "ws"
    write_catalog(root, [BASE, GUARD], OUTCOMES)
    out = root / "site"
    publish_site(root, out, title="Acme indicators")
    return out


def test_site_opens_from_file_and_links_work(site, browser_context):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto((site / "index.html").as_uri())
    assert page.locator("h1").inner_text() == "Acme indicators"
    assert page.locator("h2").first.inner_text() == "Fast, safe delivery"
    assert page.locator("table.indicators tbody tr").count() == 2
    assert page.locator("tr[data-metric=deploys] .status").inner_text().strip() == "● active"
    # The stylesheet loaded from the site: the header is dark (not the browser's default white).
    assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor") \
        == "rgb(29, 35, 48)"
    page.screenshot(path=str(ARTIFACTS / "publish-01-index.png"), full_page=True)

    page.locator("tr[data-metric=deploys] th a").click()
    page.wait_for_url("**/indicators/deploys.html")
    assert page.locator("h1").inner_text() == "Deploys"
    words = page.locator("p.words")
    assert words.is_visible()
    assert words.inner_text() == "Count of rows of deployments, by week of started_at."
    assert words.locator("code").inner_text() == "deployments"
    assert page.get_by_text("No approvals recorded.").is_visible()
    assert page.get_by_text("No history recorded.").is_visible()
    page.screenshot(path=str(ARTIFACTS / "publish-02-indicator.png"), full_page=True)

    # The guardrail link leads to the guardrail's page, and its dataset link to the datasets page.
    page.locator("#guardrail ~ p a").first.click()
    page.wait_for_url("**/indicators/failures.html")
    assert page.locator("h1").inner_text() == "Failed deploys"
    page.locator("a[href='../datasets.html#ds-deployments']").click()
    page.wait_for_url("**/datasets.html#ds-deployments")
    assert page.locator("#ds-deployments h2").inner_text() == "deployments"
    assert page.locator("#ds-deployments").is_visible()

    assert requested and all(url.startswith("file://") for url in requested), requested
