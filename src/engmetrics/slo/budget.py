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
epoch in UTC, so a `1m` slice is the same either way. A slice belongs to a window when its start is in the
window: a window whose start is not on a slice boundary leaves out the slice it cuts (a slice counts whole
or not at all), and the last slice ends at the window's end.

The counting is done by `engmetrics.slo.engine` (`error_budget` there judges one window); this module
holds the arithmetic on the counts:

>>> r = budget_from_counts("Timeslices", 0.5, good=1085, total=1100, slices=2, good_slices=2)
>>> r.sli, r.budget_consumed, r.budget_remaining
(1.0, 0.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

from ..durations import SINGLE_UNIT, duration_seconds
from .openslo import BudgetingMethod

__all__ = ["BudgetResult", "budget_from_counts", "slice_seconds", "slice_start"]

_TRUNCATE = {"s": "s", "m": "m", "h": "h", "d": "D"}  # one-unit slices that `truncate()` can make


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


def slice_start(ts: ir.TimestampColumn, duration: str) -> ir.TimestampColumn:
    """The start of the slice of `duration` that `ts` falls in, slices aligned to the Unix epoch (UTC)."""
    width = slice_seconds(duration)
    match = SINGLE_UNIT.match(duration)
    if match and int(match[1]) == 1 and match[2] in _TRUNCATE:
        return ts.truncate(_TRUNCATE[match[2]])
    return ((ts.epoch_seconds() // width) * width).as_timestamp("s")


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
