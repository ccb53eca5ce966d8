"""`engmetrics insights experiment analyze|design` end to end on a workspace with ingested deployments."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pytest
import statsmodels.api as sm
import yaml
from scipy import stats as sps

# Production deployments per week of eight services: four weeks before (from Monday 2026-01-05) and four
# after (from Monday 2026-02-02). Means before -> after and their change:
#   treated a 4 -> 8 (+4), b 6 -> 9.5 (+3.5), c 5 -> 9 (+4), d 7 -> 11.5 (+4.5)   mean change +4
#   control e 3 -> 4 (+1), f 8 -> 9 (+1), g 5 -> 5.5 (+0.5), h 6 -> 7.5 (+1.5)    mean change +1
# so the difference-in-differences is 4 - 1 = 3; after-period means: treated 9.5, control 6.5 (Welch: 3).
WEEKS = {
    "a": ([4, 5, 4, 3], [8, 7, 8, 9]), "b": ([6, 6, 7, 5], [9, 10, 9, 10]),
    "c": ([5, 4, 6, 5], [9, 9, 8, 10]), "d": ([7, 8, 7, 6], [11, 12, 11, 12]),
    "e": ([3, 4, 3, 2], [4, 4, 4, 4]), "f": ([8, 8, 9, 7], [9, 9, 10, 8]),
    "g": ([5, 5, 6, 4], [6, 5, 6, 5]), "h": ([6, 7, 6, 5], [8, 7, 8, 7]),
}
TIERS = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 1, "f": 1, "g": 2, "h": 2}
FIRST_MONDAY = date(2026, 1, 5)
SPEC = """\
experiment: faster-pipeline
metric: deployment_frequency
unit: service
grain: week
assignment: randomised
treated: [a, b, c, d]
control: [e, f, g, h]
before: {from: 2026-01-05, to: 2026-02-01}
after: {from: 2026-02-02, to: 2026-03-01}
"""


def deployments_csv() -> str:
    lines = ["deployment_id,service,environment,started_at,status"]
    for service, (before, after) in WEEKS.items():
        for week, count in enumerate(before + after):
            tuesday = datetime.combine(FIRST_MONDAY + timedelta(days=7 * week + 1), datetime.min.time())
            lines += [f"{service}-{week}-{i},{service},production,{(tuesday + timedelta(minutes=i)).isoformat()}Z,"
                      "success" for i in range(count)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def ws(workspace, cli):
    (workspace / "data").mkdir()
    (workspace / "data" / "deployments.csv").write_text(deployments_csv())
    (workspace / "data" / "services.csv").write_text(
        "service,team,tier\n" + "".join(f"{s},team-{s},{t}\n" for s, t in TIERS.items()))
    for dataset in ("deployments", "services"):
        result = cli("ingest", dataset, workspace / "data" / f"{dataset}.csv")
        assert result.exit_code == 0, result.output
    (workspace / "experiments").mkdir()
    return workspace


def _analyze(cli, ws, text, name="x.yaml"):
    (ws / "experiments" / name).write_text(text)
    return cli("insights", "experiment", "analyze", ws / "experiments" / name, "--json")


def test_randomised_experiment_headlines_cuped_with_welch_and_permutation_beside_it(ws, cli):
    result = _analyze(cli, ws, SPEC)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"experiment", "metric", "unit", "method", "effect", "interval", "confidence", "p_value",
                         "posterior_probability", "srm", "power", "units", "details", "notes"}
    assert (data["experiment"], data["metric"], data["unit"], data["method"]) == (
        "faster-pipeline", "deployment_frequency", "service", "cuped")
    assert data["units"] == {"treated": 4, "control": 4} and data["confidence"] == 0.95
    assert data["posterior_probability"] is None
    # Welch on the after means (hand-listed above) against scipy.
    treated, control = [8, 9.5, 9, 11.5], [4, 9, 5.5, 7.5]
    ref = sps.ttest_ind(treated, control, equal_var=False)
    assert data["details"]["welch"]["effect"] == pytest.approx(3.0)
    assert data["details"]["welch"]["p_value"] == pytest.approx(ref.pvalue)
    # CUPED (ANCOVA) with the before means 4, 6, 5, 7 | 3, 8, 5, 6 as the covariate, against statsmodels OLS.
    x, y = np.array([4, 6, 5, 7, 3, 8, 5, 6.0]), np.array(treated + control)
    arm = np.r_[np.ones(4), np.zeros(4)]
    ref = sm.OLS(y, sm.add_constant(np.column_stack([arm, x - x.mean()]))).fit()
    assert data["details"]["cuped"]["theta"] == pytest.approx(ref.params[2])
    assert data["effect"] == pytest.approx(ref.params[1])
    assert data["p_value"] == pytest.approx(ref.pvalues[1])
    assert data["details"]["cuped"]["df"] == 5  # 8 units - 3 coefficients
    low, high = data["interval"]
    assert low < 3.0 < high
    assert data["details"]["permutation"]["exact"] and data["details"]["permutation"]["assignments"] == 70
    assert data["srm"] == {"p_value": pytest.approx(1.0), "mismatch": False, "basis": "units", "expected_ratio": 0.5}
    assert data["power"]["smallest_detectable_effect"] > 0 and data["power"]["power"] == 0.8
    assert len(data["series"]) == 8 and data["series"][0] == {
        "bucket": "2026-01-05", "phase": "before", "treated": 5.5, "control": 5.5}  # (4+6+5+7)/4, (3+8+5+6)/4


def test_difference_in_differences_hand_checked(ws, cli):
    result = _analyze(cli, ws, SPEC.replace("randomised", "observational"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "did" and data["effect"] == pytest.approx(3.0)
    # 8 units, 4 treated: 70 assignments; the observed split is the most extreme: p = 2/70.
    assert data["p_value"] == pytest.approx(2 / 70)
    low, high = data["interval"]
    assert low < 3.0 < high
    assert data["srm"]["p_value"] is None  # observational, no expected ratio: not checked
    assert any("parallel" in n for n in data["notes"])


def test_single_unit_gets_an_interrupted_time_series(ws, cli):
    result = _analyze(cli, ws, SPEC.replace("treated: [a, b, c, d]", "treated: [a]"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "its" and data["units"] == {"treated": 1, "control": 4}
    assert {"level_change", "slope_change", "slope_change_interval", "hac_lags"} <= set(data["details"])
    assert any("control units are not used" in n for n in data["notes"])


def test_human_output_has_a_table_and_a_verdict(ws, cli):
    (ws / "experiments" / "x.yaml").write_text(SPEC)
    result = cli("insights", "experiment", "analyze", ws / "experiments" / "x.yaml")
    assert result.exit_code == 0, result.output
    assert "Experiment faster-pipeline" in result.stdout
    assert "deployment_frequency improved by" in result.stdout


def test_bad_specs_exit_1_with_file_and_line(ws, cli):
    result = _analyze(cli, ws, SPEC.replace("metric: deployment_frequency", "metric: nope"))
    assert result.exit_code == 1
    assert "experiments/x.yaml:2: metric: no indicator 'nope'" in " ".join(result.stderr.split())
    result = _analyze(cli, ws, SPEC.replace("unit: service", "unit: team"))
    assert result.exit_code == 1 and "no 'team' column" in result.stderr
    result = _analyze(cli, ws, SPEC.replace("grain: week", "grain: fortnight"))
    assert result.exit_code == 1 and "experiments/x.yaml:4" in result.stderr
    result = _analyze(cli, ws, SPEC.replace("[a, b, c, d]", "[x1, x2]"))
    assert result.exit_code == 0  # units without data in the after period: filled with 0 (the feed covers it)
    result = cli("insights", "experiment", "analyze", ws / "experiments" / "missing.yaml")
    assert result.exit_code == 1 and "no such experiment spec" in result.stderr


def test_design_randomises_by_tier_and_writes_a_spec_analyze_reads(ws, cli):
    args = ["insights", "experiment", "design", "--metric", "deployment_frequency", "--unit", "service",
            "--strata", "tier", "--seed", "3", "--before-from", "2026-01-05", "--before-to", "2026-02-01"]
    result = cli(*args, "--json", "--write", "experiments/next.yaml")  # relative: in the workspace
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {**data, "metric": "deployment_frequency", "unit": "service", "strata_column": "tier"}
    assert len(data["treated"]) == 4 and len(data["control"]) == 4
    for tier in ("1", "2"):  # two of each tier treated
        assert sum(u["arm"] == "treated" for u in data["units"] if u["stratum"] == tier) == 2
    # before means 4, 6, 5, 7, 3, 8, 5, 6 (mean 5.5): squares 2.25 + .25 + .25 + 2.25 + 6.25 + 6.25 + .25 + .25
    # = 18 over 7: sample sd 1.6036.
    assert data["sd"] == pytest.approx((18 / 7) ** 0.5)
    assert cli(*args, "--json").stdout == cli(*args, "--json").stdout  # the seed fixes the split
    assert data["written"] == str(ws / "experiments" / "next.yaml")
    written = yaml.safe_load((ws / "experiments" / "next.yaml").read_text())
    assert written["strata"] == {s: str(t) for s, t in TIERS.items()}
    assert (str(written["after"]["from"]), str(written["after"]["to"])) == ("2026-02-02", "2026-03-01")
    analysed = cli("insights", "experiment", "analyze", "experiments/next.yaml", "--json")
    assert analysed.exit_code == 0, analysed.output
    result = json.loads(analysed.stdout)
    assert result["experiment"] == "next"
    # Permuted within tiers: 2 of the 4 services of each tier treated, C(4, 2)^2 = 36 assignments, not C(8, 4) = 70.
    assert result["details"]["permutation"]["assignments"] == 36
    bad = cli(*["colour" if a == "tier" else a for a in args])
    assert bad.exit_code == 1 and "no column 'colour'" in bad.stderr


def test_design_narrows_a_week_grain_to_whole_weeks(ws, cli):
    # 2026-01-07 is a Wednesday and 2026-02-03 a Tuesday: the whole weeks inside are 12 January to 1 February
    # (3 weeks); the written after period is the next 3 weeks, 2 to 22 February.
    result = cli("insights", "experiment", "design", "--metric", "deployment_frequency", "--unit", "service",
                 "--before-from", "2026-01-07", "--before-to", "2026-02-03", "--json", "--write", "experiments/w.yaml")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["before"] == {"from": "2026-01-12", "to": "2026-02-01"}
    written = yaml.safe_load((ws / "experiments" / "w.yaml").read_text())
    assert [str(written[p][k]) for p in ("before", "after") for k in ("from", "to")] == [
        "2026-01-12", "2026-02-01", "2026-02-02", "2026-02-22"]
    assert "strata" not in written  # no --strata
    short = cli("insights", "experiment", "design", "--metric", "deployment_frequency", "--unit", "service",
                "--before-from", "2026-01-07", "--before-to", "2026-01-10")
    assert short.exit_code == 1 and "no whole week" in short.stderr


def test_permutation_with_two_units_per_arm_has_no_detectable_effect(ws, cli):
    # 4 units, 2 treated: 6 assignments, smallest two-sided p 2/6 = 1/3 > 0.05. After means a 8, b 9.5, e 4, f 9:
    # differences {a,b} 2.25 (observed), {b,f} 3.25, {a,f} 1.75, {b,e} -1.75, {e,f} -2.25, {a,e} -3.25; two at
    # least 2.25: p = 2 * 2/6 = 2/3.
    spec = SPEC.replace("[a, b, c, d]", "[a, b]").replace("[e, f, g, h]", "[e, f]") + "method: permutation\n"
    result = _analyze(cli, ws, spec)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "permutation" and data["p_value"] == pytest.approx(2 / 3)
    assert data["details"]["reachable"] is False and data["details"]["smallest_p_value"] == pytest.approx(1 / 3)
    assert data["power"]["smallest_detectable_effect"] is None
    assert any("smallest attainable two-sided p-value of the permutation test is 0.333" in n for n in data["notes"])
    assert data["verdict"].startswith("No effect could be detected on deployment_frequency with this many units "
                                      "(2 treated, 2 control)")


def test_difference_in_differences_permutes_within_recorded_strata(ws, cli):
    # Tiers: 1 = a, b, e, f; 2 = c, d, g, h; two treated in each: C(4, 2)^2 = 36 assignments. The observed split
    # is still the most extreme (changes: treated 4, 3.5, 4, 4.5; control 1, 1, 0.5, 1.5): p = 2/36.
    strata = "strata: {" + ", ".join(f"{s}: t{t}" for s, t in TIERS.items()) + "}\n"
    result = _analyze(cli, ws, SPEC.replace("randomised", "observational") + strata)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "did" and data["details"]["assignments"] == 36
    assert data["p_value"] == pytest.approx(2 / 36)
