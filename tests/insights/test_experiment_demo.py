"""The demo's experiment spec: whole weeks before the demo's last day, a seeded split within each parent
group, and a spec `analyze` loads; analysed on a small built demo (slow)."""

from __future__ import annotations

from datetime import date

import pytest

from engmetrics.demo.experiments import EXPERIMENT, write_experiments
from engmetrics.insights.experiments.spec import load_spec

TEAMS = {"payments": "product", "checkout": "product", "growth": "product", "search": "product",
         "mobile": "product", "identity": "platform", "platform": "platform", "data": "platform"}


def test_the_demo_spec_covers_whole_weeks_and_splits_each_group(tmp_path):
    [path] = write_experiments(tmp_path / "experiments", TEAMS, days=180, end=date(2026, 3, 31))
    spec = load_spec(path, tmp_path).spec
    # 2026-03-31 is a Tuesday: the last complete week ends on Sunday 29 March; 8 weeks back: 2 February.
    assert (spec.after.start, spec.after.end) == (date(2026, 2, 2), date(2026, 3, 29))
    assert (spec.before.start, spec.before.end) == (date(2025, 12, 8), date(2026, 2, 1))
    assert spec.experiment == EXPERIMENT and spec.unit == "team" and spec.assignment == "randomised"
    assert len(spec.treated) == 4 and sum(TEAMS[t] == "platform" for t in spec.treated) in (1, 2)
    again = write_experiments(tmp_path / "again", TEAMS, days=180, end=date(2026, 3, 31))[0]
    assert again.read_text() == path.read_text()


def test_a_short_demo_gets_shorter_periods(tmp_path):
    [path] = write_experiments(tmp_path, TEAMS, days=30, end=date(2026, 3, 29))  # a Sunday
    spec = load_spec(path).spec
    assert (spec.before.start, spec.after.start, spec.after.end) == (
        date(2026, 3, 2), date(2026, 3, 16), date(2026, 3, 29))  # 30 // 14 = 2 weeks each


@pytest.mark.slow
def test_the_built_demo_analyses_its_experiment(tmp_path):
    import json

    from typer.testing import CliRunner

    from engmetrics.cli.main import app
    from engmetrics.demo.build import build_demo

    root = build_demo(tmp_path / "demo", days=60, end=date(2026, 3, 31), evaluate=False).directory
    result = CliRunner().invoke(app, ["-w", str(root), "insights", "experiment", "analyze",
                                      f"experiments/{EXPERIMENT}.yaml", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["units"] == {"treated": 4, "control": 4} and data["method"] in ("cuped", "welch")
