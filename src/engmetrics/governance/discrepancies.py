"""Discrepancies between what an indicator says and how the team sees it (the `perception` survey).

An active indicator naming a survey dimension (`perception: DIMENSION`) is compared, per team and survey
period of that dimension, with the team's perception score:

- **team**: an indicator grouped by `team` (or `owner_team`) is read per team; an ungrouped one (or a
  calculator) belongs to its owner team only. Others are skipped with the reason, as is every indicator
  that needs a review-board approval (`engmetrics.governance.board.needs_approval`), approved or not: its
  values may be published only through the privacy guardrails (group size, complementary suppression,
  delay), which this comparison does not apply, so it would reveal suppressed team cells.
- **indicator health**: a survey period label is `2026-Q3`, `2026-07`, `2026-H2` or `2026`. The indicator is
  evaluated at its own cadence (its thresholds are for that cadence: a quarter's count against weekly bands
  would mislead) over the trailing windows that fit in the period, counted back from its last day (or from
  `as_of` when earlier): a quarter is 3 monthly, 13 weekly (its first day or two left out) or ~91 daily
  windows, or 1 quarterly one; a coarser cadence gets its one window ending on the period's last day.
  health = (green + 0.5 amber) / (green + amber + red) over the windows with data; `status` is the windows'
  one status, else `mixed`. With data in fewer than `governance.discrepancy_min_coverage` (0.5) of the
  windows the pair is not compared (`insufficient_data`).
- **perception**: (score - low) / (high - low) with `governance.perception_scale` (default 1-5); scores
  outside the scale are skipped.
- **discrepancy**: |health - perception| >= `governance.discrepancy_threshold` (default 0.5); `gap` is that
  absolute difference (6 decimals), `direction` is `teams_feel_worse` when health is the higher.

Reviews (`record_review`) keep a note and optionally a resolution per metric, team and survey period; each
listed discrepancy carries its latest review, and a resolved one stays listed (`open_only` hides it).

>>> survey_period("2026-Q3")
Period(start=datetime.date(2026, 7, 1), end=datetime.date(2026, 9, 30))
>>> health(["green", "green", "amber", "no_data"])
('mixed', 0.8333333333333334)
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..catalog.compute import GroupValue, empty_value
from ..catalog.evaluate import period_values
from ..catalog.loader import Catalog
from ..catalog.model import Calculation, Indicator
from ..catalog.periods import Period, default_as_of, period_ending
from ..catalog.rag import rag_status
from ..errors import InputError
from ..settings import GovernanceSettings
from . import audit
from .board import approval_reasons

__all__ = ["RESOLUTIONS", "TEAM_COLUMNS", "Discrepancy", "DiscrepancyReport", "Review", "find_discrepancies",
           "health", "latest_reviews", "record_review", "survey_period", "windows_in"]

RESOLUTIONS = ("explained", "metric_changed", "action_taken", "wont_fix")
TEAM_COLUMNS = ("team", "owner_team")
_HEALTH = {"green": 1.0, "amber": 0.5, "red": 0.0}
_LABEL = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]|\d{2}))?$")


def survey_period(label: str) -> Period:
    """The dates of a survey period label: `YYYY-Qn`, `YYYY-MM`, `YYYY-Hn` or `YYYY`; InputError otherwise."""
    match = _LABEL.match(label.strip().upper())
    if not match or (match[2] and match[2].isdigit() and not 1 <= int(match[2]) <= 12):
        raise InputError(f"survey period {label!r}: expected YYYY-Qn (2026-Q3), YYYY-MM, YYYY-Hn or YYYY")
    year, part = int(match[1]), match[2] or ""
    kind, n = (part[:1], int(part[1:])) if part[:1] in ("Q", "H") else ("M" if part else "Y", int(part or 1))
    first, months = {"Q": (3 * n - 2, 3), "H": (6 * n - 5, 6), "M": (n, 1), "Y": (1, 12)}[kind]
    last = first + months - 1
    return Period(date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1]))


def windows_in(cadence: str, period: Period, as_of: date) -> list[Period]:
    """The indicator's windows inside `period` (oldest first), ending on its last day or `as_of` if earlier."""
    found, end = [], min(period.end, as_of)
    while (window := period_ending(cadence, end)).start >= period.start:
        found.append(window)
        end = window.start - timedelta(days=1)
    if not found and period.end <= as_of:  # a cadence coarser than the survey period
        found = [period_ending(cadence, period.end)]
    return found[::-1]


def health(statuses: list[str]) -> tuple[str, float | None]:
    """(status, health) of window statuses: health averages green 1, amber 0.5, red 0 over windows with data."""
    judged = [s for s in statuses if s in _HEALTH]
    if not judged:
        return "no_data", None
    kinds = set(judged)
    return (kinds.pop() if len(kinds) == 1 else "mixed"), sum(_HEALTH[s] for s in judged) / len(judged)


@dataclass(frozen=True)
class Review:
    """The latest review of one discrepancy; `resolution` None means still open."""

    note: str | None
    resolution: str | None
    reviewer: str
    reviewed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reviewed_at": self.reviewed_at.isoformat()}


@dataclass(frozen=True)
class Discrepancy:
    """An indicator and a team's perception that disagree over one survey period."""

    metric: str
    team: str
    period: str
    dimension: str
    status: str
    health: float
    score: float
    perception: float
    gap: float
    direction: str
    windows: dict[str, int]
    review: Review | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"review": self.review.to_dict() if self.review else None}


@dataclass
class DiscrepancyReport:
    """Discrepancies (largest gap first), how many pairs were compared or lacked data, and what was skipped."""

    threshold: float
    scale: tuple[float, float]
    items: list[Discrepancy] = field(default_factory=list)
    compared: int = 0
    insufficient_data: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"scale": list(self.scale), "items": [i.to_dict() for i in self.items]}


def _not_comparable(ind: Indicator) -> str | None:
    """Why an indicator with a perception dimension is not compared, else None."""
    if ind.audience == "individual":
        return "audience individual: perception is team-level, individuals are never compared"
    if reasons := approval_reasons(ind):
        return (f"needs review-board approval ({', '.join(reasons)}): its values are published only through "
                "the privacy guardrails, never compared here")
    calc = ind.calculation
    if isinstance(calc, Calculation) and calc.group_by:
        return None if calc.group_by in TEAM_COLUMNS else f"grouped by {calc.group_by}, not by team"
    owner = ind.owner.team if ind.owner else None
    return None if isinstance(owner, str) else "no team: not grouped by team and no single owner team"


def _perception(store: Any, dimensions: list[str], period: str | None, teams: Collection[str] | None,
                scale: tuple[float, float]) -> list[dict[str, Any]]:
    """Perception rows of `dimensions` with `perception` rescaled to 0-1 and `in_scale` (an Ibis query)."""
    t = store.table("perception")
    t = t.filter(t.dimension.isin(dimensions))
    if period is not None:
        t = t.filter(t.period == period)
    if teams is not None:
        t = t.filter(t.team.isin(list(teams) or [""]))
    low, high = scale
    t = t.mutate(perception=(t.score.cast("float64") - low) / (high - low), in_scale=t.score.between(low, high))
    frame = t.select("team", "period", "dimension", "score", "perception", "in_scale").execute()
    return frame.sort_values(["period", "team", "dimension"]).to_dict("records")


def _usable(rows: list[dict[str, Any]], report: DiscrepancyReport) -> list[dict[str, Any]]:
    """Rows with a readable period label and a score on the scale; the others go to `report.skipped`."""
    usable = []
    for r in rows:  # a small result: teams x survey periods x dimensions
        try:
            survey_period(r["period"])
            reason = None if r["in_scale"] else f"score {r['score']:g} outside the perception scale"
        except InputError as exc:
            reason = exc.message
        if reason:
            report.skipped.append({k: r[k] for k in ("team", "period", "dimension")} | {"reason": reason})
        else:
            usable.append(r)
    return usable


def _window_statuses(store: Any, ind: Indicator, windows: list[Period], team: str | None,
                     values: dict[Period, dict[str | None, GroupValue]], absent: dict[Period, GroupValue]) -> list[str]:
    """The RAG status of `team`'s value (the whole value when None) in each window; a team absent from a
    grouped window's groups gets the empty value (0 for a count or sum over covered data, as evaluate does)."""
    statuses = []
    for window in windows:
        if window not in values:
            values[window] = period_values(store, ind.calculation, window)
        value = values[window].get(team)
        if value is None:  # computed once per window, and only when a team is missing
            if window not in absent:
                absent[window] = empty_value(store, ind.calculation, window)  # type: ignore[arg-type]
            value = absent[window]
        statuses.append(rag_status(value.value, ind.thresholds))  # type: ignore[arg-type]
    return statuses


def _compare(store: Any, ind: Indicator, rows: list[dict[str, Any]], as_of: date, settings: GovernanceSettings,
             report: DiscrepancyReport) -> list[Discrepancy]:
    grouped = isinstance(ind.calculation, Calculation) and ind.calculation.group_by is not None
    owner = None if grouped else ind.owner.team  # type: ignore[union-attr]
    found: list[Discrepancy] = []
    values: dict[Period, dict[str | None, GroupValue]] = {}
    absent: dict[Period, GroupValue] = {}
    for row in rows:
        if owner is not None and row["team"] != owner:
            continue
        windows = windows_in(ind.cadence, survey_period(row["period"]), as_of)
        statuses = _window_statuses(store, ind, windows, row["team"] if grouped else None, values, absent)
        status, score = health(statuses)
        if score is None or sum(s in _HEALTH for s in statuses) < settings.discrepancy_min_coverage * len(windows):
            report.insufficient_data += 1
            continue
        report.compared += 1
        gap = round(abs(score - row["perception"]), 6)
        if gap >= settings.discrepancy_threshold:
            found.append(Discrepancy(
                ind.id, row["team"], row["period"], row["dimension"], status, round(score, 6), float(row["score"]),
                round(row["perception"], 6), gap,
                "teams_feel_worse" if score > row["perception"] else "teams_feel_better",
                dict(sorted(Counter(statuses).items()))))
    return found


def find_discrepancies(store: Any, catalog: Catalog, *, settings: GovernanceSettings | None = None,
                       period: str | None = None, teams: Collection[str] | None = None, open_only: bool = False,
                       as_of: date | None = None) -> DiscrepancyReport:
    """Every discrepancy of the active indicators with a perception dimension (see the module docstring),
    for one survey `period` label or all, for the given `teams` or all; `as_of` (default yesterday) is the
    last day evaluated; `open_only` leaves out those whose latest review has a resolution."""
    settings = settings or GovernanceSettings()
    if period is not None:
        survey_period(period)
    report = DiscrepancyReport(settings.discrepancy_threshold, settings.perception_scale)
    chosen = []
    for d in catalog.active:
        if d.indicator.perception:
            reason = _not_comparable(d.indicator)
            if reason:
                report.skipped.append({"metric": d.id, "reason": reason})
            else:
                chosen.append(d)
    dimensions = sorted({d.indicator.perception for d in chosen})  # type: ignore[misc]
    rows = _perception(store, dimensions, period, teams, settings.perception_scale) if dimensions else []
    usable = _usable(rows, report)
    found = [x for d in chosen
             for x in _compare(store, d.indicator, [r for r in usable if r["dimension"] == d.indicator.perception],
                               as_of or default_as_of(), settings, report)]
    reviews = latest_reviews(store)
    found = [replace(x, review=reviews.get((x.metric, x.team, x.period))) for x in found]
    if open_only:
        found = [x for x in found if x.review is None or x.review.resolution is None]
    report.items = sorted(found, key=lambda x: (-x.gap, x.metric, x.team, x.period))
    return report


def latest_reviews(store: Any) -> dict[tuple[str, str, str], Review]:
    """The newest review of each (metric, team, period) (a small internal table: DuckDB)."""
    rows = store.sql.execute("""
        SELECT metric, team, period, note, resolution, reviewer, reviewed_at FROM _discrepancy_reviews
        QUALIFY row_number() OVER (PARTITION BY metric, team, period ORDER BY reviewed_at DESC, rowid DESC) = 1
        """).fetchall()
    return {(m, t, p): Review(note, res, who, at.astimezone(UTC)) for m, t, p, note, res, who, at in rows}


def record_review(store: Any, catalog: Catalog, metric: str, team: str, period: str, note: str, *,
                  reviewer: str, resolution: str | None = None, at: datetime | None = None) -> Review:
    """Record a review of the discrepancy of `metric` for `team` in survey `period`, with an audit entry
    (`discrepancy.review`) in the same transaction. InputError for an unknown metric, team or period, an
    empty note or a resolution not in RESOLUTIONS."""
    dimension = catalog.get(metric).indicator.perception
    if not dimension:
        raise InputError(f"indicator {metric!r} names no perception dimension: it has no discrepancies")
    if resolution is not None and resolution not in RESOLUTIONS:
        raise InputError(f"resolution {resolution!r}: expected one of {', '.join(RESOLUTIONS)}")
    if not note.strip():
        raise InputError("a review needs a note: what was found")
    survey_period(period)
    t = store.table("perception")
    if t.filter((t.team == team) & (t.period == period) & (t.dimension == dimension)).count().execute() == 0:
        raise InputError(f"no perception score of team {team!r} for {period} ({dimension}): nothing to review")
    review = Review(note.strip(), resolution, reviewer, (at or datetime.now(UTC)).astimezone(UTC))
    con = store.sql
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("INSERT INTO _discrepancy_reviews VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [metric, team, period, review.note, resolution, reviewer, review.reviewed_at])
        audit.append(store, reviewer, "discrepancy.review", metric, reason=review.note,
                     details={"team": team, "period": period, "dimension": dimension, "resolution": resolution},
                     at=review.reviewed_at)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return review
