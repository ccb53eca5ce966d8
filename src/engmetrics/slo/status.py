"""`engmetrics slo status`: every objective of every SLO, over each of its windows, at one instant.

One item per (SLO, objective, window). Definitions (see docs/slo.md):

- `good`, `total`, `sli`, `error_budget` follow the SLO's budgeting method (`engmetrics.slo.budget`) over
  the window's [start, at), events in excluded periods removed. When the SLO has versions, each part of
  the window is judged by the version in force then: allowed and consumed add up over the parts.
- `burn_rate`: consumed / allowed over the window so far (1 = spending exactly the budget);
  `burn_rates[w]`: the error ratio over [at - w, at) divided by (1 - target), None without events.
- `alerts`: each tier of the SLO's alert table with its factor for the window's period and whether both
  of its windows burn at or above it.
- `state`: `insufficient_data` when the window has fewer than `min_events` events, else `exhausted` when
  no budget remains, `warning` when an alert fires or less than `warning_remaining` is left, else `ok`.
- `time_to_exhaustion_hours`: at the 1-day burn rate, when the budget would run out (None when it is
  not burning or already spent).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..durations import duration_seconds
from ..timeutil import as_utc
from .alerting import STATUS_WINDOWS, AlertTable, choose_table
from .budget import BudgetResult, budget_from_counts
from .engine import Bands, Slices, band_sums, slice_sums
from .exclusions import Exclusion, correction_periods, maintenance_periods
from .loader import SloSet
from .openslo import SLO, TimeWindow, V1AlphaSLO
from .resolve import Indicator, NotComputable, events_of, resolve_indicator
from .sloth import AlertWindows
from .versions import SloVersion, in_force, segments, slo_versions
from .windows import Window, resolve_window

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["ALERT_WINDOWS", "StatusReport", "alert_table", "is_composite", "slo_status", "status_series"]

ALERT_WINDOWS = "engmetrics.dev/alert-windows"  # SLO annotation naming a Sloth AlertWindows document
Key = tuple[str, str]
_RATIO_SLICES = 0.0  # slice target used for RatioTimeslices (good slices are not used there)


@dataclass(frozen=True)
class _Part:
    """One version's share of a window: its indicator, method and targets over [start, end)."""

    version: SloVersion
    indicator: Indicator
    objective: int
    start: datetime
    end: datetime

    @property
    def method(self) -> str:
        return self.version.slo.spec.budgetingMethod

    @property
    def target(self) -> float:
        value = self.version.slo.spec.objectives[self.objective].target
        assert value is not None
        return value

    @property
    def slice_window(self) -> str | None:
        return self.version.slo.spec.objectives[self.objective].timeSliceWindow

    @property
    def slice_target(self) -> float:
        value = self.version.slo.spec.objectives[self.objective].timeSliceTarget
        return _RATIO_SLICES if self.method == "RatioTimeslices" or value is None else value


@dataclass
class _Plan:
    """One status item to compute."""

    name: str
    current: SloVersion
    objective: int
    window: Window
    parts: list[_Part]
    table: AlertTable
    indicator: Indicator  # the version in force's: burn rates and alerts read it

    @property
    def burn_part(self) -> _Part:
        """The version in force, for the burn-rate windows that end at the instant."""
        return _Part(self.current, self.indicator, self.objective, self.window.start, self.window.end)

    @property
    def all_parts(self) -> list[_Part]:
        return [*self.parts, self.burn_part]


@dataclass
class StatusReport:
    items: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (SLO, reason)


def alert_table(specs: SloSet, version: SloVersion, window: Window) -> AlertTable:
    """The SLO's alert table: the AlertWindows document its annotation names, else the one for its period.

    Tiers whose long window is longer than the window's period are left out (a 1-day tier on a 1-hour SLO
    would fire at a trivial burn rate).
    """
    return _table([d.model for d in specs.of(AlertWindows)], version, window)


def _table(documents: list[AlertWindows], version: SloVersion, window: Window) -> AlertTable:
    duration = window.label.split()[0]
    fixed = duration[-1] in "smhdw"  # a 1M period has no fixed length: no AlertWindows period matches it
    try:
        table = choose_table(documents, duration_seconds(duration) if fixed else None,
                             version.slo.metadata.annotations.get(ALERT_WINDOWS))
    except ValueError as exc:
        raise NotComputable(f"{ALERT_WINDOWS}: {exc}") from None
    tiers = tuple(t for t in table.tiers if duration_seconds(t.long_window) <= window.period_seconds)
    return replace(table, tiers=tiers)


def _indicator(specs: SloSet, version: SloVersion, objective: int) -> Indicator:
    """An objective's indicator; private to the SLO when the version has corrections (they are its own)."""
    spec = version.slo.spec
    owner = version.slo.name if spec.corrections else None
    return resolve_indicator(specs.indicator(version.slo, objective), spec.service, owner)


def _plans(specs: SloSet, at: datetime, zone: str) -> Iterator[_Plan | tuple[str, str]]:
    alert_windows = [d.model for d in specs.of(AlertWindows)]
    for doc in specs.sloth_specs:
        for slo in doc.model.slos:
            yield f"{doc.name}-{slo.name}", "a Sloth spec with Prometheus queries (see `engmetrics slo rules`)"
    for doc in specs.of(V1AlphaSLO):
        yield doc.name, "an openslo/v1alpha SLO with Prometheus queries (see `engmetrics slo rules`)"
    for name, versions in slo_versions(specs).items():
        current = in_force(versions, at)
        if current is None:
            yield name, "no version is in force yet"
            continue
        try:  # every objective and window, or none: a half-computed SLO would mislead
            spec = current.slo.spec
            yield from [_plan(specs, name, versions, current, i, time_window, at, zone, alert_windows)
                        for i, _ in enumerate(spec.objectives) for time_window in spec.timeWindow]
        except NotComputable as exc:
            yield name, str(exc)


def _plan(specs: SloSet, name: str, versions: list[SloVersion], current: SloVersion, objective: int,
          time_window: TimeWindow, at: datetime, zone: str, alert_windows: list[AlertWindows]) -> _Plan:
    window = resolve_window(time_window, at, zone)
    parts = [_Part(v, _indicator(specs, v, objective), objective, a, b)
             for v, a, b in segments(versions, window.start, at) if objective < len(v.slo.spec.objectives)]
    return _Plan(name, current, objective, window, parts, _table(alert_windows, current, window),
                 _indicator(specs, current, objective))


def _exclusions(store: Store, plans: list[_Plan], start: datetime, at: datetime) -> list[Exclusion]:
    """Maintenance windows and spec corrections. A maintenance window covers its service's events and the
    events that SLOs of its service read from other services' indicators."""
    parts = [p for plan in plans for p in plan.all_parts]
    services = {p.version.slo.spec.service for p in parts} | {p.indicator.key[0] for p in parts}
    found = []
    for e in maintenance_periods(store, services, start, at):
        found.append(e)
        borrowed = {p.indicator.key for p in parts if p.version.slo.spec.service == e.service != p.indicator.key[0]}
        found += [replace(e, service=key[0], indicator=key[1]) for key in sorted(borrowed)]
    spans: dict[tuple[str, datetime | None, Key], tuple[_Part, datetime, datetime]] = {}
    for plan in plans:
        for part in plan.parts:  # a version's corrections cover only the time it is in force
            key = (plan.name, part.version.since, part.indicator.key)
            first, last = (spans[key][1], spans[key][2]) if key in spans else (part.start, part.end)
            spans[key] = (part, min(first, part.start), max(last, part.end))
    for (name, _, key), (part, first, last) in spans.items():
        for i, correction in enumerate(part.version.slo.spec.corrections):
            found += [replace(e, start=max(e.start, first), end=min(e.end, last))
                      for e in correction_periods(correction, f"slo:{name}:corrections[{i}]", first, last, *key)]
    return found


def _budget(part: _Part, bands: Bands, slices: dict[str, Slices], start: datetime, end: datetime) -> BudgetResult:
    counts = bands.counts(part.indicator.key, start, end)
    if part.method == "Occurrences":
        return budget_from_counts("Occurrences", part.target, good=counts.good, total=counts.total)
    assert part.slice_window is not None
    s = slices[part.slice_window].counts(part.indicator.key, part.slice_target, start, end)
    return budget_from_counts(part.method, part.target, good=s.good, total=s.total, slices=s.slices,  # type: ignore[arg-type]
                              good_slices=s.good_slices, ratio_sum=s.ratio_sum)


def _combined(results: list[BudgetResult], method: str, target: float) -> BudgetResult:
    """Budgets of consecutive parts added up (a single part is returned as is)."""
    if len(results) == 1:
        return results[0]
    good, total = sum(r.good for r in results), sum(r.total for r in results)
    allowed = sum(r.budget_total for r in results)
    consumed = sum(r.budget_consumed or 0.0 for r in results)
    slices = sum(r.slices or 0 for r in results)
    units = total if method == "Occurrences" else slices
    if units <= 0:
        return BudgetResult(method, target, None, 0.0, None, None, good, total, slices, None, True)  # type: ignore[arg-type]
    sli = good / total if method == "Occurrences" else 1 - consumed / slices
    good_slices = sum(r.good_slices or 0 for r in results) if method == "Timeslices" else None
    return BudgetResult(method, target, sli, allowed, consumed, 1 - consumed / allowed if allowed else None,  # type: ignore[arg-type]
                        good, total, slices or None, good_slices, False)


def _burn(result: BudgetResult) -> float | None:
    if result.no_data or not result.budget_total:
        return None
    return (result.budget_consumed or 0.0) / result.budget_total


def _rounded(value: float | None, digits: int = 9) -> float | None:
    return None if value is None else round(value, digits)


def _item(plan: _Plan, at: datetime, bands: Bands, slices: dict[str, Slices], exclusions: list[Exclusion],
          min_events: float, warning_remaining: float) -> dict[str, Any]:
    parts = plan.parts
    results = [_budget(p, bands, slices, p.start, p.end) for p in parts]
    target = plan.current.slo.spec.objectives[plan.objective].target
    assert target is not None
    method = plan.current.slo.spec.budgetingMethod
    budget = _combined(results, method, target) if results else budget_from_counts(method, target, good=0, total=0)
    windows = sorted({*STATUS_WINDOWS, *plan.table.windows}, key=duration_seconds)
    rates: dict[str, float | None] = {}
    for w in windows:
        since = at - timedelta(seconds=duration_seconds(w))
        rates[w] = _burn(_budget(plan.burn_part, bands, slices, since, at))
    period = plan.window.period_seconds
    alerts = [{"severity": t.severity, "long_window": t.long_window, "short_window": t.short_window,
               "factor": round(t.factor(period), 6), "firing": t.firing(rates, period)} for t in plan.table.tiers]
    removed = _removed(parts, bands, exclusions, budget)
    remaining = _rounded(budget.budget_remaining)  # an exactly spent budget is 0, not 1e-16
    state = _state(budget.no_data or budget.total < min_events, remaining, alerts, warning_remaining)
    exhaustion = _exhaustion_hours(plan.window, remaining, rates.get("1d"), at)
    objective = plan.current.slo.spec.objectives[plan.objective]
    return {
        "slo": plan.name, "service": plan.current.slo.spec.service,
        "objective": objective.displayName or str(plan.objective), "objective_index": plan.objective,
        "target": target, "window": plan.window.label, "window_start": plan.window.start.isoformat(),
        "window_end": at.isoformat(), "budgeting_method": method,
        "good": budget.good, "total": budget.total, "slices": budget.slices, "good_slices": budget.good_slices,
        "sli": _rounded(budget.sli),
        "error_budget": {"allowed": _rounded(budget.budget_total), "consumed": _rounded(budget.budget_consumed),
                         "remaining": remaining},
        "burn_rate": _rounded(_burn(budget)), "burn_rates": {w: _rounded(r) for w, r in rates.items()},
        "alerts": alerts, "alert_table": plan.table.name,
        "excluded_events": sum(e["total"] for e in removed), "exclusions": removed,
        "time_to_exhaustion_hours": _rounded(exhaustion, 3),
        "version_since": plan.current.since.isoformat() if plan.current.since else None,
        "state": state,
    }


def _exhaustion_hours(window: Window, remaining: float | None, rate: float | None, at: datetime) -> float | None:
    """Hours until the budget is spent if the burn rate `rate` goes on (None: not burning it down).

    Rolling: what is left of a period's budget lasts `remaining x period / rate`. Calendar: the budget so
    far grows with the traffic, so it shrinks only at a burn rate above 1: `remaining x elapsed / (rate -
    1)` (the allowed events grow by one budget-share of the traffic per hour, the bad ones by `rate` of it).
    """
    if remaining is None or remaining <= 0 or not rate:
        return None
    if window.rolling:
        return remaining * window.period_seconds / 3600 / rate
    return remaining * (at - window.start).total_seconds() / 3600 / (rate - 1) if rate > 1 else None


def _state(insufficient: bool, remaining: float | None, alerts: list[dict[str, Any]],
           warning_remaining: float) -> str:
    if insufficient:
        return "insufficient_data"
    if remaining is not None and remaining <= 0:
        return "exhausted"
    if any(a["firing"] for a in alerts) or (remaining is not None and remaining < warning_remaining):
        return "warning"
    return "ok"


def _weighted(pairs: list[tuple[float, float | None]]) -> float | None:
    """The weighted mean of the known values (None when none is known)."""
    known = [(w, v) for w, v in pairs if v is not None]
    weight = sum(w for w, _ in known)
    return sum(w * v for w, v in known) / weight if weight else None


def _weighted_pair(triples: list[tuple[float, float, float | None]]) -> tuple[float | None, float]:
    """(weighted mean of the known values, weighted mean of the targets of those same members)."""
    known = [(w, t, v) for w, t, v in triples if v is not None]
    if not known:
        return None, 0.0
    weight = sum(w for w, _, _ in known)
    return sum(w * v for w, _, v in known) / weight, sum(w * t for w, t, _ in known) / weight


def _composite(plan: _Plan, members: list[dict[str, Any]], warning_remaining: float) -> dict[str, Any]:
    """A user journey over the objectives of one window: the weighted mean of their error ratios.

    Weights are `compositeWeight` (default 1); the composite target is the weighted mean of the targets,
    its SLI the weighted mean of the SLIs with data, its remaining budget `1 - (1 - SLI) / (1 - target)`
    and each burn rate the weighted mean error ratio over (1 - target), where for the SLI and each burn
    rate the target is averaged over the same members (a member without events counts in neither).
    Allowed and consumed are not event counts here and are None.
    """
    objectives = plan.current.slo.spec.objectives
    weights = [objectives[m["objective_index"]].compositeWeight or 1.0 for m in members]
    target = _weighted([(w, m["target"]) for w, m in zip(weights, members, strict=True)])
    assert target is not None
    sli, target_with_data = _weighted_pair([(w, m["target"], m["sli"]) for w, m in zip(weights, members, strict=True)])
    remaining = None if sli is None else 1 - (1 - sli) / (1 - target_with_data)
    rates = {}
    for name in members[0]["burn_rates"]:
        ratios = [(w, m["target"], None if m["burn_rates"][name] is None else m["burn_rates"][name] * (1 - m["target"]))
                  for w, m in zip(weights, members, strict=True)]
        ratio, rate_target = _weighted_pair(ratios)
        rates[name] = None if ratio is None else ratio / (1 - rate_target)
    period = plan.window.period_seconds
    alerts = [{"severity": t.severity, "long_window": t.long_window, "short_window": t.short_window,
               "factor": round(t.factor(period), 6), "firing": t.firing(rates, period)} for t in plan.table.tiers]
    insufficient = all(m["state"] == "insufficient_data" for m in members)
    return {
        **{k: members[0][k] for k in ("slo", "service", "window", "window_start", "window_end", "budgeting_method",
                                      "alert_table", "version_since")},
        "objective": "composite", "objective_index": None, "target": round(target, 12),
        "good": sum(m["good"] for m in members), "total": sum(m["total"] for m in members),
        "slices": None, "good_slices": None, "sli": _rounded(sli),
        "error_budget": {"allowed": None, "consumed": None, "remaining": _rounded(remaining)},
        "burn_rate": _rounded(None if remaining is None else 1 - remaining),
        "burn_rates": {k: _rounded(v) for k, v in rates.items()}, "alerts": alerts,
        "excluded_events": sum(m["excluded_events"] for m in members), "exclusions": [],
        "time_to_exhaustion_hours": None, "components": [
            {"objective": m["objective"], "weight": w, "sli": m["sli"], "target": m["target"]}
            for w, m in zip(weights, members, strict=True)],
        "state": _state(insufficient, remaining, alerts, warning_remaining),
    }


def is_composite(slo: SLO) -> bool:
    """Several objectives, each with its own indicator (OpenSLO's composite SLO)."""
    objectives = slo.spec.objectives
    return len(objectives) > 1 and all(o.indicator is not None or o.indicatorRef is not None for o in objectives)


def _removed(parts: list[_Part], bands: Bands, exclusions: list[Exclusion], budget: BudgetResult) -> list[dict]:
    """Each exclusion that removed events from the window: its events and the budget share they would use."""
    removed: dict[int, list[float]] = {}
    for part in parts:
        for x, (good, total) in bands.counts(part.indicator.key, part.start, part.end).excluded.items():
            removed.setdefault(x, [0.0, 0.0])
            removed[x][0] += good
            removed[x][1] += total
    out = []
    for x, (good, total) in sorted(removed.items()):
        e = exclusions[x]
        share = ((total - good) / budget.budget_total
                 if budget.method == "Occurrences" and budget.budget_total else None)
        out.append({"source": e.source, "reason": e.reason, "approved_by": e.approved_by,
                    "start": e.start.isoformat(), "end": e.end.isoformat(), "good": good, "total": total,
                    "bad": total - good, "budget_removed": _rounded(share)})
    return out


def slo_status(store: Store, specs: SloSet, at: datetime | None = None, *, zone: str = "UTC",
               min_events: float = 100, warning_remaining: float = 0.25) -> StatusReport:
    """The status of every computable SLO objective and window at `at` (default: now, to the minute)."""
    at = at or datetime.now(UTC).replace(second=0, microsecond=0)
    return status_series(store, specs, [at], zone=zone, min_events=min_events,
                         warning_remaining=warning_remaining)[0]


def status_series(store: Store, specs: SloSet, instants: list[datetime], *, zone: str = "UTC",
                  min_events: float = 100, warning_remaining: float = 0.25) -> list[StatusReport]:
    """`slo_status` at each of several instants (e.g. every midnight of a chart), from one engine query."""
    instants = [as_utc(t) for t in instants]
    end = max(instants)
    reports = [StatusReport() for _ in instants]
    plans: list[tuple[int, _Plan]] = []
    for n, at in enumerate(instants):
        for plan in _plans(specs, at, zone):
            if isinstance(plan, tuple):
                reports[n].skipped.append(plan)
            else:
                plans.append((n, plan))
    if not plans:
        return reports
    cuts = {t for t in instants if t < end}
    for n, p in plans:
        at = instants[n]
        cuts |= {at - timedelta(seconds=duration_seconds(w)) for w in (*STATUS_WINDOWS, *p.table.windows)}
        cuts |= {p.window.start} | {part.start for part in p.parts}
    ordered = sorted(c for c in cuts if c < end)
    just_plans = [p for _, p in plans]
    indicators = [part.indicator for p in just_plans for part in p.all_parts]
    exclusions = _exclusions(store, just_plans, ordered[0], end)
    events = events_of(store, indicators, ordered[0], end) if indicators else None
    bands = band_sums(events, ordered, end=end, exclusions=exclusions) if events is not None else None
    slices: dict[str, Slices] = {}
    by_width: dict[str, set[tuple[str, str, float]]] = {}
    for part in (part for p in just_plans for part in p.all_parts):
        if part.method != "Occurrences" and part.slice_window:
            by_width.setdefault(part.slice_window, set()).add((*part.indicator.key, part.slice_target))
    for width, targets in by_width.items():
        assert events is not None and bands is not None
        slices[width] = slice_sums(events, bands, width=width, targets=sorted(targets), exclusions=exclusions)
    members: dict[tuple[int, str, str], list[tuple[_Plan, dict[str, Any]]]] = {}
    for n, plan in plans:
        assert bands is not None or not plan.parts
        item = _item(plan, instants[n], bands, slices, exclusions, min_events,  # type: ignore[arg-type]
                     warning_remaining)
        reports[n].items.append(item)
        if is_composite(plan.current.slo):
            members.setdefault((n, plan.name, plan.window.label), []).append((plan, item))
    for (n, _, _), group in members.items():
        reports[n].items.append(_composite(group[0][0], [item for _, item in group], warning_remaining))
    return reports
