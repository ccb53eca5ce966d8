"""The report model: what an executive report says, independent of how it is rendered.

Every renderer (HTML, Markdown, PDF) and `engmetrics report --json` read the same `Report`; field names
are stable. Dates are ISO strings in `to_dict()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from ..catalog.history import HistoryPoint
from ..catalog.model import Thresholds
from ..catalog.views import ScorecardGroup
from ..errors import Issue

__all__ = ["PERIODS", "Change", "IndicatorHistory", "IndicatorRisk", "QuarantineGroup", "Report", "ReportPeriod",
           "Risks"]

#: Report period name -> the catalog cadence whose trailing window it covers.
PERIODS = {"month": "monthly", "quarter": "quarterly"}


@dataclass(frozen=True)
class ReportPeriod:
    """The window the report covers, `start..end` inclusive (UTC days). `baseline` is the day before
    `start`: notable changes compare the scorecard as of `end` with the scorecard as of `baseline`."""

    kind: str  # "month" or "quarter"
    start: date
    end: date
    baseline: date


@dataclass(frozen=True)
class IndicatorHistory:
    """One indicator's recent periods (of its own cadence, oldest first) for the charts."""

    metric: str
    name: str
    unit: str
    direction: str
    cadence: str
    thresholds: Thresholds | None
    points: list[HistoryPoint]

    def values(self, group: str | None = None) -> list[float | None]:
        """The values of one group (None: the ungrouped series), oldest first."""
        return [p.value for p in self.points if p.group == group]


@dataclass(frozen=True)
class Change:
    """A notable change of one indicator (and group) between the baseline and the as-of date.

    `kind` is `status` (its RAG status changed) or `move` (one of the largest relative moves without a
    status change). `relative` is `(to - from) / |from|`, None when either value is missing or `from`
    is 0. `improving` judges the move by the indicator's direction (for a status change: by severity),
    None when it cannot be judged (no data on either side, or no move).
    """

    metric: str
    name: str
    group: str | None
    unit: str
    direction: str
    kind: str
    from_value: float | None
    to_value: float | None
    from_status: str
    to_status: str
    relative: float | None
    improving: bool | None
    from_sample_size: int
    to_sample_size: int


@dataclass(frozen=True)
class IndicatorRisk:
    """A red indicator, or one without enough data to have a status."""

    metric: str
    name: str
    group: str | None
    status: str
    value: float | None
    unit: str
    owner: str | None
    sample_size: int
    period_start: date
    period_end: date


@dataclass(frozen=True)
class QuarantineGroup:
    """Rows refused at ingest during the report period, counted per dataset and reason."""

    dataset: str
    reason: str
    rows: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Risks:
    """Open risks: red indicators, indicators without data, catalog lint findings (ERROR / WARNING),
    and rows quarantined since the period start."""

    red: list[IndicatorRisk] = field(default_factory=list)
    no_data: list[IndicatorRisk] = field(default_factory=list)
    lint: list[Issue] = field(default_factory=list)
    quarantine: list[QuarantineGroup] = field(default_factory=list)

    @property
    def quarantined_rows(self) -> int:
        return sum(q.rows for q in self.quarantine)

    @property
    def count(self) -> int:
        """Number of open risk items (a quarantine counts once per dataset and reason)."""
        return len(self.red) + len(self.no_data) + len(self.lint) + len(self.quarantine)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Thresholds):
        return value.model_dump(mode="json")
    return value


@dataclass(frozen=True)
class Report:
    """An executive report for the period ending on `as_of`."""

    title: str
    as_of: date
    period: ReportPeriod
    generated_at: datetime
    status_counts: dict[str, int]
    scorecard: list[ScorecardGroup]
    histories: list[IndicatorHistory]
    changes: list[Change]
    risks: Risks

    def history(self, metric: str) -> IndicatorHistory | None:
        """The history of `metric`, if the report has one."""
        return next((h for h in self.histories if h.metric == metric), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (dates as ISO strings, thresholds as their YAML shape)."""
        data = _jsonable(asdict(self))
        data["risks"]["quarantined_rows"] = self.risks.quarantined_rows
        return data
