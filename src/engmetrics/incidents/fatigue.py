"""Alert fatigue: how often, when and how usefully alerts interrupt people, per rule, team or rotation.

Which alerts: `alerts` rows with `fired_at` in [start, end) (either bound may be open). Flapping and
duplicates look at every alert, so an alert just before `start` can make the first one in the period flap.

Per group (the alert's `rule`, its `team`, or its rotation):

* rotation: the rotation of the responder's on-call shift holding `fired_at`; without a responder, the
  rotation on call for the alert's team (or its service's owning team) then; null otherwise (see
  `engmetrics.incidents.paging.with_oncall`, which also names the person each page interrupted).
* ``alerts``; ``shifts``: on-call shifts overlapping the period in the rotations the group's alerts were
  routed to; ``alerts_per_shift`` = alerts / shifts (null without shifts).
* ``acknowledged_share``: `acknowledged_at` set. ``actionable_share``: `incident_id` set or `actionable`
  true. ``auto_resolved_share``: `auto_resolved` true. Shares are of the group's alerts.
* ``flapping_share``: the same rule and service (a null service is one service) fired before, and this
  alert fired no later than `flapping_minutes` after that previous alert resolved, or after it fired when
  it never resolved (re-firing while the previous one is still open counts too).
* ``ack_to_resolve_ratio``: over alerts with `acknowledged_at <= resolved_at` (both set), the median seconds
  from acknowledgment to resolution divided by the median seconds from firing to acknowledgment (a ratio of
  medians, robust to the near-zero acknowledgment times that make per-alert ratios explode); null without
  such alerts or when the median time to acknowledge is 0. Well below 1: the alert waits for a human and
  then needs nothing; well above 1: acknowledging starts real work. Both medians are reported.
* ``duplicate_alerts``: alerts sharing an `incident_id` with an earlier alert (by `fired_at`, then
  `alert_id`), wherever that earlier alert falls.
* ``interruptions``: pages (`paging.is_page`: `urgency` not "low", null counts as a page) per band of the
  local time of the person paged (the responder, else the person on call): business, off, sleep (see
  `local_time`).

Fairness, per rotation: over the people with a shift in the rotation overlapping the period (zero pages
included), the Gini coefficient of pages per person and of sleep-band pages per person, each page counted
for the person it interrupted (the responder, or for an unanswered page the person on call). Only the Gini and
the number of people are reported, never a person; rotations with fewer than `min_group_size` people get
null Ginis and `status: "insufficient_group"`.

Recommendations, per rule (thresholds in `FatigueThresholds`, defaults below):

* "retire or downgrade": at least `min_alerts` (10) alerts and actionable share below 20 %;
* "add hysteresis / longer for:": at least `min_alerts` alerts and flapping share above 30 %;
* "route to a ticket, not a page": at least 3 sleep-band pages acknowledged and none of its sleep-band
  pages actionable.

With no alerts in the period the report has `status: "no_data"` and empty lists. ``warnings`` lists the
unknown time zones of `people`/`teams` (ignored: local time falls back to the team's zone, then UTC).

>>> gini([0, 0, 10])
0.6666666666666666
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import ibis
import numpy as np

from ..settings import IncidentSettings
from .local_time import BANDS, unknown_zones, with_local_band
from .paging import is_page, with_oncall

__all__ = ["GROUPINGS", "FatigueReport", "FatigueThresholds", "enriched_alerts", "fatigue_report", "gini",
           "group_items", "recommend", "rotation_fairness", "rotation_teams"]

Grouping = Literal["rule", "team", "rotation"]
GROUPINGS: tuple[str, ...] = ("rule", "team", "rotation")


@dataclass(frozen=True)
class FatigueThresholds:
    """When a rule earns a recommendation (documented defaults)."""

    min_alerts: int = 10
    retire_actionable_below: float = 0.20
    flapping_above: float = 0.30
    night_min_acknowledged: int = 3


@dataclass
class FatigueReport:
    """The result of `fatigue_report`; `to_dict()` is the CLI's `--json`."""

    by: str
    start: datetime | None
    end: datetime | None
    items: list[dict[str, Any]] = field(default_factory=list)
    fairness: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "ok" if self.items else "no_data"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, **asdict(self)}


def gini(values: list[float] | np.ndarray) -> float:
    """Gini coefficient of non-negative loads: mean absolute difference over twice the mean; 0 when all
    are equal (all zero included). Its maximum for n people is 1 - 1/n.

    >>> gini([3, 3, 3]), gini([0, 0, 0])
    (0.0, 0.0)
    """
    x = np.asarray(values, dtype=float)  # a rotation's per-person counts: a handful of numbers
    if x.size == 0 or x.sum() == 0:
        return 0.0
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size * x.sum()))


def _between(ts: ibis.Value, start: datetime | None, end: datetime | None) -> ibis.Value:
    cond = ibis.literal(True)
    if start is not None:
        cond &= ts >= start
    if end is not None:
        cond &= ts < end
    return cond


def _shifts(store, start: datetime | None, end: datetime | None) -> ibis.Table:
    """On-call shifts overlapping [start, end)."""
    s = store.table("oncall_shifts")
    cond = ibis.literal(True)
    if start is not None:
        cond &= s.end_at > start
    if end is not None:
        cond &= s.start_at < end
    return s.filter(cond)


def enriched_alerts(store, settings: IncidentSettings, start: datetime | None = None,
                    end: datetime | None = None) -> ibis.Table:
    """Alerts fired in [start, end) with `is_actionable`, `is_flapping`, `is_duplicate`, `is_page`,
    `rotation`, `paged`, `zone`, `home_team`, `local_at` and `band` (an Ibis expression)."""
    a = store.table("alerts")
    key = ibis.window(group_by=[a.rule, a.service], order_by=[a.fired_at, a.alert_id])
    previous = a.resolved_at.coalesce(a.fired_at).epoch_seconds().lag().over(key)
    by_incident = ibis.window(group_by=a.incident_id, order_by=[a.fired_at, a.alert_id])
    a = a.mutate(
        is_flapping=previous.notnull() & (a.fired_at.epoch_seconds() - previous <= settings.flapping_minutes * 60),
        is_duplicate=a.incident_id.notnull() & (ibis.row_number().over(by_incident) > 0),
        is_actionable=a.incident_id.notnull() | a.actionable.fill_null(False),
        is_page=is_page(a),
    )
    a = a.filter(_between(a.fired_at, start, end))
    return with_local_band(store, with_oncall(store, a), business_hours=settings.business_hours,
                           sleep_hours=settings.sleep_hours, person="paged")


def _counts(alerts: ibis.Table, by: str) -> ibis.Table:
    """Per group: counts, band counts and the two medians (the heavy part, in the engine)."""
    # null unless acknowledged_at <= resolved_at are both set (`median(where=)` does not compile on PySpark)
    ack = alerts.acknowledged_at.epoch_seconds()
    timed = alerts.resolved_at >= alerts.acknowledged_at
    t = alerts.mutate(_ack=ibis.ifelse(timed, ack - alerts.fired_at.epoch_seconds(), ibis.null("int64")),
                      _work=ibis.ifelse(timed, alerts.resolved_at.epoch_seconds() - ack, ibis.null("int64")))
    sleep_page = t.is_page & (t.band == "sleep")
    return t.group_by(_key=t[by]).aggregate(
        alerts=t.count(), acknowledged=t.count(where=t.acknowledged_at.notnull()),
        actionable=t.count(where=t.is_actionable), auto_resolved=t.count(where=t.auto_resolved.fill_null(False)),
        flapping=t.count(where=t.is_flapping), duplicate_alerts=t.count(where=t.is_duplicate),
        median_ack_seconds=t._ack.median(), median_work_seconds=t._work.median(),
        sleep_pages_acknowledged=t.count(where=sleep_page & t.acknowledged_at.notnull()),
        sleep_pages_actionable=t.count(where=sleep_page & t.is_actionable),
        **{f"_band_{b}": t.count(where=t.is_page & (t.band == b)) for b in BANDS})


def _shift_counts(store, alerts: ibis.Table, by: str, start: datetime | None, end: datetime | None) -> ibis.Table:
    per_rotation = _shifts(store, start, end).group_by(_rot="rotation").aggregate(_n=lambda s: s.count())
    pairs = alerts.select(_key=alerts[by], _rot=alerts.rotation).distinct()
    joined = pairs.join(per_rotation, "_rot")
    return joined.group_by("_key").aggregate(shifts=joined._n.sum())


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _item(row: dict[str, Any], by: str) -> dict[str, Any]:
    n, shifts = row["alerts"], row["shifts"]
    ack, work = row["median_ack_seconds"], row["median_work_seconds"]
    return {
        by: row["_key"], "alerts": n, "shifts": shifts, "alerts_per_shift": _share(n, shifts or 0),
        **{f"{k}_share": _share(row[k], n) for k in ("acknowledged", "actionable", "auto_resolved", "flapping")},
        "median_ack_seconds": ack, "median_work_seconds": work,
        "ack_to_resolve_ratio": work / ack if ack else None, "duplicate_alerts": row["duplicate_alerts"],
        "interruptions": {b: row[f"_band_{b}"] for b in BANDS},
        "sleep_pages_acknowledged": row["sleep_pages_acknowledged"],
        "sleep_pages_actionable": row["sleep_pages_actionable"],
    }


def group_items(store, alerts: ibis.Table, by: str, start: datetime | None = None,
                end: datetime | None = None) -> list[dict[str, Any]]:
    """One item per group of the enriched alerts, most alerts first (see the module doc for the fields)."""
    counts = _counts(alerts, by)
    joined = counts.left_join(_shift_counts(store, alerts, by, start, end), "_key")
    rows = joined.select(*counts.columns, "shifts").to_pyarrow().to_pylist()
    items = [_item(r, by) for r in rows]
    return sorted(items, key=lambda i: (-i["alerts"], i[by] is None, i[by] or ""))


def rotation_fairness(store, alerts: ibis.Table, start: datetime | None, end: datetime | None,
                      min_group_size: int) -> list[dict[str, Any]]:
    """Per rotation: people on call, pages, and the Gini of pages and of sleep pages per person."""
    oncall = _shifts(store, start, end).select("rotation", "person").distinct()
    pages = alerts.filter(alerts.is_page & alerts.rotation.notnull())
    loads = pages.group_by(_rot="rotation", _person="paged").aggregate(
        _pages=pages.count(), _sleep=pages.count(where=pages.band == "sleep"))
    joined = oncall.left_join(loads, [oncall.rotation == loads._rot, oncall.person == loads._person])
    rows = joined.select("rotation", pages=joined._pages.fill_null(0), sleep=joined._sleep.fill_null(0))
    table = rows.order_by("rotation").to_pyarrow().to_pylist()  # one row per person on call: small
    out = []
    for rotation in sorted({r["rotation"] for r in table}):
        mine = [r for r in table if r["rotation"] == rotation]
        enough = len(mine) >= min_group_size
        out.append({"rotation": rotation, "people": len(mine), "pages": sum(r["pages"] for r in mine),
                    "status": "ok" if enough else "insufficient_group",
                    "gini_pages": gini([r["pages"] for r in mine]) if enough else None,
                    "gini_sleep": gini([r["sleep"] for r in mine]) if enough else None})
    return out


def rotation_teams(store) -> dict[str, set[str]]:
    """Rotation -> the teams of its shifts (`oncall_shifts.team`, nulls skipped): whose rotation it is."""
    pairs = store.table("oncall_shifts").select("rotation", "team").distinct().to_pyarrow().to_pylist()
    out: dict[str, set[str]] = {}
    for p in pairs:  # one row per (rotation, team): a handful
        out.setdefault(p["rotation"], set()).update([p["team"]] if p["team"] is not None else [])
    return out


def recommend(rule_items: list[dict[str, Any]], thresholds: FatigueThresholds = FatigueThresholds()
              ) -> list[dict[str, Any]]:
    """Rules to retire or tune, with the evidence that triggered each action (see the module doc)."""
    out = []
    for i in rule_items:
        n = i["alerts"]
        if n >= thresholds.min_alerts and i["actionable_share"] < thresholds.retire_actionable_below:
            out.append({"rule": i["rule"], "action": "retire or downgrade",
                        "evidence": {"alerts": n, "actionable_share": i["actionable_share"]}})
        if n >= thresholds.min_alerts and i["flapping_share"] > thresholds.flapping_above:
            out.append({"rule": i["rule"], "action": "add hysteresis / longer for:",
                        "evidence": {"alerts": n, "flapping_share": i["flapping_share"]}})
        if i["sleep_pages_acknowledged"] >= thresholds.night_min_acknowledged and not i["sleep_pages_actionable"]:
            out.append({"rule": i["rule"], "action": "route to a ticket, not a page",
                        "evidence": {"sleep_pages_acknowledged": i["sleep_pages_acknowledged"],
                                     "sleep_pages_actionable": 0}})
    return out


def fatigue_report(store, settings: IncidentSettings, *, by: Grouping = "rule", start: datetime | None = None,
                   end: datetime | None = None, min_group_size: int = 5,
                   thresholds: FatigueThresholds = FatigueThresholds()) -> FatigueReport:
    """Items per `by` group, fairness per rotation and per-rule recommendations for alerts in [start, end)."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    # not `.cache()`d: ibis's PySpark backend caches without registering the offset memtable first
    alerts = enriched_alerts(store, settings, start, end)
    report = FatigueReport(by, start, end, warnings=[
        f"unknown time zone {z!r} in people.timezone or teams.timezone: ignored (the team's zone, else UTC)"
        for z in unknown_zones(store)])
    report.items = group_items(store, alerts, by, start, end)
    if not report.items:
        return report
    rules = report.items if by == "rule" else group_items(store, alerts, "rule", start, end)
    report.recommendations = recommend(rules, thresholds)
    report.fairness = rotation_fairness(store, alerts, start, end, min_group_size)
    return report
