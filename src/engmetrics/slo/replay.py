"""`engmetrics slo backtest`: replay an SLO's alert tables over its own history and incidents.

The SLO's indicator and target are those of the version in force at the end of the range; its alert table
(see `engmetrics.slo.status.alert_table`) is compared with the SRE Workbook's table, the default table and
every Sloth `AlertWindows` document in the workspace (a table with the same tiers as one before it is
listed once; a different table whose name is taken gets a ` #2`, ` #3`... suffix). Events are read from
the longest alert window or the SLO's period (whichever is longer) before `start`, so the first
evaluations see full windows and the budget spent before a first alert is a share of the whole period's
allowance `[alert - period, alert)`. Events in excluded periods are not removed here: the backtest asks
whether the alerts would have woken someone, and maintenance noise is part of that answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..durations import duration_seconds
from .alerting import DEFAULT_TABLE, WORKBOOK_TABLE, AlertTable, table_from_sloth
from .backtest import BacktestReport, backtest
from .loader import SloSet
from .resolve import events_of, resolve_indicator
from .sloth import AlertWindows
from .status import alert_table
from .versions import in_force, slo_versions
from .windows import resolve_window

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["backtest_slo", "report_dict"]


def _tables(specs: SloSet, own: AlertTable) -> list[AlertTable]:
    """The tables to compare, each set of tiers once (the first name it comes with), names made unique."""
    tables = [own, WORKBOOK_TABLE, DEFAULT_TABLE, *(table_from_sloth(d.model) for d in specs.of(AlertWindows))]
    unique: dict[tuple, AlertTable] = {}
    names: set[str] = set()
    for table in tables:
        if table.tiers in unique:
            continue
        name, n = table.name, 1
        while name in names:
            n += 1
            name = f"{table.name} #{n}"
        names.add(name)
        unique[table.tiers] = replace(table, name=name)
    return list(unique.values())


def backtest_slo(store: Store, specs: SloSet, name: str, *, start: datetime, end: datetime,
                 objective: int = 0, zone: str = "UTC") -> BacktestReport:
    """Backtest SLO `name`'s objective over [start, end) against the `incidents` of its service."""
    versions = slo_versions(specs).get(name)
    version = in_force(versions, end) if versions else None
    if version is None:
        raise ValueError(f"no OpenSLO SLO named {name!r} is in force at {end.isoformat()}")
    spec = version.slo.spec
    if not 0 <= objective < len(spec.objectives):
        raise ValueError(f"{name} has {len(spec.objectives)} objective(s); --objective {objective} does not exist")
    target = spec.objectives[objective].target
    assert target is not None
    window = resolve_window(spec.timeWindow[0], end, zone)
    indicator = resolve_indicator(specs.indicator(version.slo, objective), spec.service)
    tables = _tables(specs, alert_table(specs, version, window))
    lookback = max(duration_seconds(w) for t in tables for w in t.windows)
    history = max(lookback, window.period_seconds)  # the budget of a first alert: [alert - period, alert)
    events = events_of(store, [indicator], start - timedelta(seconds=history), end)
    events = events.filter((events.service == indicator.key[0]) & (events.indicator == indicator.key[1]))
    return backtest(events.select("ts", "good", "total"), target=target, period_seconds=window.period_seconds,
                    tables=tables, start=start, end=end, incidents=store.table("incidents"), service=spec.service)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def report_dict(report: BacktestReport, slo: str) -> dict[str, Any]:
    """The backtest as JSON-ready data: the side-by-side comparison, then each table's firings and scores."""
    tables = []
    for result in report.tables:
        scores = {s: {k: v for k, v in vars(score).items() if k != "per_incident"} | {
            "incidents_scored": [vars(i) for i in score.per_incident]} for s, score in result.scores.items()}
        tables.append({"table": result.name, "tiers": [vars(t) for t in result.table.tiers],
                       "firings": list(result.firings), "scores": scores})
    return _jsonable({"slo": slo, "start": report.start, "end": report.end, "target": report.target,
                      "incidents": report.incidents, "skipped_incidents": report.skipped_incidents,
                      "comparison": report.comparison(), "tables": tables})
