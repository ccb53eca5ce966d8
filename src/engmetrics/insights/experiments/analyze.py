"""`analyze`: an experiment spec in, an effect with its interval, p-value, sample-ratio check and power out.

Method (`method: auto`): a randomised experiment with at least two units per arm gets Welch's t-test on the
units' after-period means, with a permutation test beside it, and CUPED (the before-period means as the
covariate) as the headline when every unit has before-period data; an observational one, or one with a single
control unit, gets difference-in-differences with randomisation inference; a single treated unit gets an
interrupted time series of its buckets (several treated units under `method: its`: their mean per bucket).

Units named in the spec without after-period data are left out (a note says which); CUPED and DiD also leave
out units without before-period data. An effect is significant when p <= alpha (`stats.rejects`). When the
randomisation test cannot reach alpha with the units at hand (`did`, `permutation`), there is no smallest
detectable effect, a note says why and the verdict says no effect could be detected with this many units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...catalog.loader import Catalog
from ...catalog.model import Calculation
from ...charts import format_value
from .did import did
from .its import its
from .panel import Cell, check_metric, unit_cells, unit_means
from .power import Srm, sample_ratio_mismatch, smallest_detectable_effect, t_detectable_effect
from .spec import ExperimentSpec, SpecFile
from .stats import Estimate, cuped, permutation_test, pooled_sd, rejects, welch

__all__ = ["POWER", "Analysis", "analyze", "choose_method"]

POWER = 0.8


@dataclass
class Analysis:
    """The result of `analyze` (`to_dict` is the `--json` output, see docs/experiments.md)."""

    spec: ExperimentSpec
    method: str
    estimate: Estimate
    srm: Srm
    power: dict[str, Any]
    treated: list[str]
    control: list[str]
    metric_unit: str = ""
    direction: str = "higher_is_better"
    notes: list[str] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        return rejects(self.estimate.p_value, self.spec.alpha)

    def verdict(self) -> str:
        """One plain-language line: what changed, how sure, and what could have been seen."""
        est, spec = self.estimate, self.spec
        size = f"{format_value(est.effect)} {self.metric_unit}".strip()
        level = f"{round((1 - spec.alpha) * 100)} %"
        interval = ("an unbounded interval" if est.low is None or est.high is None
                    else f"{level} interval {format_value(est.low)} to {format_value(est.high)}")
        p = "p not available" if est.p_value is None else f"p = {est.p_value:.3g}"
        if est.details.get("reachable") is False:
            return (f"No effect could be detected on {spec.metric} with this many units ({len(self.treated)} treated, "
                    f"{len(self.control)} control): the smallest attainable p-value, "
                    f"{est.details['smallest_p_value']:.3g}, is above alpha {spec.alpha}; the estimate {size} "
                    f"({interval}, {p}, {self.method}) cannot be told from chance.")
        if self.significant:
            better = (est.effect > 0) == (self.direction == "higher_is_better")
            return (f"{spec.metric} {'improved' if better else 'worsened'} by {size} under the change "
                    f"({interval}, {p}, {self.method}).")
        mde = self.power.get("smallest_detectable_effect")
        could = f"; with these units only effects of about {format_value(mde)} or more were likely to show" \
            if mde is not None else ""
        return f"No detectable effect of the change on {spec.metric}: {size} ({interval}, {p}, {self.method}){could}."

    def to_dict(self) -> dict[str, Any]:
        est, spec = self.estimate, self.spec
        return {
            "experiment": spec.experiment, "metric": spec.metric, "unit": spec.unit, "method": self.method,
            "effect": est.effect, "interval": [est.low, est.high], "confidence": 1 - spec.alpha,
            "p_value": est.p_value, "posterior_probability": None,
            "srm": {"p_value": self.srm.p_value, "mismatch": self.srm.mismatch, "basis": self.srm.basis,
                    "expected_ratio": self.srm.expected_ratio},
            "power": self.power, "units": {"treated": len(self.treated), "control": len(self.control)},
            "details": {**est.details, "treated_units": self.treated, "control_units": self.control,
                        "assignment": spec.assignment, "grain": spec.grain, "metric_unit": self.metric_unit,
                        "direction": self.direction,
                        "before": spec.before.to_dict(), "after": spec.after.to_dict()},
            "notes": self.notes, "verdict": self.verdict(), "series": self.series,
        }


def choose_method(spec: ExperimentSpec, n_treated: int, n_control: int) -> str:
    """The method `auto` picks for the arms' unit counts (module doc); an explicit method is kept."""
    if spec.method != "auto":
        return spec.method
    if n_treated == 1:
        return "its"
    if spec.assignment == "randomised" and n_treated >= 2 and n_control >= 2:
        return "welch"
    return "did"


def analyze(store: Any, catalog: Catalog, source: SpecFile) -> Analysis:
    """Analyse the experiment of `source` on the store's data (module doc). Raises InputError located at the
    spec's field for an unknown or unsplittable metric and for arms left without data."""
    spec = source.spec
    if spec.metric not in catalog.ids:
        raise source.error("metric", f"no indicator {spec.metric!r} in the catalog")
    definition = catalog.get(spec.metric)
    reason = check_metric(definition, spec.unit)
    if reason:
        raise source.error("metric", reason)
    calc = definition.indicator.calculation
    assert isinstance(calc, Calculation)
    named = [*spec.treated, *spec.control]
    before = unit_cells(store, calc, spec.unit, spec.grain, spec.before.period, units=named)
    after = unit_cells(store, calc, spec.unit, spec.grain, spec.after.period, units=named)
    notes: list[str] = []
    x_t, y_t, treated = _arm(spec.treated, before, after, "treated", notes)
    x_c, y_c, control = _arm(spec.control, before, after, "control", notes)
    if not treated:
        raise source.error("treated", "no treated unit has data in the after period")
    method = choose_method(spec, len(treated), len(control))
    if method in ("welch", "permutation", "cuped") and (len(treated) < 2 or len(control) < 2):
        raise source.error("method", f"{method} needs 2 units per arm with after-period data "
                                     f"(treated {len(treated)}, control {len(control)})")
    if method == "did" and not control:
        raise source.error("control", "no control unit has data in the after period")
    run = {"welch": _two_arm, "permutation": _two_arm, "cuped": _two_arm, "did": _did, "its": _its}[method]
    try:
        method, estimate, power = run(spec, method, (x_t, y_t, treated), (x_c, y_c, control), before, after, notes)
    except NotEnoughData as exc:
        raise source.error(exc.field, exc.message) from None
    checked = bool(spec.control) and (spec.expected_ratio is not None or spec.assignment == "randomised")
    srm = sample_ratio_mismatch(len(treated), len(control), spec.ratio if checked else None)
    if srm.mismatch:
        notes.append(f"sample-ratio mismatch: {len(treated)} treated and {len(control)} control units where "
                     f"{spec.ratio:.0%} treated was expected (p = {srm.p_value:.3g}); check the assignment")
    if spec.assignment == "observational":
        notes.append("observational assignment: the estimate assumes treated and control units would have "
                     "moved in parallel without the change")
    ind = definition.indicator
    return Analysis(spec, method, estimate, srm, power, treated, control, ind.unit, ind.direction, notes,
                    _series(before, after, treated, control))


Arm = tuple[np.ndarray, np.ndarray, list[str]]


class NotEnoughData(Exception):
    """The data cannot carry the method; `field` is the spec field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _arm(units: list[str], before: list[Cell], after: list[Cell], name: str, notes: list[str]) -> Arm:
    """(before means, after means, units) of the arm's units with after-period data."""
    x, _ = unit_means(before, units)
    y, _ = unit_means(after, units)
    missing = [u for u, v in zip(units, y, strict=True) if np.isnan(v)]
    if missing:
        notes.append(f"{name} units without data in the after period, left out: {', '.join(missing)}")
    keep = ~np.isnan(y)
    return x[keep], y[keep], [u for u, k in zip(units, keep, strict=True) if k]


def _with_before(arm: Arm) -> Arm:
    x, y, units = arm
    keep = ~np.isnan(x)
    return x[keep], y[keep], [u for u, k in zip(units, keep, strict=True) if k]


def _power(sd: float | None, n_t: int, n_c: int, spec: ExperimentSpec) -> dict[str, Any]:
    return {"smallest_detectable_effect": smallest_detectable_effect(sd, n_t, n_c, alpha=spec.alpha, power=POWER),
            "power": POWER, "alpha": spec.alpha, "sd": sd}


def _strata(spec: ExperimentSpec, units: list[str]) -> list[str] | None:
    """The stratum of each of `units` when the spec records strata (the tests then permute within them)."""
    return None if spec.strata is None else [spec.strata[u] for u in units]


def _unreachable(spec: ExperimentSpec, test: str, units: int, assignments: int | None, smallest: float,
                 notes: list[str], power: dict[str, Any]) -> dict[str, Any]:
    """The note and the power statement when `test` cannot reach alpha: no effect size could be detected."""
    notes.append(f"{units} units allow {assignments} assignments: the smallest attainable two-sided p-value of the "
                 f"{test} is {smallest:.3g}, above alpha {spec.alpha}, so it cannot confirm any effect of any size "
                 "(no smallest detectable effect); add units")
    return {**power, "smallest_detectable_effect": None}


def _two_arm(spec: ExperimentSpec, method: str, t: Arm, c: Arm, before: list[Cell], after: list[Cell],
             notes: list[str]) -> tuple[str, Estimate, dict[str, Any]]:
    """Welch and the permutation test on the after means; CUPED when every unit has before data (the headline
    under `auto` and `cuped`)."""
    (x_t, y_t, u_t), (x_c, y_c, u_c) = t, c
    plain = welch(y_t, y_c, alpha=spec.alpha)
    perm = permutation_test(y_t, y_c, seed=spec.seed, strata=_strata(spec, u_t + u_c))
    details: dict[str, Any] = {"welch": _summary(plain), "permutation": perm.to_dict(),
                               "treated_mean": float(y_t.mean()), "control_mean": float(y_c.mean())}
    covariate = not (np.isnan(x_t).any() or np.isnan(x_c).any())
    if method == "cuped" and not covariate:
        notes.append("CUPED needs before-period data for every unit; reporting Welch instead")
    elif spec.method == "auto" and not covariate:
        notes.append("CUPED not used: not every unit has before-period data")
    if covariate and spec.method in ("auto", "cuped"):
        adjusted = cuped(y_t, y_c, x_t, x_c, alpha=spec.alpha)
        details["cuped"] = {**_summary(adjusted), "theta": adjusted.details["theta"], "se": adjusted.details["se"],
                            "variance_reduction": adjusted.details["variance_reduction"]}
        mde = t_detectable_effect(adjusted.details["se"], adjusted.details["df"], alpha=spec.alpha, power=POWER)
        return "cuped", Estimate(adjusted.effect, adjusted.low, adjusted.high, adjusted.p_value, details), \
            {"smallest_detectable_effect": mde, "power": POWER, "alpha": spec.alpha,
             "sd": adjusted.details["residual_sd"]}
    power = _power(pooled_sd(y_t, y_c), len(y_t), len(y_c), spec)
    if method == "permutation":
        details["welch_interval"] = [plain.low, plain.high]
        details["reachable"] = rejects(perm.smallest_p_value, spec.alpha)
        details["smallest_p_value"] = perm.smallest_p_value
        if not details["reachable"]:
            power = _unreachable(spec, "permutation test", len(y_t) + len(y_c), perm.assignments,
                                 perm.smallest_p_value, notes, power)
        return "permutation", Estimate(plain.effect, plain.low, plain.high, perm.p_value, details), power
    return "welch", Estimate(plain.effect, plain.low, plain.high, plain.p_value, details), power


def _summary(est: Estimate) -> dict[str, Any]:
    return {"effect": est.effect, "interval": [est.low, est.high], "p_value": est.p_value,
            "df": est.details.get("df")}


def _did(spec: ExperimentSpec, method: str, t: Arm, c: Arm, before: list[Cell], after: list[Cell],
         notes: list[str]) -> tuple[str, Estimate, dict[str, Any]]:
    """Difference-in-differences over the units with data in both periods."""
    (x_t, y_t, u_t), (x_c, y_c, u_c) = _with_before(t), _with_before(c)
    dropped = sorted(set(t[2] + c[2]) - set(u_t + u_c))
    if dropped:
        notes.append(f"units without before-period data, left out of the difference-in-differences: "
                     f"{', '.join(dropped)}")
    if not u_t or not u_c:
        raise NotEnoughData("before", "difference-in-differences needs a treated and a control unit with data in "
                                      "both periods")
    est = did(x_t, y_t, x_c, y_c, alpha=spec.alpha, seed=spec.seed, strata=_strata(spec, u_t + u_c))
    power = _power(pooled_sd(y_t - x_t, y_c - x_c), len(u_t), len(u_c), spec)
    if not est.details["reachable"]:
        notes.append("the difference-in-differences interval is unbounded: no effect is rejected")
        power = _unreachable(spec, "randomisation test", len(u_t) + len(u_c),
                             est.details["assignments"] or est.details["resamples"], est.details["smallest_p_value"],
                             notes, power)
    return "did", est, power


def _its(spec: ExperimentSpec, method: str, t: Arm, c: Arm, before: list[Cell], after: list[Cell],
         notes: list[str]) -> tuple[str, Estimate, dict[str, Any]]:
    """Segmented regression of the treated units' mean per bucket (one unit: its own series)."""
    units = t[2]
    step = 1 if spec.grain == "day" else 7
    b, a = _bucket_means(before, units), _bucket_means(after, units)
    if len(b) < 2 or len(a) < 2 or len(a) + len(b) < 6:
        raise NotEnoughData("before", f"an interrupted time series needs 2 {spec.grain}s with data on each side "
                                      f"and 6 in all (before {len(b)}, after {len(a)})")
    first = min(b | a)
    ts = np.array([(d - first).days // step for d in [*b, *a]], dtype=float)
    ys = np.array([*b.values(), *a.values()])
    phase = np.r_[np.zeros(len(b), dtype=bool), np.ones(len(a), dtype=bool)]  # D_t from the period, not t >= t0
    est = its(ts, ys, int(ts[len(b)]), alpha=spec.alpha, after=phase)
    if c[2]:
        notes.append("interrupted time series of the treated unit: the control units are not used")
    if len(units) > 1:
        notes.append(f"interrupted time series of the mean of {len(units)} treated units per {spec.grain}")
    mde = t_detectable_effect(est.details["level_change_se"], est.details["df"], alpha=spec.alpha, power=POWER)
    return "its", est, {"smallest_detectable_effect": mde, "power": POWER, "alpha": spec.alpha, "sd": None}


def _bucket_means(cells: list[Cell], units: list[str]) -> dict[Any, float]:
    """The mean value of `units` per bucket, by bucket."""
    days = sorted({c.bucket for c in cells if c.unit in units})
    return {d: float(np.mean([c.value for c in cells if c.bucket == d and c.unit in units])) for d in days}


def _series(before: list[Cell], after: list[Cell], treated: list[str], control: list[str]) -> list[dict[str, Any]]:
    """The mean value per bucket of the treated and of the control units, with the period (for charts)."""
    out = []
    for phase, cells in (("before", before), ("after", after)):
        arms = {"treated": _bucket_means(cells, treated), "control": _bucket_means(cells, control)}
        for day in sorted({c.bucket for c in cells}):
            out.append({"bucket": day.isoformat(), "phase": phase, "treated": arms["treated"].get(day),
                        "control": arms["control"].get(day)})
    return out
