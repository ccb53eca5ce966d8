"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `engmetrics serve` on a
small demo workspace. Screenshots go to `test-artifacts/` (git-ignored)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, BROWSER

AS_OF = "2026-03-01"

pytestmark = BROWSER


def _engmetrics() -> str:
    return str(Path(sys.executable).with_name("engmetrics"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_workspace) -> Iterator[tuple[str, str]]:
    """(base URL, metrics-admin token) of `engmetrics serve` over a 42-day demo workspace."""
    workspace = tmp_path_factory.mktemp("browser") / "demo"
    subprocess.run([_engmetrics(), "demo", str(workspace), "--days", "42", "--end", AS_OF], check=True,
                   capture_output=True, timeout=120)
    token = subprocess.run([_engmetrics(), "-w", str(workspace), "token", "create", "--role", "metrics-admin"],
                           check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    with serve_workspace(workspace) as base:
        yield base, token


def test_login_overview_red_indicator_and_chart(server, browser_context):
    base, token = server
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_context.new_page()
    page.set_default_timeout(20_000)

    # An unauthenticated page sends the browser to the login form.
    page.goto(f"{base}/?as_of={AS_OF}")
    assert page.url.startswith(f"{base}/login?next=")
    assert page.locator("h1").inner_text() == "Log in to engmetrics"
    page.fill("#token", token)
    page.screenshot(path=str(ARTIFACTS / "01-login.png"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/?as_of={AS_OF}")
    assert page.locator("h1").inner_text() == "Scorecard"
    assert page.locator("table.scorecard").count() >= 1
    assert page.locator("td.spark svg[role=img]").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "02-overview.png"), full_page=True)

    # The skip link is the first thing the keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    # Follow a red indicator to its page.
    red = page.locator("tr.row-red th a").first
    assert red.count() == 1, "the demo organisation should have a red indicator"
    name = red.inner_text()
    red.click()
    page.wait_for_url(f"{base}/indicators/**")
    assert page.locator("h1").inner_text() == name
    assert page.locator(".lead .status-red").count() >= 1
    chart = page.locator("svg.history-chart").first
    assert chart.locator("path, rect").count() > 0
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    assert chart.locator("title").first.text_content()
    page.screenshot(path=str(ARTIFACTS / "03-indicator.png"), full_page=True)

    # The same page is readable on a phone-sized viewport (no horizontal scroll of the page itself).
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "04-indicator-phone.png"), full_page=True)
    page.close()
