"""The demo's CSAT issue hidden behind green SLOs: enterprise customers of `reporting` (slow exports no SLO
measures) answer 2 points lower over the last 28 days, and `engmetrics insights csat` lists exactly that. And the
figures docs/csat.md gives for the sign of `sli_bad:availability` (positive beside latency in one demo window)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.demo.build import build_demo
from engmetrics.insights.csat_data import daily_experience, daily_sli
from engmetrics.settings import load_settings
from engmetrics.store import Store

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
    latency = next(c for c in out["regression"]["coefficients"] if c["term"] == "sli_bad:latency")
    assert latency["interval"][1] < 0
    terms = {c["term"]: c for c in out["regression"]["coefficients"]}
    assert terms["sli_bad:availability"]["estimate"] == pytest.approx(-14.634, abs=1e-3)  # docs/csat.md
    assert terms["sli_bad:availability"]["interval"] == pytest.approx([-18.351, -10.918], abs=1e-3)
    assert out["not_readable"] == []


def _fit(smf, rows, formula: str) -> tuple[float, float, float]:
    ref = smf.ols(formula, data=rows).fit()
    low, high = ref.conf_int(0.05).loc["availability"]
    return ref.params["availability"], low, high


def test_availability_is_positive_beside_latency_only_in_the_november_window(tmp_path):
    """docs/csat.md, "Regression": the figures behind the caveat, refitted with statsmodels."""
    smf = pytest.importorskip("statsmodels.formula.api")
    root = build_demo(tmp_path / "demo", days=180, end=date(2026, 11, 28)).directory
    result = CliRunner().invoke(app, ["-w", str(root), "insights", "csat", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["from"], out["to"], out["regression"]["n"]) == ("2026-08-31", "2026-11-28", 1931)
    terms = {c["term"]: c for c in out["regression"]["coefficients"]}
    assert terms["sli_bad:availability"]["estimate"] == pytest.approx(4.229, abs=1e-3)
    assert terms["sli_bad:availability"]["interval"] == pytest.approx([1.882, 6.576], abs=1e-3)
    assert terms["sli_bad:latency"]["estimate"] == pytest.approx(-7.279, abs=1e-3)
    with Store.open(load_settings(root).store_url, read_only=True) as store:
        start, end = datetime(2026, 8, 31, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)
        daily = daily_experience(store, start, end, incident_window=timedelta(days=1))
        sli = daily_sli(store, start.date(), end.date(), sorted(daily["service"].unique()))
    wide = sli.pivot_table(index=["service", "day"], columns="indicator", values="badness").reset_index()
    rows = daily.merge(wide, on=["service", "day"]).dropna()
    assert len(rows) == 1931
    assert np.corrcoef(rows["availability"], rows["latency"])[0, 1] == pytest.approx(0.61, abs=0.005)
    assert np.corrcoef(rows["availability"], rows["satisfaction"])[0, 1] == pytest.approx(-0.157, abs=0.001)
    # the same model through statsmodels: the reported estimate
    both = _fit(smf, rows, "satisfaction ~ availability + latency + exposure + C(segment)")
    assert both == pytest.approx((4.229, 1.882, 6.576), abs=1e-3)
    # without latency: the expected sign
    alone = _fit(smf, rows, "satisfaction ~ availability + exposure + C(segment)")
    assert alone == pytest.approx((-5.948, -7.903, -3.994), abs=1e-3)
    # days without incident exposure: strongly negative
    calm = _fit(smf, rows[rows["exposure"] == 0], "satisfaction ~ availability + latency + C(segment)")
    assert calm == pytest.approx((-24.963, -33.421, -16.504), abs=1e-3)
    # the cube root of latency badness (linear in the latency ratio, as the demo's satisfaction): no clear effect
    cube = _fit(smf, rows.assign(root=np.cbrt(rows["latency"])),
                "satisfaction ~ availability + root + exposure + C(segment)")
    assert cube == pytest.approx((-0.658, -2.618, 1.302), abs=1e-3)
