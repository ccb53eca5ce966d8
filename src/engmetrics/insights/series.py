"""The series the anomaly scan looks at, aggregated in the engine (Ibis: `truncate()` + `group_by`) and
finished in numpy as regular arrays.

- `dataset:<name>`: rows per day of a dataset's `time_column` (deployments, incidents, alerts, ...); a
  mostly-zero daily series (median below 1) is summed into ISO weeks (Monday to Sunday, whole weeks only).
  Missing buckets are 0: a count.
- `sli:<service>/<indicator>`: `sum(good) / sum(total)` of `sli_events` per day (or hour, `sli_step`).
  Missing buckets, and buckets with total 0, are NaN: a ratio has no value there.
- `metric:<id>` (`metric:<id>[<group>]` per group): a catalog indicator's value per period of its cadence, as
  the catalog computes past periods (`catalog.history.history`). No value is NaN. Individual-level indicators
  (those needing review-board approval) and indicators grouped by a person column are never scanned: no
  per-person series exist.

Buckets cover `[start, end)` from the first bucket with data; the bucket holding `end` (today, still
filling) is left out. `Series.datasets` names the datasets a series derives from and `Series.group` an
indicator series' group, for access checks (stored with each finding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..catalog.history import history
from ..catalog.loader import Catalog, Definition
from ..catalog.model import CalculatorCall
from ..governance.access import indicator_datasets
from ..governance.board import needs_approval
from ..store import REGISTRY

__all__ = ["Series", "dataset_series", "indicator_series", "sli_series"]

DAY, WEEK = timedelta(days=1), timedelta(days=7)
_CADENCE_STEP = {"daily": DAY, "weekly": WEEK, "monthly": timedelta(days=30), "quarterly": timedelta(days=91)}


@dataclass(frozen=True)
class Series:
    """A regular series: bucket starts `times`, bucket ends `ends`, `values` (NaN = no value)."""

    name: str
    source: str  # dataset | sli | indicator
    metric: str | None
    group: str | None  # an indicator's group (per team, per service, ...), else None
    datasets: frozenset[str]
    step: timedelta
    times: list[datetime]
    ends: list[datetime]
    values: np.ndarray
    counts: bool


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _utc(values: Any) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(pd.to_datetime(values))
    return stamps.tz_localize(UTC) if stamps.tz is None else stamps.tz_convert(UTC)


def _grid(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    count = max(0, int((end - start) // step))
    return [start + i * step for i in range(count)]


def dataset_series(store: Any, dataset: str, start: date, end: date) -> Series | None:
    """Rows per day (or ISO week when sparse) of `dataset` in `[start, end)`; None without rows there or
    without a time column."""
    ds = REGISTRY.get_dataset(dataset)
    if ds.time_column is None:
        return None
    table = store.table(dataset)
    column = table[ds.time_column]
    low, high = (start, end) if ds.column(ds.time_column).type == "date" else (_midnight(start), _midnight(end))
    counts = (table.filter((column >= ibis.literal(low)) & (column < ibis.literal(high)))
              .group_by(bucket=column.truncate("D")).aggregate(n=ibis._.count()).execute())
    if counts.empty:
        return None
    days = (_utc(counts["bucket"]).normalize() - pd.Timestamp(start, tz=UTC)).days.to_numpy()
    first = int(days.min())
    daily = np.zeros((end - start).days - first)
    np.add.at(daily, days - first, counts["n"].to_numpy(dtype=float))
    origin = _midnight(start) + first * DAY
    step = DAY
    if np.median(daily) < 1:
        skip = (7 - origin.weekday()) % 7  # whole ISO weeks: from the first Monday
        weeks = (len(daily) - skip) // 7
        daily, origin, step = daily[skip:skip + 7 * weeks].reshape(weeks, 7).sum(axis=1), origin + skip * DAY, WEEK
    times = _grid(origin, origin + len(daily) * step, step)
    return Series(f"dataset:{dataset}", "dataset", None, None, frozenset({dataset}), step, times,
                  [t + step for t in times], daily, True)


def sli_series(store: Any, start: date, end: date, *, hourly: bool = False) -> list[Series]:
    """`good / total` per service and indicator, per day (or hour) in `[start, end)`."""
    t = store.table("sli_events")
    unit, step = ("h", timedelta(hours=1)) if hourly else ("D", DAY)
    frame = (t.filter((t.ts >= _midnight(start)) & (t.ts < _midnight(end)))
             .group_by(["service", "indicator", t.ts.truncate(unit).name("bucket")])
             .aggregate(good=t.good.sum(), total=t.total.sum()).execute())
    out = []
    if frame.empty:
        return out
    frame["bucket"] = _utc(frame["bucket"])
    for (service, indicator), rows in frame.groupby(["service", "indicator"], sort=True):
        origin = rows["bucket"].min().to_pydatetime()
        times = _grid(origin, _midnight(end), step)
        index = ((rows["bucket"] - rows["bucket"].min()) // step).to_numpy(dtype=int)
        total = rows["total"].to_numpy(dtype=float)
        ratio = np.divide(rows["good"].to_numpy(dtype=float), total, out=np.full(len(rows), np.nan),
                          where=total > 0)
        values = np.full(len(times), np.nan)
        values[index] = ratio
        out.append(Series(f"sli:{service}/{indicator}", "sli", None, None, frozenset({"sli_events"}), step, times,
                          [x + step for x in times], values, False))
    return out


def _per_person(definition: Definition) -> bool:
    ind = definition.indicator
    calc = ind.calculation
    if needs_approval(ind):
        return True
    if isinstance(calc, CalculatorCall):
        return False
    dataset = REGISTRY.get(calc.dataset)
    return dataset is not None and calc.group_by in dataset.person_columns


def indicator_series(store: Any, catalog: Catalog, as_of: date, periods: int,
                     metric: str | None = None) -> list[Series]:
    """Each active indicator's last `periods` values ending on `as_of` (one series per group)."""
    out = []
    for definition in catalog.active:
        ind = definition.indicator
        if (metric is not None and ind.id != metric) or _per_person(definition):
            continue
        points = history(store, definition, as_of, periods)
        calc = ind.calculation
        counts = not isinstance(calc, CalculatorCall) and calc.measure.type == "count"
        spans = sorted({(p.period_start, p.period_end) for p in points})
        slot = {span: i for i, span in enumerate(spans)}
        for group in sorted({p.group for p in points}, key=lambda g: (g is not None, g or "")):
            values = np.full(len(spans), np.nan)
            for p in points:
                if p.group == group and p.value is not None:
                    values[slot[(p.period_start, p.period_end)]] = p.value
            name = f"metric:{ind.id}" if group is None else f"metric:{ind.id}[{group}]"
            out.append(Series(name, "indicator", ind.id, group, indicator_datasets(ind), _CADENCE_STEP[ind.cadence],
                              [_midnight(a) for a, _ in spans], [_midnight(b) + DAY for _, b in spans], values,
                              counts))
    return out
