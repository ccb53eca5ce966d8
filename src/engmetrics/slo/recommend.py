"""SLO target recommendation: propose targets for an indicator from the history it already has.

The input is an indicator source `(ts, good, total)` (see `engmetrics.slo.sources`), at any bucket width
of a day or finer. The engine aggregates (Ibis `truncate` + `group_by`: one query per ISO week, one per
UTC day); Python only finishes the arithmetic on those few rows. `good` is capped at `total` per row
(as `ratio_source` does), and NULL counts are 0.

**History window.** Events count when `start <= ts < end`. Without `start`, the history starts on the
Monday (00:00 UTC) of the week of the first event; without `end`, it ends on the Monday after the week of
the last event, so the history is whole ISO weeks (pass `end=now` to keep a running week partial). Every
ISO week (Monday 00:00 UTC to the next Monday) that overlaps the window is listed; a week wholly inside
the window is *full*.

**Per week.** good, total, achieved = good / total and its interval; a week without events has achieved,
low and high of None (never NaN).

**Interval.** The Wilson score interval at `confidence` (95 % by default), with z the two-sided normal
quantile (`statistics.NormalDist`; scipy is not a dependency) and n the event count:
`centre = (p + z²/2n) / (1 + z²/n)`, `half = z / (1 + z²/n) x sqrt(p(1 - p)/n + z²/4n²)`,
`[centre - half, centre + half]`. It stays inside [0, 1], contains p and, unlike the normal (Wald)
interval, does not collapse to a point at p = 1, which is where good services live. It treats events as
independent; real failures come in bursts, so it is optimistic, and the worst-period test below guards
against that.

**Candidates.** For each candidate target, with the budget definitions of `engmetrics.slo.budget`
(Occurrences: allowed = (1 - target) x total, consumed = bad events):

- `consumed`: the fraction of the budget the whole history would have consumed, bad / allowed;
- `worst_period_consumed`: the largest fraction consumed in any rolling window of `period_days`
  consecutive UTC days within the history (days without events count as empty), computed from daily sums;
  a history shorter than `period_days` is one window (and a warning says so);
- `weeks_breached`: weeks with events whose achieved level is below the target (a week exactly at the
  target meets it);
- `resolvable`: the history holds enough events to tell the target apart, i.e. its whole-history budget
  allows at least `min_budget_events` bad events (total >= min_budget_events / (1 - target));
- `supported`: the target passes the rule below; `recommended` marks the one recommended candidate.

**Rule.** The recommended target is the highest candidate that is

1. *demonstrated*: target <= the lower bound of the overall achieved level's interval, so the history
   shows with `confidence` that the service meets it;
2. *survivable*: `worst_period_consumed < 1`, so no `period_days` window of the history would have
   exhausted its budget (bursts that the overall level averages away count here);
3. *resolvable*: as above; a target whose budget is a handful of events is decided by noise.

Each condition holds for every lower target once it holds for one, so the supported candidates are the
lowest few and the recommendation is the highest of them. The *aspirational* target is the next candidate
above the recommended one (the lowest candidate when none is supported; None when the highest candidate is
recommended). With no data, nothing is recommended, every candidate has None metrics and a warning says
why; no exception is raised.

**Warnings.** No data; fewer than `min_weeks` full weeks with events ("baseline too short to trust"); weeks
without events (gaps); a history shorter than `period_days`; candidates too fine for the event count; no
supported candidate.

>>> from datetime import datetime, timedelta
>>> import ibis
>>> days = [datetime(2026, 1, 5) + timedelta(days=d) for d in range(28)]  # four ISO weeks from Monday
>>> events = ibis.memtable({"ts": days, "good": [14_268.0] * 28, "total": [14_275.0] * 28})
>>> r = recommend(events, candidates=(0.99, 0.999, 0.9995))
>>> [(w.week.isoformat(), w.good, w.total) for w in r.weeks[:1]], len(r.weeks), r.warnings
([('2026-01-05', 99876.0, 99925.0)], 4, ())
>>> round(r.overall.achieved, 6), round(r.overall.low, 6)
(0.99951, 0.999436)
>>> r.recommended_target, r.aspirational_target
(0.999, 0.9995)
>>> [(c.target, round(c.consumed, 3), c.weeks_breached, c.recommended) for c in r.candidates]
[(0.99, 0.049, 0, False), (0.999, 0.49, 0, True), (0.9995, 0.981, 0, False)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from ..timeutil import UTC_TIMESTAMP, as_utc

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = [
    "DEFAULT_CANDIDATES",
    "CandidateAssessment",
    "OverallLevel",
    "Recommendation",
    "WeekLevel",
    "recommend",
    "recommend_sli_events",
    "wilson_interval",
]

DEFAULT_CANDIDATES: tuple[float, ...] = (0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999)
_WEEK = timedelta(days=7)
_DAY = timedelta(days=1)
_RELATIVE = 1e-9  # relative tolerance for the event-count threshold (binary rounding of 1 - target)


def wilson_interval(good: float, total: float, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion good / total at `confidence` (two-sided).

    None when `total <= 0`. Counts need not be integers (counter increases); good is capped to [0, total].

    >>> low, high = wilson_interval(990, 1000)
    >>> round(low, 6), round(high, 6)
    (0.981691, 0.994559)
    >>> wilson_interval(0, 0) is None
    True
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    if not total > 0 or math.isnan(good):  # also refuses a NaN total
        return None
    p = min(max(good / total, 0.0), 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    z2n = z * z / total
    denominator = 1 + z2n
    centre = (p + z2n / 2) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z2n / (4 * total))
    # keep the bounds in [0, 1] and around p despite rounding (they are exact at p = 0 and p = 1)
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


@dataclass(frozen=True)
class WeekLevel:
    """The achieved level of one ISO week (`week` is its Monday, UTC); achieved/low/high None without events.

    `full` is False for a week only partly inside the history window.
    """

    week: date
    good: float
    total: float
    achieved: float | None
    low: float | None
    high: float | None
    full: bool

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week.isoformat(), "good": self.good, "total": self.total, "achieved": self.achieved,
                "low": self.low, "high": self.high, "full": self.full}


@dataclass(frozen=True)
class OverallLevel:
    """The whole history: window, counts, achieved level with its interval and the worst rolling period.

    `worst_period_start`/`worst_period_end` bound the rolling window of `period_days` days (or the whole
    history when it is shorter) with the lowest achieved level, `worst_period_achieved`; None without data.
    """

    start: datetime | None
    end: datetime | None
    good: float
    total: float
    achieved: float | None
    low: float | None
    high: float | None
    weeks: int
    full_weeks: int
    weeks_with_events: int
    full_weeks_with_events: int
    days: int
    worst_period_start: date | None
    worst_period_end: date | None
    worst_period_achieved: float | None

    @property
    def bad(self) -> float:
        return self.total - self.good

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "good": self.good, "total": self.total, "bad": self.bad,
            "achieved": self.achieved, "low": self.low, "high": self.high,
            "weeks": self.weeks, "full_weeks": self.full_weeks, "weeks_with_events": self.weeks_with_events,
            "full_weeks_with_events": self.full_weeks_with_events, "days": self.days,
            "worst_period": {
                "start": self.worst_period_start.isoformat() if self.worst_period_start else None,
                "end": self.worst_period_end.isoformat() if self.worst_period_end else None,
                "achieved": self.worst_period_achieved,
            },
        }


@dataclass(frozen=True)
class CandidateAssessment:
    """How one candidate target would have fared over the history (metrics None without data).

    `allowed` is the whole-history budget in bad events, `consumed` the fraction of it the bad events use,
    `worst_period_consumed` the largest fraction used in a rolling period. `meets_lower_bound`,
    `survives_worst_period` and `resolvable` are the three conditions of the rule; `supported` is all three.
    """

    target: float
    allowed: float | None
    consumed: float | None
    worst_period_consumed: float | None
    weeks_breached: int
    meets_lower_bound: bool
    survives_worst_period: bool
    resolvable: bool
    supported: bool
    recommended: bool
    aspirational: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "allowed": self.allowed, "consumed": self.consumed,
            "worst_period_consumed": self.worst_period_consumed, "weeks_breached": self.weeks_breached,
            "meets_lower_bound": self.meets_lower_bound, "survives_worst_period": self.survives_worst_period,
            "resolvable": self.resolvable, "supported": self.supported, "recommended": self.recommended,
            "aspirational": self.aspirational,
        }


@dataclass(frozen=True)
class Recommendation:
    """The weekly levels, the overall level, every candidate's assessment and the recommended target."""

    weeks: tuple[WeekLevel, ...]
    overall: OverallLevel
    candidates: tuple[CandidateAssessment, ...]
    recommended_target: float | None
    aspirational_target: float | None
    warnings: tuple[str, ...]
    confidence: float
    period_days: int
    service: str | None = None
    indicator: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: only str, int, float (never NaN), bool, None, lists and dicts."""
        out: dict[str, Any] = {}
        if self.service is not None:
            out["service"] = self.service
        if self.indicator is not None:
            out["indicator"] = self.indicator
        out.update({
            "confidence": self.confidence,
            "period_days": self.period_days,
            "weeks": [w.to_dict() for w in self.weeks],
            "overall": self.overall.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "recommended_target": self.recommended_target,
            "aspirational_target": self.aspirational_target,
            "warnings": list(self.warnings),
        })
        return out


def _number(value: Any) -> float:
    """A float from an aggregated value; NULL and NaN are 0."""
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if math.isnan(number) else number


def _day(value: Any) -> date:
    """The UTC date of a timestamp value returned by the engine (pandas or datetime, naive meaning UTC)."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return as_utc(value).date()
    return value  # already a date


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _sums(t: ir.Table, unit: str) -> dict[date, tuple[float, float]]:
    """`{bucket start date: (good, total)}` per `unit` ("W": ISO week, "D": day), aggregated in the engine."""
    keyed = t.mutate(_bucket=t.ts.truncate(unit).cast(UTC_TIMESTAMP))
    agg = keyed.group_by("_bucket").aggregate(good=keyed.good.sum(), total=keyed.total.sum()).order_by("_bucket")
    frame = agg.execute()
    out: dict[date, tuple[float, float]] = {}
    for bucket, good, total in zip(frame["_bucket"], frame["good"], frame["total"], strict=True):
        out[_day(bucket)] = (_number(good), _number(total))
    return out


def _check(candidates: Iterable[float], confidence: float, period_days: int, min_weeks: int,
           min_budget_events: float) -> tuple[float, ...]:
    targets = tuple(sorted({float(c) for c in candidates}))
    if not targets:
        raise ValueError("at least one candidate target is needed")
    for target in targets:
        if not 0 < target < 1:
            raise ValueError(f"candidate targets must be between 0 and 1 (exclusive), got {target!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    if period_days < 1:
        raise ValueError(f"period_days must be at least 1, got {period_days!r}")
    if min_weeks < 0 or not min_budget_events >= 0:
        raise ValueError("min_weeks and min_budget_events must not be negative")
    return targets


def _worst_period(daily: dict[date, tuple[float, float]], first: date, days: int,
                  period_days: int) -> tuple[date, date, float] | None:
    """The rolling window of `period_days` days (the whole history when shorter) with the highest error rate:
    `(first day, day after the last, achieved)`; None when no window has events."""
    length = min(period_days, days)
    good = [0.0] * (days + 1)
    total = [0.0] * (days + 1)
    for i in range(days):  # prefix sums over the calendar, empty days count as 0
        g, n = daily.get(first + timedelta(days=i), (0.0, 0.0))
        good[i + 1], total[i + 1] = good[i] + g, total[i] + n
    worst: tuple[date, date, float] | None = None
    for i in range(days - length + 1):
        n = total[i + length] - total[i]
        if n <= 0:
            continue
        achieved = (good[i + length] - good[i]) / n
        if worst is None or achieved < worst[2]:
            worst = (first + timedelta(days=i), first + timedelta(days=i + length), achieved)
    return worst


def _fmt(target: float) -> str:
    return f"{target:g}"


def _history(events: ir.Table, start: datetime | None, end: datetime | None) -> ir.Table:
    """`(ts, good, total)` of `events` in [start, end): NULL counts 0, good capped at total."""
    t = events
    if start is not None:
        t = t.filter(t.ts >= ibis.timestamp(start))
    if end is not None:
        t = t.filter(t.ts < ibis.timestamp(end))
    good, total = t.good.cast("float64").fill_null(0.0), t.total.cast("float64").fill_null(0.0)
    return t.select("ts", good=ibis.least(good, total), total=total)


def _week_levels(weekly: dict[date, tuple[float, float]], start: datetime, end: datetime,
                 confidence: float) -> list[WeekLevel]:
    """Every ISO week overlapping [start, end), with its achieved level and interval."""
    levels: list[WeekLevel] = []
    monday = _monday(start.date())
    while _midnight(monday) < end:
        good, total = weekly.get(monday, (0.0, 0.0))
        interval = wilson_interval(good, total, confidence)
        full = _midnight(monday) >= start and _midnight(monday) + _WEEK <= end
        levels.append(WeekLevel(
            monday, good, total, good / total if interval else None,
            interval[0] if interval else None, interval[1] if interval else None, full,
        ))
        monday += _WEEK
    return levels


def _overall(weekly: dict[date, tuple[float, float]], daily: dict[date, tuple[float, float]],
             weeks: list[WeekLevel], start: datetime | None, end: datetime | None, confidence: float,
             period_days: int) -> OverallLevel:
    """The whole history's counts, level and interval, and its worst rolling period."""
    good = sum(g for g, _ in weekly.values())
    total = sum(n for _, n in weekly.values())
    interval = wilson_interval(good, total, confidence)
    with_events = [w for w in weeks if w.achieved is not None]
    worst: tuple[date, date, float] | None = None
    days = 0
    if start is not None and end is not None:
        days = ((end - timedelta(microseconds=1)).date() - start.date()).days + 1  # days touched by [start, end)
        if daily:
            worst = _worst_period(daily, start.date(), days, period_days)
    return OverallLevel(
        start=start, end=end, good=good, total=total, achieved=good / total if interval else None,
        low=interval[0] if interval else None, high=interval[1] if interval else None,
        weeks=len(weeks), full_weeks=sum(1 for w in weeks if w.full), weeks_with_events=len(with_events),
        full_weeks_with_events=sum(1 for w in with_events if w.full), days=days,
        worst_period_start=worst[0] if worst else None, worst_period_end=worst[1] if worst else None,
        worst_period_achieved=worst[2] if worst else None,
    )


def _history_warnings(overall: OverallLevel, weeks: list[WeekLevel], min_weeks: int, period_days: int) -> list[str]:
    """Why the history may not be trusted: too few full weeks, gaps, shorter than the period."""
    warnings = []
    if overall.full_weeks_with_events < min_weeks:
        warnings.append(f"baseline too short to trust: {overall.full_weeks_with_events} full week(s) with events, "
                        f"fewer than {min_weeks}")
    gaps = [w.week.isoformat() for w in weeks if w.achieved is None]
    if gaps:
        warnings.append(f"gap: {len(gaps)} week(s) without events: {', '.join(gaps)}")
    if overall.days < period_days:
        warnings.append(f"history of {overall.days} day(s) is shorter than the {period_days}-day period: "
                        "the worst period is the whole history")
    return warnings


_Row = tuple[float, float, float, float | None, int, bool, bool, bool]


def _assess(targets: tuple[float, ...], overall: OverallLevel, weeks: list[WeekLevel],
            min_budget_events: float) -> tuple[list[_Row], list[str]]:
    """Per target: (target, allowed, consumed, worst period consumed, weeks breached, meets the lower bound,
    survives the worst period, resolvable); and the targets too fine for the event count."""
    low = overall.low
    assert low is not None
    rows: list[_Row] = []
    unresolved: list[str] = []
    for target in targets:
        allowed = (1 - target) * overall.total
        consumed = overall.bad / allowed
        worst_consumed = ((1 - overall.worst_period_achieved) / (1 - target)
                          if overall.worst_period_achieved is not None else None)
        breached = sum(1 for w in weeks if w.achieved is not None and w.achieved < target)
        meets = target <= low
        survives = worst_consumed is not None and worst_consumed < 1
        resolvable = allowed >= min_budget_events * (1 - _RELATIVE)  # (1 - 0.9995) x 20000 is 9.99999...
        if not resolvable:
            needed = math.ceil(min_budget_events / (1 - target) * (1 - _RELATIVE))
            unresolved.append(f"{_fmt(target)} (needs {needed:,})")
        rows.append((target, allowed, consumed, worst_consumed, breached, meets, survives, resolvable))
    return rows, unresolved


def _choose(targets: tuple[float, ...], rows: list[_Row]) -> tuple[float | None, float | None]:
    """(recommended, aspirational): the highest supported target and the next candidate above it."""
    supported = [row[0] for row in rows if row[5] and row[6] and row[7]]
    recommended = max(supported) if supported else None
    above = [target for target in targets if recommended is None or target > recommended]
    return recommended, above[0] if above else None


def recommend(
    events: ir.Table, *, start: datetime | None = None, end: datetime | None = None,
    candidates: Sequence[float] = DEFAULT_CANDIDATES, period_days: int = 28, confidence: float = 0.95,
    min_weeks: int = 4, min_budget_events: float = 10.0, service: str | None = None, indicator: str | None = None,
) -> Recommendation:
    """Recommend an SLO target for the indicator source `events` (`ts, good, total`); see the module doc.

    `start`/`end` bound the history (naive datetimes are UTC; None: whole ISO weeks around the data).
    `candidates` are the targets to assess (sorted, duplicates dropped). `period_days` is the SLO window
    of the rolling-period test, `confidence` the level of the Wilson intervals, `min_weeks` the full weeks
    with events below which the baseline is too short to trust, and `min_budget_events` the bad events a
    target's whole-history budget must allow for the history to resolve it. `service` and `indicator` only
    label the result. Raises ValueError on invalid arguments, never on missing data.
    """
    targets = _check(candidates, confidence, period_days, min_weeks, min_budget_events)
    start_utc = as_utc(start) if start is not None else None
    end_utc = as_utc(end) if end is not None else None
    if start_utc is not None and end_utc is not None and end_utc <= start_utc:
        raise ValueError(f"the history is empty: end {end_utc.isoformat()} is not after start {start_utc.isoformat()}")

    t = _history(events, start_utc, end_utc)
    weekly = {k: v for k, v in _sums(t, "W").items() if v[1] > 0}
    daily = {k: v for k, v in _sums(t, "D").items() if v[1] > 0}
    if daily:  # whole ISO weeks around the data unless given
        start_utc = start_utc or _midnight(_monday(min(daily)))
        end_utc = end_utc or _midnight(_monday(max(daily)) + _WEEK)
    weeks = _week_levels(weekly, start_utc, end_utc, confidence) if start_utc and end_utc else []
    overall = _overall(weekly, daily, weeks, start_utc, end_utc, confidence, period_days)

    def result(assessments: tuple[CandidateAssessment, ...], recommended: float | None,
               aspirational: float | None, warnings: list[str]) -> Recommendation:
        return Recommendation(tuple(weeks), overall, assessments, recommended, aspirational, tuple(warnings),
                              confidence, period_days, service, indicator)

    if overall.achieved is None:
        return result(tuple(CandidateAssessment(target, None, None, None, 0, False, False, False, False, False,
                                                False) for target in targets),
                      None, None, ["no events in the history: nothing to recommend"])

    warnings = _history_warnings(overall, weeks, min_weeks, period_days)
    rows, unresolved = _assess(targets, overall, weeks, min_budget_events)
    if unresolved:
        warnings.append(f"too few events to resolve some targets: {overall.total:,.0f} events allow fewer than "
                        f"{min_budget_events:g} bad events for {', '.join(unresolved)}")
    recommended, aspirational = _choose(targets, rows)
    if recommended is None:
        worst_text = f"{overall.worst_period_achieved:.6g}" if overall.worst_period_achieved is not None else "nothing"
        warnings.append(f"no candidate target is supported: the achieved level's lower bound is {overall.low:.6g} "
                        f"and the worst {min(period_days, overall.days)}-day period achieved {worst_text}")
    assessments = tuple(
        CandidateAssessment(target, allowed, consumed, worst_consumed, breached, meets, survives, resolvable,
                            meets and survives and resolvable, target == recommended, target == aspirational)
        for target, allowed, consumed, worst_consumed, breached, meets, survives, resolvable in rows
    )
    return result(assessments, recommended, aspirational, warnings)


def recommend_sli_events(
    store: Store, service: str, indicator: str, *, start: datetime | None = None, end: datetime | None = None,
    **options: Any,
) -> Recommendation:
    """`recommend` on the `sli_events` rows of one service's indicator; `options` as for `recommend`.

    >>> from engmetrics.store import Store
    >>> store = Store.open("duckdb://")
    >>> recommend_sli_events(store, "checkout", "availability").warnings
    ('no events in the history: nothing to recommend',)
    """
    t = store.table("sli_events")
    t = t.filter(t.service == service, t.indicator == indicator).select("ts", "good", "total")
    return recommend(t, start=start, end=end, service=service, indicator=indicator, **options)
