"""DORA performance-level tables as versioned data, and the band a measured value falls in.

The tables are package data, one YAML file per report: `engmetrics/templates/dora/dora-<id>.yaml` with the
report's own wording (`published`) next to its numeric reading, the report and year it comes from, and the
share of respondents per level. Shipped: ``2021`` (Accelerate State of DevOps 2021), ``2023`` (Accelerate State
of DevOps Report 2023), ``2024`` (Accelerate State of DevOps Report 2024, its clusters). Values are stored as
published, never re-ordered: the 2024 change fail rate column is not monotonic (high 20 % > medium 10 %).

Units: `deployment_frequency` deploys per day, `lead_time` and `recovery_time` hours, `change_fail_rate` a
fraction. Calendar words: 1 week = 7 days, 1 month = 30 days, 6 months = 180 days. A level is a range
``[min, max]`` (``null`` = unbounded) or a single published `value` (a range of width 0).

**Band** of a value for one metric and table (`band`): the level whose published range or value is closest.
Distance is 0 inside a range (edges included); outside, it is the distance to the nearest edge, measured on a
log scale for the time-like metrics (deployment frequency, lead time, recovery time: |ln x - ln edge|, both
floored at 1e-9 so that 0 has a finite distance) and on the linear scale for rates (|x - edge|). Equal distances
go to the level listed first in the table (elite, high, medium, low): for example 2023's low level repeats the
medium level's deployment-frequency range, so such a value is ``medium``; a 2024 change fail rate of 15 % is as
close to high (20 %) as to medium (10 %) and is ``high``. No value, or a metric the table does not publish
(rework rate in every shipped table): ``None``.

>>> band(load_benchmark("2024"), "change_fail_rate", 0.12)
'medium'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from ..errors import InputError

__all__ = ["LOG_SCALE_METRICS", "METRICS", "BenchmarkTable", "Level", "available_benchmarks", "band",
           "load_benchmark"]

METRICS = ("deployment_frequency", "lead_time", "change_fail_rate", "recovery_time", "rework_rate")
LOG_SCALE_METRICS = frozenset({"deployment_frequency", "lead_time", "recovery_time"})
_FLOOR = 1e-9
_TIE = 1e-12


@dataclass(frozen=True)
class Level:
    """One performance level of one metric: the published wording and its numeric range."""

    name: str
    published: str
    min: float | None
    max: float | None

    def distance(self, value: float, *, log_scale: bool) -> float:
        """0 inside ``[min, max]``; else the distance to the nearest edge (log or linear scale)."""
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        if low <= value <= high:
            return 0.0
        edge = low if value < low else high
        if log_scale:
            return abs(math.log(max(value, _FLOOR)) - math.log(max(edge, _FLOOR)))
        return abs(value - edge)


@dataclass(frozen=True)
class BenchmarkTable:
    """A published DORA table: `metrics[metric][level]`, levels in the table's order."""

    id: str
    report: str
    year: int
    source: str
    levels: tuple[str, ...]
    metrics: dict[str, dict[str, Level]]

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "report": self.report, "year": self.year, "source": self.source}


def _folder() -> Path:
    return Path(str(resources.files("engmetrics") / "templates" / "dora"))


def available_benchmarks() -> list[str]:
    """Ids of the shipped tables, e.g. ``['2021', '2023', '2024']``."""
    return sorted(p.stem.removeprefix("dora-") for p in _folder().glob("dora-*.yaml"))


def _level(name: str, raw: dict) -> Level:
    if "value" in raw:
        return Level(name, str(raw["published"]), float(raw["value"]), float(raw["value"]))
    bound = {k: None if raw.get(k) is None else float(raw[k]) for k in ("min", "max")}
    return Level(name, str(raw["published"]), bound["min"], bound["max"])


@cache
def load_benchmark(table_id: str) -> BenchmarkTable:
    """The table with this id (``"2021"``, ``"2023"``, ``"2024"``); InputError for an unknown id."""
    path = _folder() / f"dora-{table_id}.yaml"
    if not path.is_file():
        raise InputError(f"unknown DORA benchmark {table_id!r}; available: {', '.join(available_benchmarks())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    levels = tuple(raw["levels"])
    metrics = {metric: {name: _level(name, rows[name]) for name in levels}
               for metric, rows in raw["metrics"].items()}
    return BenchmarkTable(str(raw["id"]), raw["report"], int(raw["year"]), raw["source"], levels, metrics)


def band(table: BenchmarkTable, metric: str, value: float | None) -> str | None:
    """The level of `table` closest to `value` for `metric` (see the module docstring); None without a value
    or when the table publishes nothing for the metric."""
    rows = table.metrics.get(metric)
    if value is None or rows is None:
        return None
    log_scale = metric in LOG_SCALE_METRICS
    best, best_distance = None, math.inf
    for name in table.levels:  # table order: on a tie the earlier level stays
        d = rows[name].distance(value, log_scale=log_scale)
        if d < best_distance - _TIE:
            best, best_distance = name, d
    return best
