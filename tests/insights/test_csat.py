"""CSAT against backend performance on ingested data: the engine-side join and aggregation (hand-checked), the
hidden-issue scenario (a drop behind green SLOs is listed, one explained by a red SLO is not) and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from engmetrics.insights.csat_data import daily_experience, daily_sli

FIRST, LAST = date(2026, 1, 1), date(2026, 3, 31)  # 90 days; the recent window is 4..31 March (28 days)
SPLIT = date(2026, 3, 4)


def test_daily_experience_is_hand_checked(store, write, ingest):
    ingest("csat", write("csat.csv", """response_id,ts,segment,service,score,scale
R1,2026-03-02T10:00:00Z,free,a,4,5
R2,2026-03-02T12:00:00Z,free,a,2,5
R3,2026-03-02T13:00:00Z,pro,a,9,10
R4,2026-03-03T12:00:00Z,,a,5,5
R5,2026-03-02T12:00:00Z,free,,1,5
R6,2026-03-05T12:00:00Z,free,a,3,5
"""))
    ingest("incidents", write("incidents.csv", """incident_id,service,severity,impact_started_at,declared_at,resolved_at
I1,a,2,2026-03-02T11:00:00Z,2026-03-02T11:05:00Z,2026-03-02T11:30:00Z
I2,a,3,,2026-03-05T11:00:00Z,
I3,b,1,2026-03-02T00:00:00Z,2026-03-02T00:05:00Z,2026-03-03T00:00:00Z
"""))
    got = daily_experience(store, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC),
                           incident_window=timedelta(days=1))
    rows = {(r.segment, r.service, r.day): (r.responses, r.satisfaction, r.exposure) for r in got.itertuples()}
    # R1 10:00 comes before I1 began (11:00): not exposed. R2 (12:00) and R3 (13:00): I1 was active within the
    # day before. R4 (3 March 12:00, no segment): I1 ended 11:30 on 2 March, before R4 - 1 day. R5 has no
    # service: left out. R6: I2 (no impact start: declared 11:00, never resolved) is still active. I3 is b's.
    assert rows == {
        ("free", "a", date(2026, 3, 2)): (2, pytest.approx((0.8 + 0.4) / 2), 0.5),
        ("pro", "a", date(2026, 3, 2)): (1, pytest.approx(0.9), 1.0),
        ("unknown", "a", date(2026, 3, 3)): (1, 1.0, 0.0),
        ("free", "a", date(2026, 3, 5)): (1, pytest.approx(0.6), 1.0),
    }
    # Without incidents (a caller who may not read them): the same days, no exposure column at all.
    alone = daily_experience(store, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC),
                             incident_window=None)
    assert list(alone.columns) == ["segment", "service", "day", "responses", "satisfaction"]
    assert {(r.segment, r.service, r.day): (r.responses, r.satisfaction) for r in alone.itertuples()} == {
        k: v[:2] for k, v in rows.items()}


def test_daily_sli_is_hand_checked(store, write, ingest):
    ingest("sli_events", write("sli.csv", """service,indicator,ts,good,total
a,availability,2026-03-01T23:00:00Z,10,10
a,availability,2026-03-02T00:00:00Z,90,100
a,availability,2026-03-02T13:00:00Z,100,100
a,latency,2026-03-02T00:00:00Z,0,0
b,availability,2026-03-02T00:00:00Z,1,2
"""))
    got = daily_sli(store, date(2026, 3, 2), date(2026, 3, 3), ["a"])
    # a on 2 March: 190 good of 200 -> badness 0.05; the latency day has no events; b is not asked for
    assert [(r.service, r.indicator, r.day, r.good, r.total) for r in got.itertuples()] == [
        ("a", "availability", date(2026, 3, 2), 190, 200)]
    assert got.badness.iloc[0] == pytest.approx(0.05)


SLO = """apiVersion: openslo/v1
kind: SLO
metadata: {{name: {service}-availability}}
spec:
  service: {service}
  indicator:
    metadata: {{name: {service}-availability-sli}}
    spec:
      ratioMetric:
        good:
          {{metricSource: {{type: engmetrics, spec: {{dataset: sli_events,
            service: {service}, indicator: availability, column: good}}}}}}
        total:
          {{metricSource: {{type: engmetrics, spec: {{dataset: sli_events,
            service: {service}, indicator: availability, column: total}}}}}}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: requests served
      target: 0.99
---
"""


def _scenario(root, write):
    """`exports` and `checkout`, each with enterprise and free customers answering 3 times a day (1-5) over
    January to March. In the last 28 days enterprise customers of `exports` answer 2 points lower while its
    availability stays at 100 %; every customer of `checkout` answers 2 points lower while 10 % of its
    requests fail (its 99 % SLO goes red)."""
    rng = np.random.default_rng(11)
    days = [FIRST + timedelta(days=k) for k in range((LAST - FIRST).days + 1)]
    lines, n = ["response_id,ts,segment,service,score,scale"], 0
    for day in days:
        for service in ("exports", "checkout"):
            for segment in ("enterprise", "free"):
                hit = day >= SPLIT and (service == "checkout" or segment == "enterprise")
                for hour in (9, 13, 17):
                    n += 1
                    score = int(np.clip(round(4.3 + 0.7 * rng.standard_normal() - (2 if hit else 0)), 1, 5))
                    lines.append(f"R{n},{day}T{hour}:00:00Z,{segment},{service},{score},5")
    sli = ["service,indicator,ts,good,total"]
    for day in days:
        sli.append(f"exports,availability,{day}T00:00:00Z,1000,1000")
        sli.append(f"checkout,availability,{day}T00:00:00Z,{900 if day >= SPLIT else 1000},1000")
    (root / "slos").mkdir(exist_ok=True)
    (root / "slos" / "services.yaml").write_text(SLO.format(service="exports") + SLO.format(service="checkout"))
    return write("csat.csv", "\n".join(lines) + "\n"), write("sli.csv", "\n".join(sli) + "\n"), lines


@pytest.fixture
def scenario(workspace, write, cli):
    csat, sli, lines = _scenario(workspace, write)
    assert cli("ingest", "csat", csat).exit_code == 0
    assert cli("ingest", "sli_events", sli).exit_code == 0
    return lines


def _welch_reference(lines, segment, service):
    """scipy's Welch test on the raw responses (one-sided: recent below baseline)."""
    base, recent = [], []
    for line in lines[1:]:
        _, ts, seg, svc, score, scale = line.split(",")
        if (seg, svc) == (segment, service):
            (recent if date.fromisoformat(ts[:10]) >= SPLIT else base).append(int(score) / int(scale))
    return base, recent, stats.ttest_ind(recent, base, equal_var=False, alternative="less").pvalue


def test_a_drop_behind_green_slos_is_a_hidden_issue_and_one_behind_a_red_slo_is_not(scenario, cli):
    result = cli("insights", "csat", "--from", FIRST, "--to", LAST, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= {"correlations", "regression", "hidden_issues"}
    [issue] = out["hidden_issues"]  # checkout dropped too, but its availability SLO went red
    assert (issue["segment"], issue["service"]) == ("enterprise", "exports")
    base, recent, p = _welch_reference(scenario, "enterprise", "exports")
    assert (issue["baseline_n"], issue["recent_n"]) == (len(base), len(recent)) == (62 * 3, 28 * 3)
    assert issue["baseline"] == pytest.approx(np.mean(base))
    assert issue["recent"] == pytest.approx(np.mean(recent))
    assert issue["drop"] == pytest.approx(np.mean(base) - np.mean(recent))
    assert issue["p_value"] == pytest.approx(p, rel=1e-6)
    assert issue["p_value"] < 1e-10
    [slo] = issue["slos"]
    assert (slo["slo"], slo["green"], slo["worst_sli"]) == ("exports-availability", True, 1.0)
    assert issue["recent_from"] == "2026-03-04"


def test_the_red_slo_is_what_keeps_checkout_off_the_list(scenario, workspace, cli):
    # Without the SLO specs every drop is "hidden": checkout's free and enterprise customers appear as well.
    (workspace / "slos" / "services.yaml").unlink()
    out = json.loads(cli("insights", "csat", "--from", FIRST, "--to", LAST, "--json").stdout)
    assert {(i["segment"], i["service"]) for i in out["hidden_issues"]} == {
        ("enterprise", "exports"), ("enterprise", "checkout"), ("free", "checkout")}
    assert all(i["slos"] == [] for i in out["hidden_issues"])


def test_correlations_and_regression_fields(scenario, cli):
    out = json.loads(cli("insights", "csat", "--from", FIRST, "--to", LAST, "--max-lag", "1", "--json").stdout)
    # exports' availability never varies: only checkout's pairs are correlated (2 segments x 2 lags)
    rows = [(r["segment"], r["service"], r["sli"], r["lag_days"]) for r in out["correlations"]]
    assert rows == [("enterprise", "checkout", "availability", 0), ("enterprise", "checkout", "availability", 1),
                    ("free", "checkout", "availability", 0), ("free", "checkout", "availability", 1)]
    first = out["correlations"][0]
    assert set(first) == {"segment", "service", "sli", "lag_days", "pearson", "pearson_interval", "spearman", "n"}
    assert first["n"] == 90 and first["pearson"] < -0.5  # badness 0 then 0.1 while satisfaction falls
    terms = [c["term"] for c in out["regression"]["coefficients"]]
    assert terms == ["intercept", "sli_bad:availability", "segment:free"]  # no incidents: no exposure term
    assert set(out["regression"]) == {"coefficients", "r_squared", "n"}
    assert out["regression"]["n"] == 90 * 4


def test_the_table_and_bad_input(scenario, cli):
    result = cli("insights", "csat", "--from", FIRST, "--to", LAST)
    assert result.exit_code == 0, result.output
    assert "exports" in result.stdout and "Hidden reliability issues" in result.stdout
    bad = cli("insights", "csat", "--from", "2026-04-01", "--to", "2026-03-01")
    assert bad.exit_code == 1 and "after --to" in bad.output
    assert cli("insights", "csat", "--from", "yesterday").exit_code == 2


def test_an_empty_store_is_bad_input(cli):
    result = cli("insights", "csat", "--json")
    assert result.exit_code == 1 and "no csat responses" in result.output
