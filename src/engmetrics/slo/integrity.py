"""`engmetrics slo integrity`: signs that an SLO's definition or its exclusions were bent to look better.

Each finding has a `rule`, the `slo` and `service` it is about, a `severity` (`warning` or `error`), a
`message` and the concrete `evidence` (versions and dates, numbers before and after, incident and window
ids). Only versions in force by `at` are looked at (a version due later has no history to judge yet).

Rules, with what makes a finding an `error` rather than a `warning`:

- `definition-improves-past`: a new version, applied to the window that ended at its effective date, shows
  a higher remaining budget (or, when a budget is unknown, a higher SLI) than the old version over that
  window. Error: the old version had no budget left there and the new one has some.
- `changed-after-breach`: a version changes a target, a `timeSliceTarget` or the time windows within
  `breach_days` (14) days after the old definition's budget was exhausted. Error: a target is lowered.
- `maintenance-overlaps-incident`: a maintenance window (or a spec correction) overlaps an incident of the
  SLO's service. Error: it covers the whole incident.
- `exclusions-share`: exclusions remove more than `exclusion_share` (10 %) of the budget of a current
  window. Error: the budget left minus that share is <= 0 (the exclusions are what keep budget left).
- `target-lowered-repeatedly`: an objective's target is lowered in `min_lowerings` (2) or more successive
  versions. Always a warning.
- `alerts-disabled-while-burning`: a version drops alert policies (or the severities their conditions
  alert on) or alert-table tiers, or raises a tier's budget share, while the budget burns: always an
  error. A Sloth SLO with its page alert disabled: a warning.

How each is computed:

- Both definitions of `definition-improves-past` are recomputed by `slo_status` at the change instant with
  the `effective-from` annotation removed, so each judges the whole window; items are paired by objective
  and by position among that objective's windows (so `28d` may be paired with `7d` when the window changed).
- `changed-after-breach` judges the SLO as it was before the change (the older versions, as they were in
  force) at the change instant and at each whole day before it, back `breach_days` days: a daily
  approximation. Exhausted means some objective and window had `remaining <= 0`. The evidence names the
  latest such evaluation point.
- Incidents last from `impact_started_at` (else `declared_at`) to `resolved_at` (else `mitigated_at`, else
  `at`: `engmetrics.slo.incidents_window`, as budget attribution and the backtest read them); an exclusion
  overlaps when it starts before the incident ends and ends after it starts. A maintenance window of the
  SLO's service (that of the spec or of its `sli_events` indicator) or of `*` is reported once per SLO of
  that service; a spec correction only while a version declaring it is in force (its periods clipped to
  `[version's date, next version's date)`), once per SLO for consecutive versions repeating it.
- `exclusions-share` adds the `budget_removed` of each item's exclusions in `slo status` at `at`
  (Occurrences only: the slice methods do not report it). `remaining_minus_removed` is the budget left
  minus that share: the excluded bad events charged to the same allowance.
- Burning: the old definition's burn rate over `burn_window` (1d) at the change instant is above
  `burn_threshold` (1), or the SLO's budget left at `at` is below `remaining_threshold` (0.5). Sloth SLOs
  read Prometheus, so their burn is not computed: a disabled page alert is reported as a warning.

The command (`engmetrics.cli.slo_integrity`) exits 1 when any finding is an `error`, else 0.

>>> successive_lowerings([0.999, 0.995, 0.99, 0.995, 0.99])
[(0, 2), (3, 4)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import ibis

from ..durations import duration_seconds
from ..timeutil import as_utc
from . import openslo
from .alerting import DEFAULT_TABLE, AlertTable, table_from_sloth
from .exclusions import ALL_SERVICES, Exclusion, correction_periods, maintenance_periods
from .incidents_window import incident_window
from .loader import SloSet, SpecDocument
from .openslo import V1AlphaSLO
from .resolve import NotComputable, resolve_indicator
from .sloth import AlertWindows, SlothSpec
from .status import slo_status
from .versions import EFFECTIVE_FROM, SloVersion, segments, slo_versions

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["RULES", "Finding", "integrity", "successive_lowerings"]

RULES = ("definition-improves-past", "changed-after-breach", "maintenance-overlaps-incident", "exclusions-share",
         "target-lowered-repeatedly", "alerts-disabled-while-burning")
Severity = Literal["warning", "error"]
_EPS = 1e-9


@dataclass(frozen=True)
class Finding:
    """One integrity finding; `evidence` holds JSON-ready values (ISO strings for instants)."""

    rule: str
    slo: str
    service: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- helpers --------------------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _round(value: float | None, digits: int = 9) -> float | None:
    return None if value is None else round(value, digits)


def successive_lowerings(targets: list[float]) -> list[tuple[int, int]]:
    """(first, last) indexes of each maximal run of versions whose target falls at every step."""
    runs, start = [], 0
    for i in range(1, len(targets) + 1):
        if i < len(targets) and targets[i] < targets[i - 1] - _EPS:
            continue
        if i - 1 > start:
            runs.append((start, i - 1))
        start = i
    return runs


def _support(specs: SloSet) -> list[SpecDocument]:
    """Every document but SLOs and Sloth specs: SLIs, alert windows and policies, services, data sources."""
    return [d for d in specs.documents if not isinstance(d.model, openslo.SLO | SlothSpec | V1AlphaSLO)]


def _timeless(doc: SpecDocument) -> SpecDocument:
    """The document without its effective-from annotation: in force over all history."""
    model = doc.model.model_copy(deep=True)
    model.metadata.annotations.pop(EFFECTIVE_FROM, None)
    return dataclasses.replace(doc, model=model)


def _window_label(window: openslo.TimeWindow) -> str:
    return f"{window.duration} {'rolling' if window.isRolling else 'calendar'}"


def _by_objective(items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(item["objective_index"], []).append(item)
    return grouped


def _pairs(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> Iterator[tuple[dict, dict]]:
    """Items of two definitions paired by objective index and window position."""
    old, new = _by_objective(before), _by_objective(after)
    for index in sorted(old.keys() & new.keys()):
        yield from zip(old[index], new[index], strict=False)


@dataclass
class _Context:
    store: Store
    specs: SloSet
    at: datetime
    zone: str
    min_events: float
    warning_remaining: float
    _cache: dict[tuple[tuple[int, ...], datetime], list[dict[str, Any]]] = field(default_factory=dict)
    _timeless: dict[int, SpecDocument] = field(default_factory=dict)

    def timeless(self, doc: SpecDocument) -> SpecDocument:
        """`doc` without its effective-from annotation (one copy per document, so statuses are cached)."""
        if id(doc.model) not in self._timeless:
            self._timeless[id(doc.model)] = _timeless(doc)
        return self._timeless[id(doc.model)]

    def status(self, docs: list[SpecDocument], at: datetime) -> list[dict[str, Any]]:
        """`slo_status` items of these SLO documents (with every supporting document) at `at`."""
        key = (tuple(id(d.model) for d in docs), at)
        if key not in self._cache:
            subset = SloSet(documents=[*_support(self.specs), *docs])
            report = slo_status(self.store, subset, at, zone=self.zone, min_events=self.min_events,
                                warning_remaining=self.warning_remaining)
            self._cache[key] = report.items
        return self._cache[key]


@dataclass(frozen=True)
class _Change:
    """One version following another: `old` was in force until `new.since`."""

    name: str
    versions: list[SloVersion]
    index: int  # of `new` in `versions`

    @property
    def old(self) -> SloVersion:
        return self.versions[self.index - 1]

    @property
    def new(self) -> SloVersion:
        return self.versions[self.index]

    @property
    def when(self) -> datetime:
        assert self.new.since is not None
        return self.new.since

    @property
    def service(self) -> str:
        return self.new.slo.spec.service

    def base(self) -> dict[str, Any]:
        return {"version_before": _iso(self.old.since), "version_after": _iso(self.when)}


def _changes(ctx: _Context) -> Iterator[_Change]:
    for name, versions in slo_versions(ctx.specs).items():
        current = [v for v in versions if v.since is None or v.since <= ctx.at]
        for i in range(1, len(current)):
            if current[i].since is not None:
                yield _Change(name, current, i)


# --- rule 1: definition-improves-past -------------------------------------------------------------------

def _improves_past(ctx: _Context, change: _Change) -> Iterator[Finding]:
    before = ctx.status([ctx.timeless(change.old.document)], change.when)
    after = ctx.status([ctx.timeless(change.new.document)], change.when)
    for old, new in _pairs(before, after):
        r_old, r_new = old["error_budget"]["remaining"], new["error_budget"]["remaining"]
        if r_old is not None and r_new is not None:
            better, what = r_new > r_old + _EPS, f"budget left {_pct(r_old)} -> {_pct(r_new)}"
        elif old["sli"] is not None and new["sli"] is not None:
            better, what = new["sli"] > old["sli"] + _EPS, f"SLI {_pct(old['sli'])} -> {_pct(new['sli'])}"
        else:
            continue
        if not better:
            continue
        hides_breach = r_old is not None and r_old <= 0 and r_new is not None and r_new > 0
        yield Finding(
            "definition-improves-past", change.name, change.service, "error" if hides_breach else "warning",
            f"the version of {change.when.date()} judges the window before it better than the old one did: "
            f"{what} (objective {new['objective']}, window {old['window']} -> {new['window']})"
            + ("; the breach disappears" if hides_breach else ""),
            {**change.base(), "objective": new["objective"], "objective_index": new["objective_index"],
             "window_before": old["window"], "window_after": new["window"],
             "window_start_before": old["window_start"], "window_start_after": new["window_start"],
             "window_end": new["window_end"], "target_before": old["target"], "target_after": new["target"],
             "sli_before": old["sli"], "sli_after": new["sli"], "remaining_before": r_old, "remaining_after": r_new})


# --- rule 2: changed-after-breach -----------------------------------------------------------------------

def _definition_changes(old: openslo.SLOSpec, new: openslo.SLOSpec) -> list[dict[str, Any]]:
    """What changed among targets, slice targets and time windows."""
    found: list[dict[str, Any]] = []
    windows = [_window_label(w) for w in old.timeWindow], [_window_label(w) for w in new.timeWindow]
    if [w.model_dump() for w in old.timeWindow] != [w.model_dump() for w in new.timeWindow]:
        found.append({"what": "timeWindow", "objective_index": None, "before": windows[0], "after": windows[1]})
    for i, (a, b) in enumerate(zip(old.objectives, new.objectives, strict=False)):
        for name in ("target", "timeSliceTarget"):
            x, y = getattr(a, name), getattr(b, name)
            if x != y:
                found.append({"what": name, "objective_index": i, "before": x, "after": y})
    return found


def _loosens(changes: list[dict[str, Any]]) -> bool:
    return any(c["what"] != "timeWindow" and c["before"] is not None and (c["after"] is None
               or c["after"] < c["before"]) for c in changes)


def _changed_after_breach(ctx: _Context, change: _Change, days: int) -> Iterator[Finding]:
    changes = _definition_changes(change.old.slo.spec, change.new.slo.spec)
    if not changes:
        return
    history = [v.document for v in change.versions[:change.index]]
    for back in range(days + 1):
        point = change.when - timedelta(days=back)
        breached = [i for i in ctx.status(history, point)
                    if i["error_budget"]["remaining"] is not None and i["error_budget"]["remaining"] <= 0]
        if not breached:
            continue
        item = breached[0]
        said = ", ".join(f"{c['what']} {c['before']} -> {c['after']}" for c in changes)
        yield Finding(
            "changed-after-breach", change.name, change.service, "error" if _loosens(changes) else "warning",
            f"changed on {change.when.date()} ({said}) {back} day(s) after its budget was exhausted "
            f"(objective {item['objective']}, window {item['window']}: {_pct(item['error_budget']['remaining'])} "
            f"left on {point.date()})",
            {**change.base(), "changes": changes, "exhausted_at": _iso(point), "days_before_change": back,
             "objective": item["objective"], "objective_index": item["objective_index"], "window": item["window"],
             "remaining_at_breach": item["error_budget"]["remaining"], "state_at_breach": item["state"],
             "lookback_days": days})
        return


# --- rule 3: maintenance-overlaps-incident --------------------------------------------------------------

def _slo_services(specs: SloSet, versions: list[SloVersion]) -> set[str]:
    """The SLO's services: that of each version's spec and of its `sli_events` indicators."""
    services: set[str] = set()
    for version in versions:
        services.add(version.slo.spec.service)
        for i, _ in enumerate(version.slo.spec.objectives):
            try:
                indicator = resolve_indicator(specs.indicator(version.slo, i), version.slo.spec.service)
            except NotComputable:
                continue
            services.add(indicator.key[0])
    return services


def _incidents(store: Store, services: set[str], at: datetime) -> list[dict[str, Any]]:
    """The incidents of `services` that started before `at`, each `[start, end)` cut at `at`."""
    t = store.table("incidents")
    t = t.filter(t.service.isin(sorted(services)))
    start, end = incident_window(t, open_until=at)
    t = t.select("incident_id", "service", "severity", "impact_started_at", "declared_at", "mitigated_at",
                 "resolved_at", start=start, end=end)
    t = t.filter(t.start.notnull(), t.start < ibis.timestamp(at), t.end > t.start)
    rows = t.order_by("incident_id").to_pyarrow().to_pylist()
    return [{**row, "start": as_utc(row["start"]), "end": min(as_utc(row["end"]), at)} for row in rows]


_ALWAYS = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def _corrections(versions: list[SloVersion]) -> Iterator[tuple[int, Any, SloVersion, datetime, datetime]]:
    """(index, correction, version, from, until): each spec correction with the time [from, until) a version
    declaring it is in force; consecutive versions repeating a correction give one stretch, named by the first
    of them."""
    runs: list[list[Any]] = []  # [index, correction, version, from, until]
    for version, a, b in segments(versions, *_ALWAYS):
        for i, correction in enumerate(version.slo.spec.corrections):
            run = next((r for r in runs if r[1] == correction and r[4] == a), None)
            if run is not None:  # the same correction copied into the next version
                run[4] = b
            else:
                runs.append([i, correction, version, a, b])
    for i, correction, version, a, b in runs:
        yield i, correction, version, a, b


def _overlap_finding(name: str, exclusion: Exclusion, incident: dict[str, Any],
                     extra: dict[str, Any]) -> Finding:
    begin, stop = max(exclusion.start, incident["start"]), min(exclusion.end, incident["end"])
    covers = exclusion.start <= incident["start"] and exclusion.end >= incident["end"]
    minutes = round((stop - begin).total_seconds() / 60, 3)
    label = f"maintenance window {extra['window_id']}" if "window_id" in extra else exclusion.source
    return Finding(
        "maintenance-overlaps-incident", name, incident["service"], "error" if covers else "warning",
        f"{label} ({exclusion.start:%Y-%m-%d %H:%M}-{exclusion.end:%Y-%m-%d %H:%M}) "
        f"{'covers' if covers else 'overlaps'} incident {incident['incident_id']} "
        f"({incident['start']:%Y-%m-%d %H:%M}-{incident['end']:%Y-%m-%d %H:%M}) by {minutes:g} min",
        {"source": exclusion.source, **extra, "exclusion_start": _iso(exclusion.start),
         "exclusion_end": _iso(exclusion.end), "reason": exclusion.reason, "approved_by": exclusion.approved_by,
         "incident_id": incident["incident_id"], "incident_severity": incident["severity"],
         "incident_start": _iso(incident["start"]), "incident_end": _iso(incident["end"]),
         "overlap_minutes": minutes, "covers_incident": covers})


def _overlaps(ctx: _Context) -> Iterator[Finding]:
    slos = slo_versions(ctx.specs)
    services = {name: _slo_services(ctx.specs, versions) for name, versions in slos.items()}
    incidents = _incidents(ctx.store, set().union(*services.values()), ctx.at) if services else []
    if not incidents:
        return
    first, last = min(i["start"] for i in incidents), max(i["end"] for i in incidents)
    windows = maintenance_periods(ctx.store, set().union(*services.values()), first, last)

    def touching(exclusion: Exclusion, incident: dict[str, Any]) -> bool:
        return exclusion.start < incident["end"] and exclusion.end > incident["start"]

    for name, versions in slos.items():
        mine = [i for i in incidents if i["service"] in services[name]]
        for window in windows:
            if window.service != ALL_SERVICES and window.service not in services[name]:
                continue
            window_id = window.source.removeprefix("maintenance_windows:")
            for incident in mine:
                if touching(window, incident):
                    yield _overlap_finding(name, window, incident, {"window_id": window_id})
        for i, correction, version, begin, stop in _corrections(versions):
            if max(begin, first) >= min(stop, last):
                continue
            source = f"slo:{name}:corrections[{i}]"
            for period in correction_periods(correction, source, max(begin, first), min(stop, last),
                                             version.slo.spec.service):
                # only while a version declaring it is in force: clipped to [begin, stop)
                period = dataclasses.replace(period, start=max(period.start, begin), end=min(period.end, stop))
                for incident in mine:
                    if touching(period, incident):
                        yield _overlap_finding(name, period, incident, {"version": _iso(version.since)})


# --- rule 4: exclusions-share ---------------------------------------------------------------------------

def _exclusions_share(items: list[dict[str, Any]], share: float) -> Iterator[Finding]:
    for item in items:
        parts = [e for e in item["exclusions"] if e["budget_removed"] is not None]
        removed = sum(e["budget_removed"] for e in parts)
        if removed <= share + _EPS:
            continue
        remaining = item["error_budget"]["remaining"]
        left = _round(remaining - removed) if remaining is not None else None
        yield Finding(
            "exclusions-share", item["slo"], item["service"], "error" if left is not None and left <= 0 else "warning",
            f"exclusions removed {_pct(removed)} of the budget of objective {item['objective']}, window "
            f"{item['window']} (more than {_pct(share)}); budget left {_pct(remaining)}, "
            f"{_pct(left)} with the excluded bad events counted",
            {"objective": item["objective"], "objective_index": item["objective_index"], "window": item["window"],
             "window_start": item["window_start"], "window_end": item["window_end"], "threshold": share,
             "budget_removed": _round(removed), "remaining": remaining, "remaining_minus_removed": left,
             "exclusions": [{k: e[k] for k in ("source", "reason", "approved_by", "start", "end", "bad", "total",
                                                "budget_removed")} for e in parts]})


# --- rule 5: target-lowered-repeatedly ------------------------------------------------------------------

def _lowered_repeatedly(ctx: _Context, minimum: int) -> Iterator[Finding]:
    for name, versions in slo_versions(ctx.specs).items():
        current = [v for v in versions if v.since is None or v.since <= ctx.at]
        count = max((len(v.slo.spec.objectives) for v in current), default=0)
        for index in range(count):
            chain = [v for v in current if index < len(v.slo.spec.objectives)]
            targets = [v.slo.spec.objectives[index].target for v in chain]
            for first, last in successive_lowerings(targets):  # type: ignore[arg-type]
                if last - first < minimum:
                    continue
                run = [{"since": _iso(v.since), "target": t}
                       for v, t in zip(chain[first:last + 1], targets[first:last + 1], strict=True)]
                yield Finding(
                    "target-lowered-repeatedly", name, chain[last].slo.spec.service, "warning",
                    f"objective {index} lowered in {last - first} successive versions: "
                    + " -> ".join(f"{r['target']} ({(r['since'] or 'always')[:10]})" for r in run),
                    {"objective_index": index, "lowerings": last - first, "versions": run})


# --- rule 6: alerts-disabled-while-burning --------------------------------------------------------------

def _policies(specs: SloSet, slo: openslo.SLO) -> dict[str, set[str]]:
    """Alert policies by name, each with the severities of its conditions."""
    found: dict[str, set[str]] = {}
    for ref in slo.spec.alertPolicies:
        if isinstance(ref, openslo.AlertPolicyRef):
            doc = specs.find(openslo.AlertPolicy, ref.alertPolicyRef)
            name, policy = ref.alertPolicyRef, doc.model.spec if doc else None
        else:
            name, policy = ref.metadata.name, ref.spec
        severities: set[str] = set()
        for cond in policy.conditions if policy else []:
            if isinstance(cond, openslo.ConditionRef):
                found_cond = specs.find(openslo.AlertCondition, cond.conditionRef)
                if found_cond:
                    severities.add(found_cond.model.spec.severity)
            else:
                severities.add(cond.spec.severity)
        found[name] = severities
    return found


def _table(specs: SloSet, name: str) -> AlertTable | None:
    if name == DEFAULT_TABLE.name:
        return DEFAULT_TABLE
    doc = next((d.model for d in specs.of(AlertWindows) if d.model.name == name), None)
    return table_from_sloth(doc) if doc else None


def _weaker_tiers(specs: SloSet, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Tiers of the old item's alert table missing from the new one, or needing a larger budget share."""
    before, after = _table(specs, old["alert_table"]), _table(specs, new["alert_table"])
    if before is None or after is None:
        return []
    found = []
    for i, tier in enumerate(before.tiers):
        other = after.tiers[i] if i < len(after.tiers) else None
        if other is None or other.severity != tier.severity:
            found.append({"severity": tier.severity, "long_window": tier.long_window, "removed": True})
        elif other.budget_share > tier.budget_share + _EPS:
            found.append({"severity": tier.severity, "long_window": tier.long_window, "removed": False,
                          "budget_share_before": tier.budget_share, "budget_share_after": other.budget_share})
    return found


def _alerts_disabled(ctx: _Context, change: _Change, now: list[dict[str, Any]], burn_window: str,
                     burn_threshold: float, remaining_threshold: float) -> Iterator[Finding]:
    old_policies = _policies(ctx.specs, change.old.slo)
    new_policies = _policies(ctx.specs, change.new.slo)
    dropped = sorted(old_policies.keys() - new_policies.keys())
    severities = sorted(set().union(*old_policies.values()) - set().union(*new_policies.values()))
    before = ctx.status([ctx.timeless(change.old.document)], change.when)
    after = ctx.status([ctx.timeless(change.new.document)], change.when)
    tiers = [t for old, new in _pairs(before, after) for t in _weaker_tiers(ctx.specs, old, new)]
    tiers = [t for i, t in enumerate(tiers) if t not in tiers[:i]]
    if not (dropped or severities or tiers):
        return
    history = ctx.status([v.document for v in change.versions[:change.index]], change.when)
    rates = [i["burn_rates"].get(burn_window) for i in history]
    rate = max((r for r in rates if r is not None), default=None)
    lefts = [i["error_budget"]["remaining"] for i in now if i["slo"] == change.name]
    left = min((r for r in lefts if r is not None), default=None)
    burning = rate is not None and rate > burn_threshold
    low = left is not None and left < remaining_threshold
    if not (burning or low):
        return
    what = [*(f"alert policy {p}" for p in dropped), *(f"{s} alerts" for s in severities),
            *(f"{t['severity']} tier {t['long_window']} {'removed' if t['removed'] else 'loosened'}" for t in tiers)]
    why = [*([f"burn rate {rate:g} over {burn_window} at the change"] if burning else []),
           *([f"{_pct(left)} of the budget left now"] if low else [])]
    yield Finding(
        "alerts-disabled-while-burning", change.name, change.service, "error",
        f"the version of {change.when.date()} drops {', '.join(what)} while the budget burns ({'; '.join(why)})",
        {**change.base(), "dropped_policies": dropped, "dropped_severities": severities, "weakened_tiers": tiers,
         "burn_window": burn_window, "burn_rate_at_change": rate, "burn_threshold": burn_threshold,
         "remaining_now": left, "remaining_threshold": remaining_threshold})


def _sloth_pages_disabled(specs: SloSet) -> Iterator[Finding]:
    for doc in specs.sloth_specs:
        for slo in doc.model.slos:
            if slo.alerting.page_alert.disable:
                yield Finding(
                    "alerts-disabled-while-burning", f"{doc.name}-{slo.name}", doc.model.service, "warning",
                    f"Sloth SLO {slo.name!r} has its page alert disabled (its burn is not computed here: "
                    "Sloth SLOs read Prometheus)",
                    {"file": doc.file, "page_alert_disabled": True,
                     "ticket_alert_disabled": slo.alerting.ticket_alert.disable})


# --- entry point ----------------------------------------------------------------------------------------

def integrity(store: Store, specs: SloSet, at: datetime | None = None, *, zone: str = "UTC",
              min_events: float = 100, warning_remaining: float = 0.25, breach_days: int = 14,
              exclusion_share: float = 0.10, min_lowerings: int = 2, burn_window: str = "1d",
              burn_threshold: float = 1.0, remaining_threshold: float = 0.5,
              rules: Iterable[str] | None = None) -> list[Finding]:
    """Every integrity finding at `at` (default: now, to the minute), ordered by SLO, then rule.

    `rules` limits the check to some of `RULES`; the other parameters are described in the module.
    """
    wanted = set(RULES if rules is None else rules)
    if unknown := wanted - set(RULES):
        raise ValueError(f"unknown integrity rule(s): {', '.join(sorted(unknown))}")
    if breach_days < 0 or min_lowerings < 1:
        raise ValueError("breach_days must be >= 0 and min_lowerings >= 1")
    duration_seconds(burn_window)  # raises on a malformed window
    at = as_utc(at or datetime.now(UTC).replace(second=0, microsecond=0))
    ctx = _Context(store, specs, at, zone, min_events, warning_remaining)
    now = ctx.status(specs.slos, at) if wanted & {"exclusions-share", "alerts-disabled-while-burning"} else []
    checks: dict[str, Callable[[], Iterable[Finding]]] = {
        "definition-improves-past": lambda: (f for c in _changes(ctx) for f in _improves_past(ctx, c)),
        "changed-after-breach": lambda: (f for c in _changes(ctx) for f in _changed_after_breach(ctx, c, breach_days)),
        "maintenance-overlaps-incident": lambda: _overlaps(ctx),
        "exclusions-share": lambda: _exclusions_share(now, exclusion_share),
        "target-lowered-repeatedly": lambda: _lowered_repeatedly(ctx, min_lowerings),
        "alerts-disabled-while-burning": lambda: [
            *(f for c in _changes(ctx)
              for f in _alerts_disabled(ctx, c, now, burn_window, burn_threshold, remaining_threshold)),
            *_sloth_pages_disabled(specs)],
    }
    findings = [f for rule in RULES if rule in wanted for f in checks[rule]()]
    return sorted(findings, key=lambda f: (f.slo, RULES.index(f.rule)))
