"""Error-budget maths for one objective over one explicit window [start, end), as OpenSLO defines the
budgeting methods. The input is an indicator source `(ts, good, total)` (see `engmetrics.slo.sources`),
bucketed at the time-slice width or finer; the engine does the aggregation (Ibis), Python only finishes
the arithmetic on the one aggregated row.

- **Occurrences**: SLI = sum(good) / sum(total); the budget is `(1 - target) x total` bad events; consumed
  is the bad events (total - good).
- **Timeslices**: events are grouped into slices of `timeSliceWindow`; a slice is good when
  `good / total >= timeSliceTarget` (a slice exactly at the target is good). SLI = good slices / counted
  slices; the budget is `(1 - target) x counted slices`; consumed is the bad slices.
- **RatioTimeslices**: SLI = the mean over slices of the per-slice ratio good / total; the budget is
  `(1 - target) x counted slices` and consumed is `counted slices x (1 - SLI)` (the sum of the per-slice
  error ratios), so remaining = `1 - (1 - SLI) / (1 - target)`.

Remaining is `1 - consumed / budget`, a fraction of the budget that goes negative once it is overspent.

Slices without events. OpenSLO leaves open how a slice with no events counts; here such a slice is **not
counted**: it is neither good nor bad and adds nothing to the budget. Only slices with `total > 0` exist
for Timeslices and RatioTimeslices. (A source only has rows for buckets with data, so counting empty
slices would need a calendar of slices; "not counted" also keeps low-traffic gaps from passing as good.)

No data. A window without events (Occurrences) or without counted slices (the slice methods) has
`no_data=True` and `sli`, `budget_consumed` and `budget_remaining` of None, never NaN and never 100 %.

Slicing. A slice width of one second, minute, hour or day uses `truncate()` + `group_by` (DESIGN.md);
other widths (`5m`, `2h`, `1w`) group on `floor(epoch seconds / width)`. Both align slices to the Unix
epoch in UTC, so a `1m` slice is the same either way. A window whose start is not on a slice boundary has
partial first and last slices; every event is in exactly one slice.

>>> from datetime import datetime
>>> import ibis
>>> events = ibis.memtable({"ts": [datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 10, 1)],
...                         "good": [990, 95], "total": [1000, 100]})
>>> r = error_budget(events, method="Occurrences", target=0.99,
...                  start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
>>> r.good, r.total, round(r.budget_total, 6), r.budget_consumed, round(r.budget_remaining, 4)
(1085.0, 1100.0, 11.0, 15.0, -0.3636)
>>> r = error_budget(events, method="Timeslices", target=0.5, time_slice_target=0.95,
...                  time_slice_window="1m", start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
>>> r.slices, r.good_slices, r.sli, r.budget_consumed, r.budget_remaining
(2, 2, 1.0, 0.0, 1.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from .durations import duration_seconds
from .openslo import BudgetingMethod

if TYPE_CHECKING:
    from .openslo import Objective

__all__ = ["BudgetResult", "budget_from_counts", "error_budget", "objective_budget", "slice_seconds",
           "slice_start"]

_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
_TRUNCATE = {"s": "s", "m": "m", "h": "h", "d": "D"}  # one-unit slices that `truncate()` can make
_DURATION = re.compile(r"^([0-9]+)([a-zA-Z])$")


@dataclass(frozen=True)
class BudgetResult:
    """The budget of one objective over one window.

    `good` and `total` are event counts in the window for every method. For the slice methods, `slices`
    is the number of counted slices (slices with events) and `good_slices` the number meeting
    `timeSliceTarget` (Timeslices only; None otherwise). `budget_total` and `budget_consumed` are in
    events (Occurrences) or slices (Timeslices, RatioTimeslices); `budget_remaining` is the fraction left,
    `1 - consumed / total budget`, negative when overspent. With `no_data`, `sli`, `budget_consumed` and
    `budget_remaining` are None.
    """

    method: BudgetingMethod
    target: float
    sli: float | None
    budget_total: float
    budget_consumed: float | None
    budget_remaining: float | None
    good: float
    total: float
    slices: int | None
    good_slices: int | None
    no_data: bool

    @property
    def bad(self) -> float:
        """Bad events in the window (total - good)."""
        return self.total - self.good


def slice_seconds(duration: str) -> int:
    """The length in seconds of a `timeSliceWindow` such as `1m` or `5m` (m is minutes, as in OpenSLO).

    Months, quarters and years have no fixed length and are refused as slice widths.

    >>> slice_seconds("5m"), slice_seconds("1d")
    (300, 86400)
    """
    try:
        return duration_seconds(duration)
    except ValueError:
        raise ValueError(f"unsupported time slice window {duration!r}; use a count of s, m, h, d or w") from None


def _utc(value: datetime) -> datetime:
    """A naive datetime is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def slice_start(ts: ir.TimestampColumn, duration: str) -> ir.TimestampColumn:
    """The start of the slice of `duration` that `ts` falls in, slices aligned to the Unix epoch (UTC)."""
    width = slice_seconds(duration)
    match = _DURATION.match(duration)
    if match and int(match[1]) == 1 and match[2] in _TRUNCATE:
        return ts.truncate(_TRUNCATE[match[2]])
    return ((ts.epoch_seconds() // width) * width).as_timestamp("s")


def _number(value: Any) -> float:
    """A float from an aggregated scalar; NULL (no rows) and NaN are 0."""
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if math.isnan(number) else number


def _window(events: ir.Table, start: datetime, end: datetime) -> ir.Table:
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError(f"the window is empty: end {end.isoformat()} is not after start {start.isoformat()}")
    t = events.filter(events.ts >= ibis.timestamp(start), events.ts < ibis.timestamp(end))
    return t.select("ts", good=t.good.cast("float64").fill_null(0.0), total=t.total.cast("float64").fill_null(0.0))


def budget_from_counts(
    method: BudgetingMethod, target: float, *, good: float, total: float, slices: int | None = None,
    good_slices: int | None = None, ratio_sum: float | None = None,
) -> BudgetResult:
    """The budget from aggregated counts: events for Occurrences; counted slices, slices meeting the slice
    target (Timeslices) and the sum of per-slice ratios (RatioTimeslices) for the slice methods.

    >>> r = budget_from_counts("Occurrences", 0.99, good=1085, total=1100)
    >>> round(r.budget_total, 6), r.budget_consumed, round(r.budget_remaining, 4)
    (11.0, 15, -0.3636)
    """
    if method == "Occurrences":
        allowed = (1 - target) * total
        if total <= 0:
            return BudgetResult(method, target, None, 0.0, None, None, good, total, None, None, True)
        consumed = total - good
        return BudgetResult(method, target, good / total, allowed, consumed, 1 - consumed / allowed,
                            good, total, None, None, False)
    slices = slices or 0
    allowed = (1 - target) * slices
    if slices == 0:
        return BudgetResult(method, target, None, 0.0, None, None, good, total, 0, good_slices, True)
    if method == "Timeslices":
        assert good_slices is not None
        sli, consumed = good_slices / slices, float(slices - good_slices)
    else:
        assert ratio_sum is not None
        sli, consumed = ratio_sum / slices, slices - ratio_sum
    return BudgetResult(method, target, sli, allowed, consumed, 1 - consumed / allowed,
                        good, total, slices, good_slices, False)


def _occurrences(t: ir.Table, target: float) -> BudgetResult:
    row = t.aggregate(good=t.good.sum(), total=t.total.sum()).execute().iloc[0]
    return budget_from_counts("Occurrences", target, good=_number(row["good"]), total=_number(row["total"]))


def _per_slice(t: ir.Table, window: str) -> ir.Table:
    """`(good, total, ratio)` per slice with events (slices without events are not counted)."""
    keyed = t.mutate(_slice=slice_start(t.ts, window))
    s = keyed.group_by("_slice").aggregate(good=keyed.good.sum(), total=keyed.total.sum())
    s = s.filter(s.total > 0)
    return s.mutate(ratio=s.good / s.total)


def _timeslices(t: ir.Table, method: BudgetingMethod, target: float, slice_target: float | None,
                window: str) -> BudgetResult:
    s = _per_slice(t, window)
    metrics: dict[str, ir.Scalar] = {
        "good": s.good.sum(), "total": s.total.sum(), "slices": s.count(), "ratio_sum": s.ratio.sum(),
    }
    if slice_target is not None:
        metrics["good_slices"] = (s.ratio >= slice_target).cast("int64").sum()
    row = s.aggregate(**metrics).execute().iloc[0]
    good_slices = int(_number(row["good_slices"])) if slice_target is not None else None
    return budget_from_counts(method, target, good=_number(row["good"]), total=_number(row["total"]),
                              slices=int(_number(row["slices"])), good_slices=good_slices,
                              ratio_sum=_number(row["ratio_sum"]))


def error_budget(
    events: ir.Table, *, method: BudgetingMethod, target: float, start: datetime, end: datetime,
    time_slice_target: float | None = None, time_slice_window: str | None = None,
) -> BudgetResult:
    """The error budget of `events` (`ts, good, total`) over [start, end) by one OpenSLO budgeting method.

    Timeslices needs `time_slice_target` and `time_slice_window`; RatioTimeslices needs
    `time_slice_window`. Naive datetimes are UTC. Events should be bucketed no coarser than the slice.

    >>> from datetime import datetime
    >>> import ibis
    >>> events = ibis.memtable({"ts": [datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 0, 1)],
    ...                         "good": [9, 10], "total": [10, 10]})
    >>> r = error_budget(events, method="RatioTimeslices", target=0.9, time_slice_window="1m",
    ...                  start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    >>> r.sli, round(r.budget_remaining, 6)
    (0.95, 0.5)
    """
    if method not in _METHODS:
        raise ValueError(f"unknown budgeting method {method!r}; use one of {', '.join(_METHODS)}")
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1 (exclusive), got {target!r}")
    t = _window(events, start, end)
    if method == "Occurrences":
        return _occurrences(t, target)
    if time_slice_window is None:
        raise ValueError(f"{method} needs a timeSliceWindow")
    if method == "Timeslices":
        if time_slice_target is None:
            raise ValueError("Timeslices needs a timeSliceTarget")
        if not 0 < time_slice_target <= 1:
            raise ValueError(f"timeSliceTarget must be in (0, 1], got {time_slice_target!r}")
        return _timeslices(t, method, target, time_slice_target, time_slice_window)
    return _timeslices(t, method, target, None, time_slice_window)


def objective_budget(
    events: ir.Table, objective: Objective, method: BudgetingMethod, *, start: datetime, end: datetime,
) -> BudgetResult:
    """`error_budget` with target, timeSliceTarget and timeSliceWindow read from an OpenSLO objective.

    >>> from datetime import datetime
    >>> import ibis
    >>> from engmetrics.slo.openslo import Objective
    >>> events = ibis.memtable({"ts": [datetime(2026, 1, 1)], "good": [99], "total": [100]})
    >>> objective = Objective.model_validate({"target": 0.995, "timeSliceTarget": 0.99, "timeSliceWindow": "1m"})
    >>> objective_budget(events, objective, "Timeslices",
    ...                  start=datetime(2026, 1, 1), end=datetime(2026, 2, 1)).good_slices
    1
    """
    assert objective.target is not None  # the model fills it from targetPercent
    return error_budget(
        events, method=method, target=objective.target, start=start, end=end,
        time_slice_target=objective.timeSliceTarget, time_slice_window=objective.timeSliceWindow,
    )
