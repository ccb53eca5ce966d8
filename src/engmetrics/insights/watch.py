"""`engmetrics watch`: the scheduled loop. Each cycle opens the store for writing (the write lock is held for
the cycle only), runs the jobs `WatchSettings` enables and sends the alerts through `engmetrics.notify`:

1. `evaluate`: record the definitions and store every indicator's results for yesterday
   (`engmetrics.catalog.evaluate.evaluate_and_store`, as `engmetrics metrics evaluate`).
2. `anomalies`: `engmetrics.insights.scan.scan` over the last `anomalies.lookback_days`, findings stored with
   `save_findings`; one `anomaly` alert per finding ending within `anomaly_days` of now, key
   `anomaly:<finding_id>` (a finding is sent once, whatever later scans say).
3. `slo_alerts`: the SLO status at the cycle's instant (as `engmetrics slo status`); one `slo` alert per
   firing burn-rate tier, key `slo:<slo>:<objective>:<window>:<severity>:<UTC day>` (once per day while it
   keeps firing).
4. `budgets`: the budgets at yesterday (as `engmetrics cost budgets --notify`), key
   `budget:<name>:<period start>:<type>:<percent>`.

A job that fails (bad specs, a missing module) is reported in the cycle's `errors` (`job`: its name) and the
other jobs still run; so is a failed delivery (`job`: `deliver`). A store that cannot be opened (another process
holds its write lock longer than `store_lock_timeout`, e.g. `engmetrics serve` on the same DuckDB file) fails
the whole cycle (`job`: `store`); the next cycle tries again. `run_cycle` returns a `CycleSummary`;
`watch_loop` repeats it until told to stop.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..catalog.evaluate import evaluate_and_store
from ..catalog.loader import load_catalog
from ..catalog.periods import default_as_of
from ..cost.allocation_rules import load_allocation_rules
from ..cost.budgets import budget_notifications, budget_status, load_budgets
from ..errors import EngmetricsError, ValidationFailed
from ..notify import Delivery, Notification, deliver
from ..settings import Settings
from ..slo import check_slos
from ..slo.status import slo_status
from ..store import Store
from .scan import save_findings, scan

__all__ = ["CycleSummary", "anomaly_notifications", "run_cycle", "slo_notifications", "watch_loop"]


@dataclass
class CycleSummary:
    """What one cycle did; `to_dict()` is one line of `engmetrics watch --json`."""

    run: int
    started_at: datetime
    finished_at: datetime | None = None
    evaluated: int | None = None
    findings: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(d.status for d in self.deliveries)
        return {"run": self.run, "started_at": self.started_at, "finished_at": self.finished_at,
                "evaluated": self.evaluated, "findings": self.findings,
                "alerts": {"sent": counts["sent"], "duplicate": counts["duplicate"], "failed": counts["failed"]},
                "deliveries": [d.to_dict() for d in self.deliveries], "errors": self.errors}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def anomaly_notifications(findings: list[Any], now: datetime, days: int) -> list[Notification]:
    """One `anomaly` notification per finding that ends within `days` of `now`."""
    since = now - timedelta(days=days)
    out = []
    for f in findings:
        if f.end_at < since:
            continue
        what = f.metric or f.series
        out.append(Notification(
            "anomaly", f"anomaly:{f.finding_id}", f"Anomaly in {what}: {f.direction}",
            f"{what} moved *{f.direction}* from {f.start_at:%Y-%m-%d %H:%M} to {f.end_at:%Y-%m-%d %H:%M} UTC "
            f"(score {f.score:.1f}, found by {f.method}).",
            {"Series": f.series, "Peak": f"{_number(f.value)} at {f.peak_at:%Y-%m-%d %H:%M}" if f.peak_at else "-",
             "Expected": f"{_number(f.expected)} ({_number(f.expected_low)} to {_number(f.expected_high)})",
             "Finding": f.finding_id}))
    return out


def slo_notifications(items: list[dict[str, Any]], now: datetime) -> list[Notification]:
    """One `slo` notification per item of `engmetrics slo status` and severity with a firing alert tier (the
    firing tiers of that severity listed in its text)."""
    day = now.astimezone(UTC).date().isoformat()
    out = []
    for i in items:
        by_severity: dict[str, list[dict[str, Any]]] = {}
        for a in i["alerts"]:
            if a["firing"]:
                by_severity.setdefault(a["severity"], []).append(a)
        for severity, tiers in by_severity.items():
            burning = "; ".join(
                f"{a['long_window']} and {a['short_window']} at or above {a['factor']:g}x ("
                + ", ".join(f"{w} {i['burn_rates'][w]:.2f}x" for w in (a["long_window"], a["short_window"])
                            if i["burn_rates"].get(w) is not None) + ")" for a in tiers)
            remaining = i["error_budget"]["remaining"]
            out.append(Notification(
                "slo", f"slo:{i['slo']}:{i['objective']}:{i['window']}:{severity}:{day}",
                f"SLO {i['slo']} burning its error budget ({severity})", f"{i['service']}: burn rate over {burning}.",
                {"Objective": str(i["objective"]), "Window": i["window"], "Target": f"{i['target']:.4%}",
                 "SLI": "-" if i["sli"] is None else f"{i['sli']:.4%}",
                 "Budget left": "-" if remaining is None else f"{remaining:.1%}"}))
    return out


def _error(job: str, exc: Exception) -> dict[str, str]:
    return {"job": job, "error": f"{type(exc).__name__}: {exc}"}


def _evaluate(store: Store, settings: Settings, summary: CycleSummary, now: datetime) -> None:
    results = evaluate_and_store(store, settings.workspace, default_as_of(now), privacy=settings.privacy, at=now)
    summary.evaluated = len(results)


def _anomalies(store: Store, settings: Settings, summary: CycleSummary, now: datetime) -> list[Notification]:
    found = scan(store, load_catalog(settings.workspace), settings.insights.anomalies, today=now.date())
    save_findings(store, found)
    summary.findings = len(found)
    return anomaly_notifications(found, now, settings.insights.watch.anomaly_days)


def _slos(store: Store, settings: Settings, now: datetime) -> list[Notification]:
    report = check_slos(settings.workspace)
    if report.errors:
        raise ValidationFailed(report.errors)
    status = slo_status(store, report.specs, now, zone=settings.timezone, min_events=settings.slo.min_events,
                        warning_remaining=settings.slo.warning_remaining)
    return slo_notifications(status.items, now)


def _budgets(store: Store, settings: Settings, now: datetime) -> list[Notification]:
    report = load_budgets(settings.workspace)
    if report.errors:
        raise ValidationFailed(report.errors)
    statuses = budget_status(store, [d.model for d in report.budgets], default_as_of(now),
                             rules=load_allocation_rules(settings.workspace))
    return budget_notifications(statuses)


def run_cycle(settings: Settings, run: int = 1, *, now: datetime | None = None) -> CycleSummary:
    """One cycle (module docstring) at `now` (default: the current minute), under the store's write lock;
    never raises for a job, a delivery or the store's lock (they are the summary's `errors`)."""
    now = now or datetime.now(UTC).replace(second=0, microsecond=0)
    jobs = settings.insights.watch
    summary = CycleSummary(run, datetime.now(UTC))
    notifications: list[Notification] = []
    steps: list[tuple[str, bool, Callable[[Store], list[Notification] | None]]] = [
        ("evaluate", jobs.evaluate, lambda s: _evaluate(s, settings, summary, now)),
        ("anomalies", jobs.anomalies, lambda s: _anomalies(s, settings, summary, now)),
        ("slo_alerts", jobs.slo_alerts, lambda s: _slos(s, settings, now)),
        ("budgets", jobs.budgets, lambda s: _budgets(s, settings, now)),
    ]
    try:
        with Store.open(settings.store_url or "", lock_timeout=settings.store_lock_timeout) as store:
            for name, enabled, step in steps:
                if not enabled:
                    continue
                try:
                    notifications += step(store) or []
                except Exception as exc:  # one job's failure is reported; the others still run
                    summary.errors.append(_error(name, exc))
            try:
                summary.deliveries = deliver(store, settings.notify, notifications, now=now)
            except Exception as exc:  # e.g. the dedup state could not be written: unrecorded alerts go next cycle
                summary.errors.append(_error("deliver", exc))
    except EngmetricsError as exc:  # the store is locked (or cannot be opened): this cycle did nothing
        summary.errors.append(_error("store", exc))
    summary.finished_at = datetime.now(UTC)
    return summary


def watch_loop(settings: Settings, *, interval: int, max_runs: int | None,
               stop: threading.Event) -> Iterator[CycleSummary]:
    """Cycles every `interval` seconds (start to start; no wait when a cycle overran) until `max_runs` have run
    or `stop` is set; `stop` is checked between cycles, never during one."""
    run = 0
    while not stop.is_set() and (max_runs is None or run < max_runs):
        run += 1
        started = datetime.now(UTC)
        yield run_cycle(settings, run)
        if max_runs is not None and run >= max_runs:
            return
        elapsed = (datetime.now(UTC) - started).total_seconds()
        stop.wait(max(0.0, interval - elapsed))
