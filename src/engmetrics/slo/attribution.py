"""What consumed an SLO's error budget: each bad event (or bad slice) of the current window, attributed once.

For one status item (one SLO objective over one window, see `engmetrics.slo.status`; a composite SLO's
journey item is skipped, each of its objectives having an item of its own) the budget spent in
`[window_start, at)` is split into:

- **incidents** of the service (`incidents` rows whose `service` is the SLO's `spec.service`, of any
  version in force during the window): an incident covers `[impact_started_at, resolved_at)`, where the
  start falls back to `declared_at` and the end to `mitigated_at`, then to `at` (an incident still open;
  `engmetrics.slo.incidents_window`, as the integrity checks and the backtest read it);
- **deployments** of the service (`deployments` rows with `environment` in `environments`, default
  `production`, and `status` in `success` / `failure`): a deployment covers
  `[started_at, started_at + deploy_window)`, `deploy_window` 1 hour unless given;
- **unattributed**: the rest.

Precedence: **incident > deployment > unattributed**. Each unit of spent budget goes to exactly one bucket,
so the incidents, deployments and unattributed parts add up to the consumed budget. Among several incidents
covering the same unit it goes to the one whose impact started first (then the smaller id); among several
deployments to the latest one started before it (then the smaller id).

What a *unit* is follows the SLO's budgeting method (`unit` says which):

- `Occurrences`: bad **events** (`total - good`) of each event bucket, the bucket labelled by its start `ts`
  (a bucket is in an interval when `start <= ts < end`);
- `Timeslices`: bad **slices** (slices whose `good / total` is below `timeSliceTarget`), one each;
- `RatioTimeslices`: each slice's **error ratio** `1 - good / total` (their sum is the consumed budget).

A slice `[s, s + timeSliceWindow)` is in an interval when it overlaps it (`s < end` and `s + width > start`).
As in the status, a slice counts in the window of its start: a slice that starts before the window (or
before a version's part of it) is not counted.

**Exclusions** come first: events in an excluded period (maintenance windows, spec corrections: the status
item's `exclusions`, each event to the first one listed that covers it, as the status does) are removed
before anything is attributed (for the slice methods, before slicing, as the status does). Each exclusion
reports the events it removed and, for `Occurrences`, the share of the allowed budget their bad events would
have used (`budget_removed`, as the status item has it).

When the SLO has versions, each part of the window is read with the version in force then (its indicator,
method and slice settings), as the status does, so `consumed` equals the status item's consumed budget.

All labelling runs in the engine (Ibis): exclusions by interval conditions, incidents and deployments by a
non-equi join of the units with their intervals, ranked with `row_number`; only one small aggregate (per
incident and deployment) and the per-exclusion sums come back to Python.

>>> DEFAULT_DEPLOY_WINDOW, unit_of("Timeslices")
('1h', 'slices')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from ..durations import duration_seconds
from ..timeutil import UTC_TIMESTAMP, as_utc
from .budget import slice_seconds, slice_start
from .incidents_window import incident_window
from .loader import SloSet
from .resolve import Indicator, events_of, resolve_indicator
from .versions import segments, slo_versions

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["DEFAULT_DEPLOY_WINDOW", "DEPLOY_STATUSES", "PRODUCTION", "Attribution", "budget_attribution",
           "is_composite_item", "unit_of"]

DEFAULT_DEPLOY_WINDOW = "1h"
PRODUCTION = ("production",)
DEPLOY_STATUSES = ("success", "failure")
_UTC = UTC_TIMESTAMP
_UNITS = {"Occurrences": "events", "Timeslices": "slices", "RatioTimeslices": "slice error"}
_RATIO_SLICES = 0.0


def unit_of(method: str) -> str:
    """What one unit of budget is for a budgeting method: `events`, `slices` or `slice error`."""
    return _UNITS[method]


@dataclass(frozen=True)
class Attribution:
    """Where one status item's consumed budget went. Amounts are in `unit`; shares are of `consumed`.

    `incidents`: `{incident_id, title, severity, start, end, consumed, share}`, most consumed first;
    `deployments`: `{deployment_id, status, started_at, consumed, share}`, most consumed first;
    `exclusions`: `{source, reason, start, end, good, total, bad, budget_removed}` (events removed, in list
    order of the status item). `consumed` = incidents + deployments + unattributed.
    """

    slo: str
    service: str
    objective: str
    objective_index: int
    window: str
    window_start: str
    window_end: str
    budgeting_method: str
    unit: str
    allowed: float | None
    consumed: float
    incidents: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    unattributed: float = 0.0
    deploy_window: str = DEFAULT_DEPLOY_WINDOW

    @property
    def incident_consumed(self) -> float:
        return sum(i["consumed"] for i in self.incidents)

    @property
    def deployment_consumed(self) -> float:
        return sum(d["consumed"] for d in self.deployments)

    def share(self, amount: float) -> float | None:
        """`amount` as a fraction of the consumed budget (None when nothing was consumed)."""
        return _ratio(amount, self.consumed)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(incident_consumed=_round(self.incident_consumed),
                   deployment_consumed=_round(self.deployment_consumed),
                   incident_share=_round(self.share(self.incident_consumed)),
                   deployment_share=_round(self.share(self.deployment_consumed)),
                   unattributed_share=_round(self.share(self.unattributed)))
        return out


@dataclass(frozen=True)
class _Part:
    """One version's share of the window: indicator, method and slice settings over [start, end)."""

    service: str
    indicator: Indicator
    method: str
    slice_window: str | None
    slice_target: float
    start: datetime
    end: datetime


def _round(value: float | None, digits: int = 9) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(part: float, whole: float | None) -> float | None:
    return _round(part / whole) if whole else None


def _utc(text: str | datetime) -> datetime:
    """An instant of a status item (an ISO string) or of the store, in UTC (`timeutil.as_utc`)."""
    return as_utc(datetime.fromisoformat(text) if isinstance(text, str) else text)


def _parts(specs: SloSet, item: dict[str, Any]) -> list[_Part]:
    """The parts of the item's window, one per version in force, as `slo_status` plans them."""
    i = item["objective_index"]
    start, end = _utc(item["window_start"]), _utc(item["window_end"])
    parts = []
    for version, a, b in segments(slo_versions(specs)[item["slo"]], start, end):
        spec = version.slo.spec
        if i >= len(spec.objectives):
            continue
        objective = spec.objectives[i]
        method = spec.budgetingMethod
        target = objective.timeSliceTarget
        indicator = resolve_indicator(specs.indicator(version.slo, i), spec.service)
        parts.append(_Part(spec.service, indicator, method, objective.timeSliceWindow,
                           _RATIO_SLICES if method == "RatioTimeslices" or target is None else target, a, b))
    return parts


def _events(store: Store, parts: Sequence[_Part]) -> ir.Table:
    """`(_part, ts, good, total)` of every part, each read over its own [start, end)."""
    tables = []
    for n, part in enumerate(parts):
        t = events_of(store, [part.indicator], part.start, part.end)
        t = t.filter(t.service == part.indicator.key[0], t.indicator == part.indicator.key[1])
        tables.append(t.select(_part=ibis.literal(n, "int64"), ts=t.ts.cast(_UTC), good=t.good, total=t.total))
    return ibis.union(*tables) if len(tables) > 1 else tables[0]


def _excluded(t: ir.Table, exclusions: Sequence[dict[str, Any]]) -> ir.IntegerValue:
    """The position of the first listed exclusion whose period holds the event's `ts`, -1 for none."""
    if not exclusions:
        return ibis.literal(-1, "int64")
    cases = [((t.ts >= ibis.timestamp(_utc(e["start"]))) & (t.ts < ibis.timestamp(_utc(e["end"]))), n)
             for n, e in enumerate(exclusions)]
    return ibis.cases(*cases, else_=-1)


def _units(kept: ir.Table, parts: Sequence[_Part]) -> ir.Table:
    """`(_from, _to, bad)`: spent budget per event bucket (`_to = _from`) or per slice `[_from, _to)`."""
    tables = []
    for n, part in enumerate(parts):
        t = kept.filter(kept._part == n)
        if part.method == "Occurrences":
            u = t.select(_from=t.ts, _to=t.ts, bad=t.total - t.good)
        else:
            assert part.slice_window is not None
            width = slice_seconds(part.slice_window)
            t = t.mutate(_slice=slice_start(t.ts, part.slice_window).cast(_UTC))
            s = t.group_by("_slice").aggregate(good=t.good.sum(), total=t.total.sum())
            s = s.filter(s.total > 0, s._slice >= ibis.timestamp(part.start))  # as the status: see above
            ratio = s.good / s.total
            bad = ((ratio < part.slice_target).cast("float64") if part.method == "Timeslices"
                   else 1.0 - ratio)
            u = s.select(_from=s._slice, _to=s._slice + ibis.interval(seconds=int(width)), bad=bad)
        tables.append(u.filter(u.bad > 0))
    return ibis.union(*tables) if len(tables) > 1 else tables[0]


def _incident_intervals(store: Store, services: list[str], start: datetime, end: datetime) -> ir.Table:
    t = store.table("incidents")
    t = t.filter(t.service.isin(services))
    begin, stop = incident_window(t, open_until=end)
    t = t.select(_label=t.incident_id, _begin=begin, _end=stop)
    t = t.filter(t._begin.notnull(), t._begin < ibis.timestamp(end), t._end > ibis.timestamp(start))
    return t.mutate(_order=ibis.row_number().over(order_by=[t._begin, t._label]))  # first started wins


def _deploy_intervals(store: Store, services: list[str], start: datetime, end: datetime, window: timedelta,
                      environments: Sequence[str], statuses: Sequence[str]) -> ir.Table:
    t = store.table("deployments")
    t = t.filter(t.service.isin(services), t.environment.isin(list(environments)), t.status.isin(list(statuses)))
    begin = t.started_at.cast(_UTC)
    t = t.select(_label=t.deployment_id, _begin=begin, _end=begin + ibis.interval(seconds=int(window.total_seconds())))
    t = t.filter(t._begin < ibis.timestamp(end), t._end > ibis.timestamp(start))
    return t.mutate(_order=ibis.row_number().over(order_by=[ibis.desc(t._begin), t._label]))  # latest wins


def _label(units: ir.Table, intervals: ir.Table, name: str) -> ir.Table:
    """`units` with column `name`: the label of the best-ranked interval holding the unit, else NULL.

    A point unit (`_to == _from`) is held when `_begin <= _from < _end`; a slice when it overlaps.
    """
    held = (units._from < intervals._end) & ((units._to > intervals._begin) | (units._from >= intervals._begin))
    j = units.join(intervals, held)
    best = j.group_by("_row").aggregate(**{name: j._label.argmin(j._order)})
    best = best.rename(**{f"{name}_row": "_row"})
    out = units.left_join(best, units._row == best[f"{name}_row"])
    return out.drop(f"{name}_row")


def budget_attribution(store: Store, specs: SloSet, items: Sequence[dict[str, Any]], *,
                       deploy_window: str = DEFAULT_DEPLOY_WINDOW, environments: Sequence[str] = PRODUCTION,
                       deploy_statuses: Sequence[str] = DEPLOY_STATUSES) -> list[Attribution]:
    """One `Attribution` per status item (`slo_status(...).items`), in their order (see the module docstring).

    Composite items (`objective: composite`, `objective_index` None) are skipped: each of their objectives has
    its own item, attributed on its own.
    """
    window = timedelta(seconds=duration_seconds(deploy_window))
    return [_attribute(store, specs, item, window, deploy_window, environments, deploy_statuses) for item in items
            if not is_composite_item(item)]


def is_composite_item(item: dict[str, Any]) -> bool:
    """A status item of a composite SLO's journey (the weighted mean of its objectives), not of one objective."""
    return item["objective_index"] is None


def _attribute(store: Store, specs: SloSet, item: dict[str, Any], window: timedelta, window_label: str,
               environments: Sequence[str], statuses: Sequence[str]) -> Attribution:
    method = item["budgeting_method"]
    allowed = item["error_budget"]["allowed"]
    base = dict(slo=item["slo"], service=item["service"], objective=item["objective"],
                objective_index=item["objective_index"], window=item["window"], window_start=item["window_start"],
                window_end=item["window_end"], budgeting_method=method, unit=unit_of(method), allowed=allowed,
                deploy_window=window_label)
    parts = _parts(specs, item)
    if not parts:
        return Attribution(**base, consumed=0.0)
    start, end = _utc(item["window_start"]), _utc(item["window_end"])
    listed = list(item.get("exclusions") or [])
    events = _events(store, parts)
    events = events.mutate(_x=_excluded(events, listed))
    removed = (events.filter(events._x >= 0).group_by("_x")
               .aggregate(good=events.good.sum(), total=events.total.sum()).order_by("_x").to_pyarrow().to_pylist())
    units = _units(events.filter(events._x < 0), parts)
    units = units.mutate(_row=ibis.row_number())
    services = sorted({item["service"], *(p.service for p in parts)})
    units = _label(units, _incident_intervals(store, services, start, end), "_incident")
    units = _label(units, _deploy_intervals(store, services, start, end, window, environments, statuses),
                   "_deployment")
    units = units.mutate(_deployment=ibis.ifelse(units._incident.isnull(), units._deployment,
                                                 ibis.null("string")))  # incident > deployment
    sums = (units.group_by("_incident", "_deployment").aggregate(consumed=units.bad.sum())
            .to_pyarrow().to_pylist())
    by_incident: dict[str, float] = {}
    by_deploy: dict[str, float] = {}
    unattributed = 0.0
    for row in sums:  # one row per incident or deployment: a small aggregate
        if row["_incident"] is not None:
            by_incident[row["_incident"]] = by_incident.get(row["_incident"], 0.0) + row["consumed"]
        elif row["_deployment"] is not None:
            by_deploy[row["_deployment"]] = by_deploy.get(row["_deployment"], 0.0) + row["consumed"]
        else:
            unattributed += row["consumed"]
    consumed = sum(by_incident.values()) + sum(by_deploy.values()) + unattributed
    incidents = _incident_rows(store, by_incident, consumed)
    deployments = _deploy_rows(store, by_deploy, consumed)
    exclusions = []
    for row in removed:
        e = listed[row["_x"]]
        bad = row["total"] - row["good"]
        exclusions.append({"source": e["source"], "reason": e.get("reason"), "start": e["start"], "end": e["end"],
                           "good": row["good"], "total": row["total"], "bad": bad,
                           "budget_removed": _ratio(bad, allowed) if method == "Occurrences" else None})
    return Attribution(**base, consumed=_round(consumed) or 0.0, incidents=incidents, deployments=deployments,
                       exclusions=exclusions, unattributed=_round(unattributed) or 0.0)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat()


def _incident_rows(store: Store, amounts: dict[str, float], consumed: float) -> list[dict]:
    if not amounts:
        return []
    t = store.table("incidents")
    t = t.filter(t.incident_id.isin(sorted(amounts)))
    start, end = incident_window(t, open_until=None)  # end NULL: still open
    rows = t.select("incident_id", "title", "severity", _start=start, _end=end).to_pyarrow().to_pylist()
    out = [{"incident_id": r["incident_id"], "title": r["title"], "severity": r["severity"],
            "start": _iso(r["_start"]), "end": _iso(r["_end"]), "open": r["_end"] is None,
            "consumed": _round(amounts[r["incident_id"]]), "share": _ratio(amounts[r["incident_id"]], consumed)}
           for r in rows]
    return sorted(out, key=lambda r: (-r["consumed"], r["incident_id"]))


def _deploy_rows(store: Store, amounts: dict[str, float], consumed: float) -> list[dict]:
    if not amounts:
        return []
    t = store.table("deployments")
    t = t.filter(t.deployment_id.isin(sorted(amounts)))
    rows = t.select("deployment_id", "status", "started_at", "is_rollback").to_pyarrow().to_pylist()
    out = [{"deployment_id": r["deployment_id"], "status": r["status"], "started_at": _iso(r["started_at"]),
            "is_rollback": bool(r["is_rollback"]), "consumed": _round(amounts[r["deployment_id"]]),
            "share": _ratio(amounts[r["deployment_id"]], consumed)} for r in rows]
    return sorted(out, key=lambda r: (-r["consumed"], r["deployment_id"]))
