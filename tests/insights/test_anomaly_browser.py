"""The anomalies page in a real browser: Debian's Chromium driven by Playwright against `engmetrics serve` on
a 42-day demo workspace scanned with `engmetrics insights anomalies`. Screenshot in `test-artifacts/`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from web.conftest import ARTIFACTS, BROWSER, browser_context  # noqa: F401

pytestmark = [*BROWSER, pytest.mark.slow]
AS_OF = "2026-03-02"


def _engmetrics(*args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("engmetrics"))
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_workspace) -> Iterator[tuple[str, str, list[dict]]]:
    """(base URL, manager token, the scan's findings) of `engmetrics serve` over a scanned demo workspace."""
    workspace = str(tmp_path_factory.mktemp("anomalies") / "demo")
    _engmetrics("demo", workspace, "--days", "42", "--end", "2026-03-01")
    findings = json.loads(_engmetrics("-w", workspace, "insights", "anomalies", "--as-of", AS_OF, "--json").stdout)
    token = _engmetrics("-w", workspace, "token", "create", "--role", "manager").stdout.strip()
    with serve_workspace(workspace) as base:
        yield base, token, findings


def test_anomalies_page_shows_findings_with_charts(server, browser_context):  # noqa: F811
    base, token, findings = server
    assert findings, "the demo organisation should have some anomalies"
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/login?next=/insights/anomalies")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/insights/anomalies")
    assert page.locator("h1").inner_text() == "Anomalies"
    rows = page.locator("#anomalies tbody tr")
    assert rows.count() == min(len(findings), 200)  # the page lists the newest 200
    first = page.locator(f'tr[data-finding="{findings[0]["finding_id"]}"]')
    assert findings[0]["series"] in first.locator("th").inner_text()
    chart = page.locator("#anomalies svg.anomaly-chart").first
    assert chart.locator("rect.expected").count() == 1 and chart.locator("path").count() >= 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "anomalies.png"), full_page=True)

    page.select_option("#status", "acknowledged")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"{base}/insights/anomalies?status=acknowledged&since=")
    assert page.locator("#none").count() == 1
