"""Evaluate active indicators for the period ending on an as-of date and the period before it.

>>> from datetime import date
>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> evaluate(Store.open("duckdb://"), Catalog(), as_of=date(2026, 1, 31))
[]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from .calculators import CALCULATORS
from .compute import GroupValue, compute, empty_value
from .loader import Catalog, Definition
from .model import Calculation, CalculatorCall
from .periods import Period, current_and_previous
from .rag import rag_status
from .version import definition_version

__all__ = ["MetricResult", "evaluate", "evaluate_definition", "period_values", "save_results"]


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


def evaluate_definition(store: Any, definition: Definition, as_of: date,
                        git_commit: str | None = None) -> list[MetricResult]:
    """Results for one indicator: one item, or one per group (sorted) for a group-by calculation."""
    ind = definition.indicator
    current, previous = current_and_previous(ind.cadence, as_of)
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
            previous=prev.value, status=rag_status(cur.value, ind.thresholds), definition_version=version,
            group=group, sample_size=cur.sample_size, previous_sample_size=prev.sample_size,
            previous_status=rag_status(prev.value, ind.thresholds), as_of=as_of, git_commit=git_commit))
    return results


def evaluate(store: Any, catalog: Catalog, as_of: date, *, git_commit: str | None = None,
             metrics: list[str] | None = None) -> list[MetricResult]:
    """Evaluate every active indicator (or those named in `metrics`), in catalog order."""
    chosen = [catalog.get(m) for m in metrics] if metrics else catalog.active
    return [r for d in chosen for r in evaluate_definition(store, d, as_of, git_commit)]


_COLUMNS = ("metric", "period_start", "period_end", "value", "previous", "status", "definition_version",
            "git_commit", "as_of", "evaluated_at", "group", "sample_size", "previous_sample_size")


def save_results(store: Any, results: list[MetricResult], *, evaluated_at: datetime | None = None) -> int:
    """Store results in `_metric_results`, replacing earlier rows for the same metric, group, as-of date
    and definition version. Returns the number of rows written. (A write: DuckDB connection.)"""
    stamp = evaluated_at or datetime.now(UTC)
    rows = [(r.metric, r.period_start, r.period_end, r.value, r.previous, r.status, r.definition_version,
             r.git_commit, r.as_of, stamp, r.group, r.sample_size, r.previous_sample_size) for r in results]
    if not rows:
        return 0
    con = store.sql
    cols = ", ".join(f'"{c}"' for c in _COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.executemany(
            'DELETE FROM _metric_results WHERE metric = ? AND as_of = ? AND definition_version = ? '
            'AND "group" IS NOT DISTINCT FROM ?', [(r[0], r[8], r[6], r[10]) for r in rows])
        con.executemany(f"INSERT INTO _metric_results ({cols}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                        rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)
