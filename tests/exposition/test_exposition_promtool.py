"""`promtool check metrics` (Debian package `prometheus`) accepts the `/metrics` text."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from exposition_cases import catalog, results

from engmetrics.api.exposition import Family, Sample, render, render_metrics

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: install the Debian package `prometheus` (`make` does)")


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True,
                          timeout=60, check=False)


def test_promtool_accepts_the_exposition():
    checked = promtool(render_metrics(results(), catalog()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (checked.stdout + checked.stderr).strip()


def test_promtool_accepts_an_empty_exposition():
    checked = promtool(render_metrics([], catalog()))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_really_checks():
    """A name promtool's linter refuses (a gauge ending in `_count`): the check above is not vacuous."""

    class Bad:
        def collect(self):
            return [(Family("engmetrics_things_count", "Things."), [Sample.of(1, {})])]

    checked = promtool(render([Bad()]))
    assert checked.returncode != 0
    assert "_count" in checked.stdout + checked.stderr
