"""The demo's experiment: `experiments/deploy-checklist.yaml`, a process change (a pre-deploy checklist) tried
on half the teams, randomised within each parent group (product, platform) with `insights.experiments.assign`,
and its question: did the teams' incidents per week move?

The periods are whole ISO weeks before the demo's last day: the after period is the last `w` complete weeks,
the before period the `w` weeks before it, `w` = 8 or fewer on a short demo (at least one week each). The demo
data has no planted effect: the analysis should find none, and says how large an effect it could have seen.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import yaml

from ..insights.experiments.design import assign

__all__ = ["EXPERIMENT", "write_experiments"]

EXPERIMENT = "deploy-checklist"
SEED = 7


def write_experiments(directory: Path, strata: dict[str, str], *, days: int, end: date) -> list[Path]:
    """Write the demo's spec into `directory` for the teams in `strata` (team -> parent); returns its path."""
    weeks = max(1, min(8, days // 14))
    after_end = end - timedelta(days=(end.weekday() + 1) % 7)  # the last Sunday on or before `end`
    after_start = after_end - timedelta(days=7 * weeks - 1)
    before_start = after_start - timedelta(days=7 * weeks)
    treated, control = assign(strata, ratio=0.5, seed=SEED)
    spec = {
        "experiment": EXPERIMENT,
        "description": "A pre-deploy checklist: do the teams using it cause fewer incidents?",
        "metric": "incidents_per_week", "unit": "team", "grain": "week", "assignment": "randomised",
        "treated": treated, "control": control,
        "before": {"from": before_start, "to": after_start - timedelta(days=1)},
        "after": {"from": after_start, "to": after_end},
        "method": "auto", "alpha": 0.05, "expected_ratio": 0.5, "seed": SEED,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{EXPERIMENT}.yaml"
    path.write_text("# Demo experiment; analyse with `engmetrics insights experiment analyze "
                    f"experiments/{EXPERIMENT}.yaml`.\n" + yaml.safe_dump(spec, sort_keys=False))
    return [path]
