"""`design`: how small an effect an experiment over the available units can detect, and a stratified,
seeded randomisation of those units into treated and control.

- With `grain: week` the before period is narrowed to the whole ISO weeks (Monday..Sunday) inside it, so the
  spec `to_spec` writes has week-aligned periods (the after period: as many weeks, from the next Monday).
- Units are those with a value of the indicator in the before period (`panel.unit_cells`); the between-unit
  standard deviation of their before-period means is the noise the power calculation uses
  (`power.smallest_detectable_effect` at the chosen `alpha`, `power` and arm sizes).
- Stratification: with `strata`, a column of the `teams` (unit team) or `services` (unit service) dataset,
  units are shuffled within each stratum (units sorted by name before the seeded shuffle), the strata are taken
  in a seeded random order, and the treated count is kept on track with `ratio` over the strata so far: after
  each stratum the treated count is `round(ratio * units so far)` (so the extra unit of an odd stratum goes to
  a random stratum, not always the same). Same data and seed, same assignment. The written spec records each
  unit's stratum (`strata`), and `analyze` then permutes within strata.

>>> assign({"a": "x", "b": "x", "c": "y", "d": "y"}, ratio=0.5, seed=1)[0].__len__()
2
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from ...catalog.loader import Catalog
from ...catalog.model import Calculation
from ...catalog.periods import Period
from ...errors import InputError
from ...store.datasets import REGISTRY
from .panel import check_metric, unit_cells, unit_means
from .power import smallest_detectable_effect

__all__ = ["NO_STRATUM", "Design", "assign", "design", "whole_weeks"]

NO_STRATUM = "(none)"
UNIT_DATASETS = {"team": "teams", "service": "services"}


@dataclass(frozen=True)
class Design:
    """A power calculation and an assignment (`to_dict` is the `--json` output; `to_spec` an analyse spec)."""

    metric: str
    unit: str
    grain: str
    before: Period
    ratio: float
    alpha: float
    power: float
    seed: int
    strata_column: str | None
    values: dict[str, float]
    strata: dict[str, str]
    treated: list[str]
    control: list[str]
    sd: float | None
    smallest_detectable_effect: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "unit": self.unit, "grain": self.grain,
            "before": {"from": self.before.start.isoformat(), "to": self.before.end.isoformat()},
            "ratio": self.ratio, "alpha": self.alpha, "power": self.power, "seed": self.seed,
            "strata_column": self.strata_column, "sd": self.sd,
            "smallest_detectable_effect": self.smallest_detectable_effect,
            "units": [{"unit": u, "stratum": self.strata.get(u), "before_mean": v,
                       "arm": "treated" if u in self.treated else "control"} for u, v in self.values.items()],
            "treated": self.treated, "control": self.control,
        }

    def to_spec(self, name: str, after: Period | None = None) -> dict[str, Any]:
        """An `experiments/NAME.yaml` document for `analyze`; the after period defaults to as many days as the
        before period, starting the day after it; with strata, each unit's stratum."""
        after = after or Period(self.before.end + timedelta(days=1), self.before.end + timedelta(days=self.before.days))
        strata = {"strata": {u: self.strata[u] for u in sorted(self.strata)}} if self.strata_column else {}
        return {
            "experiment": name, "metric": self.metric, "unit": self.unit, "grain": self.grain,
            "assignment": "randomised", "treated": self.treated, "control": self.control,
            "before": {"from": self.before.start, "to": self.before.end},
            "after": {"from": after.start, "to": after.end},
            "method": "auto", "alpha": self.alpha, "expected_ratio": self.ratio, "seed": self.seed,
            **strata,
        }


def assign(strata: dict[str, str], *, ratio: float, seed: int) -> tuple[list[str], list[str]]:
    """(treated, control), each sorted: the stratified seeded assignment of the module doc."""
    rng = np.random.default_rng(seed)
    treated: list[str] = []
    seen = 0
    names = sorted(set(strata.values()))
    for stratum in [names[i] for i in rng.permutation(len(names))]:
        members = sorted(u for u, s in strata.items() if s == stratum)
        order = [members[i] for i in rng.permutation(len(members))]
        seen += len(members)
        take = min(len(members), max(0, int(np.floor(ratio * seen + 0.5)) - len(treated)))
        treated += order[:take]
    return sorted(treated), sorted(u for u in strata if u not in set(treated))


def whole_weeks(period: Period) -> Period:
    """The whole ISO weeks (Monday..Sunday) inside `period`; InputError when there is none.

    >>> from datetime import date
    >>> whole_weeks(Period(date(2026, 3, 4), date(2026, 3, 30)))
    Period(start=datetime.date(2026, 3, 9), end=datetime.date(2026, 3, 29))
    """
    start = period.start + timedelta(days=-period.start.weekday() % 7)
    end = period.end - timedelta(days=(period.end.weekday() + 1) % 7)
    if start > end:
        raise InputError(f"{period.start}..{period.end} holds no whole week (Monday to Sunday): grain week needs one")
    return Period(start, end)


def _strata(store: Any, unit: str, column: str | None, units: list[str]) -> dict[str, str]:
    """Each unit's value of `column` in the unit's dataset (teams, services); `(none)` when unknown."""
    if column is None:
        return dict.fromkeys(units, NO_STRATUM)
    dataset = UNIT_DATASETS[unit]
    if column not in REGISTRY[dataset].column_index:
        raise InputError(f"--strata: dataset {dataset} has no column {column!r}; columns: "
                         f"{', '.join(REGISTRY[dataset].column_names)}")
    t = store.table(dataset)
    frame = t.select(key=t[unit].cast("string"), value=t[column].cast("string")).execute()
    known = dict(zip(frame["key"], frame["value"], strict=True))
    return {u: (known.get(u) or NO_STRATUM) for u in units}


def design(store: Any, catalog: Catalog, metric: str, unit: str, before: Period, *, grain: str = "week",
           strata: str | None = None, ratio: float = 0.5, alpha: float = 0.05, power: float = 0.8,
           seed: int = 7) -> Design:
    """Power calculation and stratified assignment for `metric` split per `unit` (module doc)."""
    if not 0 < ratio < 1:
        raise InputError(f"--ratio must lie strictly between 0 and 1, not {ratio}")
    definition = catalog.get(metric)
    reason = check_metric(definition, unit)
    if reason:
        raise InputError(reason)
    calc = definition.indicator.calculation
    assert isinstance(calc, Calculation)
    if grain == "week":
        before = whole_weeks(before)
    cells = unit_cells(store, calc, unit, grain, before)
    units = sorted({c.unit for c in cells})
    if len(units) < 2:
        raise InputError(f"{metric} has values for {len(units)} {unit}(s) between {before.start} and {before.end}: "
                         "an experiment needs at least 2 units")
    means, _ = unit_means(cells, units)
    values = {u: float(v) for u, v in zip(units, means, strict=True)}
    groups = _strata(store, unit, strata, units)
    treated, control = assign(groups, ratio=ratio, seed=seed)
    sd = float(np.std(means, ddof=1))
    mde = smallest_detectable_effect(sd, len(treated), len(control), alpha=alpha, power=power)
    return Design(metric, unit, grain, before, ratio, alpha, power, seed, strata, values, groups, treated, control,
                  sd, mde)
