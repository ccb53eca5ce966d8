"""Evaluate active indicators for the period ending on an as-of date and the period before it.

An individual-level indicator (one that needs review-board approval) is evaluated under the privacy
guardrails of `engmetrics.governance.privacy`: weekly or coarser only (`refused_grain`), only with an
approval in force (`not_approved`), on data older than `privacy.individual_delay_days` over complete
calendar periods (the as-of date is clamped, then moved back to the end of the last ISO week, month or
quarter), and published per team and for the organisation only, each cell about at least
`privacy.min_group_size` people (`suppressed` otherwise). `evaluate_own` is a person's own value, over the
same periods.

An indicator without thresholds (a proposed one evaluated by name) has status `no_thresholds` when it has
a value (`no_data` without one).

`evaluate_and_store` is what `engmetrics metrics evaluate` and each `engmetrics watch` cycle do: archive the
workspace's definitions, evaluate its catalog and save the results.

`save_results` replaces earlier rows of the same metric, group, as-of date and definition version, except
rows a legal hold in force covers (a metric hold on the metric, or a period hold overlapping the row's
period): those are kept, and the new row is stored beside them.

>>> from datetime import date
>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> evaluate(Store.open("duckdb://"), Catalog(), as_of=date(2026, 1, 31))
[]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..governance import privacy as guard
from ..governance.archive import record_definitions
from ..governance.board import ReviewBoard, approval_status, needs_approval
from ..governance.holds import Hold, active_holds
from ..settings import PrivacySettings
from ..workspace import git_commit as workspace_commit
from .calculators import CALCULATORS
from .compute import GroupValue, compute, empty_value
from .loader import Catalog, Definition, load_catalog
from .model import Calculation, CalculatorCall, Indicator
from .periods import Period, current_and_previous
from .rag import rag_status
from .version import definition_version

__all__ = ["ESTIMATE_NOTE", "NO_THRESHOLDS", "MetricResult", "evaluate", "evaluate_and_store", "evaluate_definition",
           "evaluate_own", "period_values", "save_results"]

NO_THRESHOLDS = "no_thresholds"
ESTIMATE_NOTE = "estimate from sampled data"


@dataclass(frozen=True)
class MetricResult:
    """One indicator (and group) for one period. `value` None means no data."""

    metric: str
    period_start: date
    period_end: date
    value: float | None
    previous: float | None
    status: str
    definition_version: str
    group: str | None = None
    sample_size: int = 0
    previous_sample_size: int = 0
    previous_status: str = "no_data"
    as_of: date | None = None
    git_commit: str | None = None
    people: int | None = None  # distinct people behind a published individual-level value (else None)
    # An estimate from sampled data (a count, sum or ratio over a dataset with a `weight` column): the value is a
    # Horvitz-Thompson estimate, low..high its 95 % interval (previous_low..previous_high the previous period's),
    # interval_reliable False when too few sampled rows carry the randomness to trust it; note says so in words.
    estimated: bool = False
    low: float | None = None
    high: float | None = None
    interval_reliable: bool | None = None
    previous_low: float | None = None
    previous_high: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (dates as ISO strings)."""
        data = asdict(self)
        for key in ("period_start", "period_end", "as_of"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def period_values(store: Any, calc: Calculation | CalculatorCall, period: Period) -> dict[str | None, GroupValue]:
    """A calculation's value per group for one period: a declarative one or a registered calculator."""
    if not isinstance(calc, CalculatorCall):
        return compute(store, calc, period)
    result = CALCULATORS[calc.calculator](store, period, **calc.params)
    if result.value is None or result.sample_size < calc.min_sample:
        return {None: GroupValue(None, result.sample_size)}
    return {None: GroupValue(float(result.value), result.sample_size)}


def evaluate_definition(store: Any, definition: Definition, as_of: date, git_commit: str | None = None, *,
                        review_board: ReviewBoard | None = None, privacy: PrivacySettings | None = None,
                        today: date | None = None, approvals_at: datetime | None = None) -> list[MetricResult]:
    """Results for one indicator: one item, or one per group (sorted) for a group-by calculation. An
    individual-level indicator follows the privacy guardrails (module doc): `review_board` is the board
    whose approvals count (only decisions made at or before `approvals_at`, when given), `privacy` the
    settings (default `PrivacySettings()`), `today` the day the delay counts back from (default today,
    UTC)."""
    ind = definition.indicator
    if not needs_approval(ind):
        return _plain(store, ind, as_of, as_of, git_commit)
    settings = privacy or PrivacySettings()
    refusal = _refusal(store, ind, review_board, approvals_at)
    if refusal:
        return [_refused(ind, as_of, refusal, git_commit)]
    day = guard.published_as_of(ind.cadence, as_of, today or datetime.now(UTC).date(), settings)
    calc = ind.calculation
    person = guard.person_column(calc) if isinstance(calc, Calculation) else None
    if person is None:  # no individuals in the data: computed as usual, on the delayed periods
        return _plain(store, ind, day, as_of, git_commit)
    assert isinstance(calc, Calculation)
    current, previous = current_and_previous(ind.cadence, day)
    now, before = ({c.group: c for c in guard.suppress(guard.team_cells(store, calc, p, person),
                                                         settings.min_group_size)} for p in (current, previous))
    version = definition_version(ind)
    groups = sorted(set(now) | set(before), key=lambda g: (g is not None, g or ""))
    return [MetricResult(
        metric=ind.id, period_start=current.start, period_end=current.end, value=_value(now.get(g)),
        previous=_value(before.get(g)), status=_cell_status(now.get(g), ind), definition_version=version,
        group=g, sample_size=_sample(now.get(g)), previous_sample_size=_sample(before.get(g)),
        previous_status=_cell_status(before.get(g), ind), as_of=as_of, git_commit=git_commit,
        people=_people(now.get(g))) for g in groups]


def _plain(store: Any, ind: Indicator, day: date, as_of: date, git_commit: str | None) -> list[MetricResult]:
    """The periods ending on `day`, computed without guardrails (results stamped with `as_of`)."""
    current, previous = current_and_previous(ind.cadence, day)
    calc = ind.calculation
    now, before = period_values(store, calc, current), period_values(store, calc, previous)
    version = definition_version(ind)
    groups = sorted(set(now) | set(before), key=lambda g: (g is not None, g or "")) or [None]
    if isinstance(calc, CalculatorCall) or set(now) == set(before):
        empty_now = empty_before = GroupValue(None, 0)
    else:  # a group absent from one period: 0 there when the data covers it
        empty_now, empty_before = empty_value(store, calc, current), empty_value(store, calc, previous)
    results = []
    for group in groups:
        cur, prev = now.get(group, empty_now), before.get(group, empty_before)
        results.append(MetricResult(
            metric=ind.id, period_start=current.start, period_end=current.end, value=cur.value,
            previous=prev.value, status=_status(cur.value, ind), definition_version=version,
            group=group, sample_size=cur.sample_size, previous_sample_size=prev.sample_size,
            previous_status=_status(prev.value, ind), as_of=as_of, git_commit=git_commit, **_interval(cur, prev)))
    return results


def _interval(cur: GroupValue, prev: GroupValue) -> dict[str, Any]:
    """The estimate fields of a result from sampled data (none for exact values)."""
    if not (cur.estimated or prev.estimated):
        return {}
    return {"estimated": True, "low": cur.low, "high": cur.high, "interval_reliable": cur.reliable,
            "previous_low": prev.low, "previous_high": prev.high, "note": ESTIMATE_NOTE}


def _status(value: float | None, ind: Indicator) -> str:
    """The value's RAG status; `no_thresholds` for a value of an indicator without thresholds."""
    if ind.thresholds is None:
        return "no_data" if value is None else NO_THRESHOLDS
    return rag_status(value, ind.thresholds)


def _refusal(store: Any, ind: Indicator, review_board: ReviewBoard | None,
             approvals_at: datetime | None = None) -> str | None:
    """Why an individual-level indicator may not compute at all: its grain, or no approval in force (with
    `approvals_at`: in force as the board's decisions stood then)."""
    if ind.cadence == "daily":
        return guard.REFUSED_GRAIN
    at = {"at": approvals_at} if approvals_at is not None else {}
    if not approval_status(store, review_board, ind, **at).in_force:
        return guard.NOT_APPROVED
    return None


def _refused(ind: Indicator, as_of: date, status: str, git_commit: str | None) -> MetricResult:
    current, _ = current_and_previous(ind.cadence, as_of)
    return MetricResult(metric=ind.id, period_start=current.start, period_end=current.end, value=None,
                        previous=None, status=status, definition_version=definition_version(ind),
                        previous_status=status, as_of=as_of, git_commit=git_commit)


def _value(cell: guard.Cell | None) -> float | None:
    return cell.value if cell else None


def _sample(cell: guard.Cell | None) -> int:
    return cell.sample_size if cell else 0


def _people(cell: guard.Cell | None) -> int | None:
    return cell.people if cell and not cell.suppressed else None


def _cell_status(cell: guard.Cell | None, ind: Indicator) -> str:
    if cell is not None and cell.suppressed:
        return guard.SUPPRESSED
    return _status(_value(cell), ind)


def evaluate(store: Any, catalog: Catalog, as_of: date, *, git_commit: str | None = None,
             metrics: list[str] | None = None, privacy: PrivacySettings | None = None,
             today: date | None = None, approvals_at: datetime | None = None) -> list[MetricResult]:
    """Evaluate every active indicator (or those named in `metrics`), in catalog order; individual-level
    ones under the privacy guardrails (`privacy`: default `PrivacySettings()`; `today`: default today, UTC)
    with the catalog's review board (counting only decisions made at or before `approvals_at`, if given)."""
    chosen = [catalog.get(m) for m in metrics] if metrics else catalog.active
    return [r for d in chosen for r in evaluate_definition(
        store, d, as_of, git_commit, review_board=catalog.review_board, privacy=privacy, today=today,
        approvals_at=approvals_at)]


def evaluate_own(store: Any, catalog: Catalog, metric: str, pseudonym: str, as_of: date, *,
                 privacy: PrivacySettings | None = None, today: date | None = None) -> MetricResult:
    """The person `pseudonym`'s own value of the individual-level indicator `metric`: the same grain,
    approval and delay rules and the same calendar periods as `evaluate`, computed over that person's rows
    only (never anyone else's; no group-size rule: it is their own number). Raises InputError for an
    indicator that is not individual-level or whose data has no person column."""
    ind = catalog.get(metric).indicator
    calc = ind.calculation
    person = guard.person_column(calc) if isinstance(calc, Calculation) else None
    if not needs_approval(ind) or person is None:
        raise InputError(f"{metric} is not an individual-level indicator over a person column: "
                         "there is no number of your own to show")
    refusal = _refusal(store, ind, catalog.review_board)
    if refusal:
        return _refused(ind, as_of, refusal, None)
    assert isinstance(calc, Calculation)
    day = guard.published_as_of(ind.cadence, as_of, today or datetime.now(UTC).date(), privacy or PrivacySettings())
    current, previous = current_and_previous(ind.cadence, day)
    cur, prev = (guard.own_value(store, calc, p, person, pseudonym) for p in (current, previous))
    return MetricResult(
        metric=ind.id, period_start=current.start, period_end=current.end, value=cur.value, previous=prev.value,
        status=_status(cur.value, ind), definition_version=definition_version(ind),
        sample_size=cur.sample_size, previous_sample_size=prev.sample_size,
        previous_status=_status(prev.value, ind), as_of=as_of)


_COLUMNS = ("metric", "period_start", "period_end", "value", "previous", "status", "definition_version",
            "git_commit", "as_of", "evaluated_at", "group", "sample_size", "previous_sample_size", "low", "high")


def _held(holds: list[Hold], metric: str, start: date, end: date) -> bool:
    """Whether one of `holds` covers a stored result of `metric` for the days `start..end`: a metric hold
    on `metric` or a period hold, overlapping those days."""
    return any(h.overlaps(start, end) and (h.scope == "period" or (h.scope == "metric" and h.target == metric))
               for h in holds)


def save_results(store: Any, results: list[MetricResult], *, evaluated_at: datetime | None = None) -> int:
    """Store results in `_metric_results`, replacing earlier rows for the same metric, group, as-of date
    and definition version, except rows a legal hold in force now covers (`_held`): those are kept, and the
    new row is stored beside them. Returns the number of rows written. (A write: DuckDB connection.)"""
    stamp = evaluated_at or datetime.now(UTC)
    rows = [(r.metric, r.period_start, r.period_end, r.value, r.previous, r.status, r.definition_version,
             r.git_commit, r.as_of, stamp, r.group, r.sample_size, r.previous_sample_size, r.low, r.high)
            for r in results]
    if not rows:
        return 0
    keys = {(r[0], r[8], r[6], r[10]) for r in rows}
    holds = active_holds(store)
    con = store.sql
    cols = ", ".join(f'"{c}"' for c in _COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        stored = con.execute(
            'SELECT rowid, metric, as_of, definition_version, "group", period_start, period_end FROM _metric_results '
            "WHERE list_contains(?, metric) AND list_contains(?, as_of)",
            [sorted({r[0] for r in rows}), sorted({r[8] for r in rows})]).fetchall()
        replaced = [s[0] for s in stored if tuple(s[1:5]) in keys and not _held(holds, s[1], s[5], s[6])]
        con.execute("DELETE FROM _metric_results WHERE list_contains(?, rowid)", [replaced])
        con.executemany(f"INSERT INTO _metric_results ({cols}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                        rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def evaluate_and_store(store: Any, root: Path, as_of: date, *, privacy: PrivacySettings | None = None,
                       at: datetime | None = None) -> list[MetricResult]:
    """Record the definitions of the workspace at `root` in the archive (`record_definitions` at `at`, default
    now), evaluate every active indicator of its catalog for the period ending on `as_of` (results stamped with
    the workspace's git commit; `privacy` as `evaluate`) and store them (`save_results`); returns the results.
    What `engmetrics metrics evaluate` and every `engmetrics watch` cycle do. (A write: DuckDB connection.)"""
    record_definitions(store, root, at=at)
    results = evaluate(store, load_catalog(root), as_of, git_commit=workspace_commit(root), privacy=privacy)
    save_results(store, results)
    return results
