"""An indicator's history: its value and status over the last N periods of its cadence, ending on the
as-of date. The indicator page draws it with the thresholds over it.

>>> from datetime import date
>>> [(p.start, p.end) for p in periods_back("weekly", date(2026, 3, 31), 2)]
[(datetime.date(2026, 3, 18), datetime.date(2026, 3, 24)), (datetime.date(2026, 3, 25), datetime.date(2026, 3, 31))]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..governance.board import needs_approval
from .evaluate import period_values
from .loader import Definition
from .periods import Period, period_ending
from .rag import rag_status

__all__ = ["HistoryPoint", "history", "periods_back"]


@dataclass(frozen=True)
class HistoryPoint:
    """One period of an indicator (and group). `value` None means no data; `status` is None only for
    an indicator without thresholds (a proposed one). A value estimated from sampled data has its 95 %
    interval `low`..`high` and whether that interval can be trusted (`reliable`; all None for exact values)."""

    period_start: date
    period_end: date
    value: float | None
    status: str | None
    sample_size: int
    group: str | None = None
    low: float | None = None
    high: float | None = None
    reliable: bool | None = None

    @property
    def estimated(self) -> bool:
        """Whether the value is an estimate with its interval."""
        return self.low is not None and self.high is not None


def periods_back(cadence: str, as_of: date, count: int) -> list[Period]:
    """The `count` consecutive periods of `cadence` ending on `as_of`, oldest first."""
    periods: list[Period] = []
    end = as_of
    for _ in range(count):
        periods.append(period_ending(cadence, end))
        end = periods[-1].start - timedelta(days=1)
    return periods[::-1]


def history(store: Any, definition: Definition, as_of: date, periods: int = 12) -> list[HistoryPoint]:
    """Values and statuses of `definition` for the `periods` periods ending on `as_of`, oldest first;
    a group-by indicator has one point per group seen in each period, groups sorted. An individual-level
    indicator (one that needs review-board approval) has no history here: its published values are only
    those `evaluate` makes under the privacy guardrails."""
    ind = definition.indicator
    if needs_approval(ind):
        return []
    points = []
    for period in periods_back(ind.cadence, as_of, periods):
        values = period_values(store, ind.calculation, period)
        for group in sorted(values, key=lambda g: (g is not None, g or "")):
            value = values[group]
            status = rag_status(value.value, ind.thresholds) if ind.thresholds else None
            interval = (value.low, value.high, value.reliable) if value.estimated else (None, None, None)
            points.append(HistoryPoint(period.start, period.end, value.value, status, value.sample_size, group,
                                       *interval))
    return points
