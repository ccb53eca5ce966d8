"""The demo's CSAT issue hidden behind green SLOs: enterprise customers of `reporting` (slow exports no SLO
measures) answer 2 points lower over the last 28 days, and `engmetrics insights csat` lists exactly that."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.demo.build import build_demo

pytestmark = pytest.mark.slow  # builds and ingests a 180-day demo (about 15 s)


def test_the_demo_hides_one_segment_issue_behind_green_slos(tmp_path):
    root = build_demo(tmp_path / "demo", days=180, end=date(2026, 3, 31)).directory
    result = CliRunner().invoke(app, ["-w", str(root), "insights", "csat", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["from"], out["to"]) == ("2026-01-01", "2026-03-31")
    [issue] = out["hidden_issues"]
    assert (issue["segment"], issue["service"], issue["recent_from"]) == ("enterprise", "reporting", "2026-03-04")
    assert issue["drop"] > 0.15 and issue["p_adjusted"] < 0.05
    assert [s["slo"] for s in issue["slos"]] == ["reporting-availability"] and issue["slos"][0]["green"]
    # the demo's CSAT follows latency: the latency coefficient and its whole interval are below 0
    latency = next(c for c in out["regression"]["coefficients"] if c["term"] == "sli:latency")
    assert latency["interval"][1] < 0
