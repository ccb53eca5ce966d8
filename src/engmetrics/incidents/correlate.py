"""Evidence around one incident: deploys, metric shifts, first alerts and similar past incidents, ranked.

Every item has `kind`, `offset_seconds` (its instant minus the impact start: `impact_started_at`, else
`declared_at`, as `engmetrics.slo.incidents_window`; negative = before), `score` in [0, 1] and `detail`.
Items are sorted by score (highest first), then kind in the order below, then closeness to the impact start.
`W` is the window in hours (`settings.incidents.deploy_window_hours`) and ``tau = W / 2`` (`TAU_FRACTION`):
closeness ``c(d) = exp(-|d| / tau)`` of an instant `d` away from the impact start decays slowly (1 at the
start, 0.61 at W / 4, 0.37 at W / 2, 0.14 at W).

Scores form tiers: a deploy is a possible **cause** and scores in [0.5, 0.95] (an explicit cause 1.0); a
metric shift or an alert is a **symptom** that dates the problem and a similar incident is a hint, both
below 0.5. Within deploys the outcome outweighs closeness: a failed deploy an hour before ranks above a
successful one a minute before.

- ``deployment``: production deploys (any status) of the incident's service and of its dependencies in both
  directions of `services.depends_on` (it calls them: ``depends_on``; they call it: ``dependent``) that
  started in ``[start - W, start]``. Score = ``0.5 + 0.45 x relation x (0.6 x failed + 0.4 x c(d))`` where
  relation is 1 for the same service and 0.5 for a dependency, failed is 1 for a deploy whose status is
  ``failure`` or that was rolled back (the next deploy of the same service and environment is a rollback),
  else 0, and `d` = start - started_at. The incident's `caused_by_deployment_id` scores 1.0 whenever it
  started (relation ``explicit``).
- ``change_point``: mean shifts (binary segmentation, `engmetrics.incidents.changepoints`) in ``[start - W,
  start + W)`` of the service's SLI error ratio (`sli_events`, 1 - sum good / sum total per indicator and
  bucket, buckets with no events dropped) and of its `telemetry_samples` series (label ``service`` equal to
  the incident's service; counters named ``*_total``, ``*_count`` or ``*_sum`` are turned into increases,
  a drop counting as a reset; ``*_bucket`` histogram series are skipped). Telemetry is read from every
  retention tier (`engmetrics.telemetry.retention_points`): where retention rolled raw samples up, their
  buckets; when the window holds any bucket, every series is read at the coarsest rollup in it (raw samples
  summed into its buckets: a gauge's mean, a counter's increase; the detail's ``bucket_seconds`` gives the
  width), never mixing resolutions, and buckets the window holds only in part are left out. At most 3 per
  series. Floors (so
  blips on a near-zero series are not shifts, or score low): an error ratio's noise sigma is at least 0.001
  and its magnitude is judged against at least 0.01 (one percentage point); a telemetry series' sigma is at
  least 1 % of its median absolute value and its magnitude is judged against at least that median. Score =
  ``0.45 x magnitude x c(offset)``, magnitude = ``|after - before| / max(|before|, |after|, floor)`` of the
  neighbouring segment means.
- ``alert``: alerts of the service, or linked to the incident by `incident_id`, that fired in ``[start - W,
  declared_at + 15 min]``; earliest first: the k-th (from 0) scores 0.4 / (k + 1).
- ``similar_incident``: incidents that started before this one whose title + summary has a TF-IDF cosine
  similarity of at least `similarity_threshold` (idf fitted on every incident); score = 0.4 x similarity.
  For a `reader` (`engmetrics.incidents.confidentiality`) who may not read both incidents, the detail holds
  the id only (``redacted`` true): no title, no service.

The engine selects the rows (one service, one window); the change-point search and the ranking run on those
small arrays in Python.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..auth.roles import Principal
from ..errors import InputError
from ..slo.incidents_window import incident_window
from ..slo.sources import label_value
from ..store import Store
from ..telemetry.retention_points import ROLLUPS, floor_to, points, resolution_widths, within
from ..timeutil import UTC_TIMESTAMP
from .changepoints import shifts
from .confidentiality import can_read
from .linking import PRODUCTION, related_services
from .text import TfIdf, cosine, incident_text

__all__ = ["Evidence", "closeness", "correlate_incident", "deploy_score"]

KINDS = ("deployment", "change_point", "alert", "similar_incident")
RELATION_WEIGHT = {"service": 1.0, "depends_on": 0.5, "dependent": 0.5}
TAU_FRACTION = 0.5  # closeness exp(-|d| / tau) with tau = TAU_FRACTION x window
DEPLOY_BASE, DEPLOY_SPAN = 0.5, 0.45  # deploy scores in [0.5, 0.95]
FAILED_WEIGHT, CLOSENESS_WEIGHT = 0.6, 0.4  # within a deploy's span: the outcome outweighs closeness
CHANGE_POINT_WEIGHT = 0.45
ALERT_WEIGHT = 0.4
SIMILAR_WEIGHT = 0.4
RATIO_MIN_SIGMA, RATIO_FLOOR = 0.001, 0.01  # error ratio: noise and magnitude floors (fractions)
TELEMETRY_SIGMA_FRACTION = 0.01  # telemetry: noise floor = 1 % of the series' median |value|
ALERT_SLACK = timedelta(minutes=15)
COUNTER_SUFFIXES = ("_total", "_count", "_sum")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence about an incident (see module doc)."""

    kind: str
    offset_seconds: float | None
    score: float
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _at(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type=UTC_TIMESTAMP)


def _offset(when: datetime | None, start: datetime) -> float | None:
    return None if when is None else (when - start).total_seconds()


def closeness(distance: timedelta, window: timedelta) -> float:
    """``exp(-|distance| / tau)`` with ``tau = TAU_FRACTION x window``.

    >>> round(closeness(timedelta(minutes=60), timedelta(hours=2)), 4)  # exp(-60 / 60)
    0.3679
    """
    return math.exp(-abs(distance) / (TAU_FRACTION * window))


def deploy_score(relation: str, failed: bool, distance: timedelta, window: timedelta) -> float:
    """``0.5 + 0.45 x relation x (0.6 x failed + 0.4 x closeness)``; 1.0 for the explicit cause.

    >>> round(deploy_score("service", True, timedelta(minutes=90), timedelta(hours=2)), 4)
    0.8102
    >>> round(deploy_score("service", False, timedelta(minutes=5), timedelta(hours=2)), 4)
    0.6656
    """
    if relation == "explicit":
        return 1.0
    strength = FAILED_WEIGHT * failed + CLOSENESS_WEIGHT * closeness(distance, window)
    return DEPLOY_BASE + DEPLOY_SPAN * RELATION_WEIGHT[relation] * strength


def _incident(store: Store, incident_id: str) -> dict[str, Any]:
    t = store.table("incidents")
    rows = t.filter(t.incident_id == incident_id).select(
        "incident_id", "service", "team", "confidentiality", "declared_at", "caused_by_deployment_id",
        start=incident_window(t, None)[0]).to_pyarrow().to_pylist()
    if not rows:
        raise InputError(f"no incident {incident_id!r} in the store")
    return rows[0]


def _deploys(store: Store, services: list[str], start: datetime, window: timedelta, explicit: str | None,
             environments: Sequence[str]) -> list[dict[str, Any]]:
    """Production deploys of `services` in the window, plus the explicit one, with `rolled_back`."""
    d = store.table("deployments")
    d = d.filter(d.environment.lower().isin([e.lower() for e in environments]),
                 d.service.isin(services) | (d.deployment_id == explicit))
    w = ibis.window(group_by=[d.service, d.environment], order_by=[d.started_at, d.deployment_id])
    d = d.mutate(rolled_back=d.is_rollback.lead().over(w).fill_null(False))
    in_window = (d.started_at <= _at(start)) & (d.started_at >= _at(start - window)) & d.service.isin(services)
    d = d.filter(in_window | (d.deployment_id == explicit))
    return d.select("deployment_id", "service", "started_at", "status", "rolled_back").to_pyarrow().to_pylist()


def _deployment_evidence(store: Store, inc: dict[str, Any], window: timedelta,
                         environments: Sequence[str]) -> list[Evidence]:
    relation = {inc["service"]: "service"} if inc["service"] else {}
    if inc["service"]:
        rel = related_services(store)
        for r in rel.filter(rel.service == inc["service"]).order_by("relation").to_pyarrow().to_pylist():
            relation.setdefault(r["related"], r["relation"])  # calls and is called: "dependent" < "depends_on"
    explicit = inc["caused_by_deployment_id"]
    found = []
    for d in _deploys(store, list(relation), inc["start"], window, explicit, environments):
        failed = d["status"] == "failure" or bool(d["rolled_back"])
        kind = "explicit" if d["deployment_id"] == explicit else relation[d["service"]]
        score = deploy_score(kind, failed, inc["start"] - d["started_at"], window)
        found.append(Evidence("deployment", _offset(d["started_at"], inc["start"]), score, {
            "deployment_id": d["deployment_id"], "service": d["service"], "relation": kind, "status": d["status"],
            "rolled_back": bool(d["rolled_back"])}))
    if explicit and not any(e.detail["deployment_id"] == explicit for e in found):
        found.append(Evidence("deployment", None, 1.0, {"deployment_id": explicit, "service": None,
                                                        "relation": "explicit", "status": None,
                                                        "rolled_back": None}))
    return found


def _shift_evidence(at: Callable[[int], datetime], values: np.ndarray, start: datetime, window: timedelta,
                    detail: dict[str, Any], *, min_sigma: float, floor: float) -> list[Evidence]:
    """Change points of `values`; `at(i)` is the time of value i."""
    found = []
    for s in shifts(values, max_points=3, min_sigma=min_sigma, floor=floor):
        when = at(s.index)
        score = CHANGE_POINT_WEIGHT * s.magnitude * closeness(when - start, window)
        found.append(Evidence("change_point", (when - start).total_seconds(), score,
                              {**detail, "at": when.isoformat(), "before": s.before, "after": s.after}))
    return found


def _sli_evidence(store: Store, service: str, start: datetime, window: timedelta) -> list[Evidence]:
    e = store.table("sli_events")
    e = e.filter(e.service == service, e.ts >= _at(start - window), e.ts < _at(start + window))
    g = e.group_by(["indicator", "ts"]).agg(good=e.good.sum(), total=e.total.sum())
    rows = g.filter(g.total > 0).order_by(["indicator", "ts"]).to_pyarrow().to_pylist()
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        series[r["indicator"]].append(r)
    found = []
    for indicator, buckets in series.items():
        ratio = np.array([1 - b["good"] / b["total"] for b in buckets])
        found += _shift_evidence(lambda i, b=buckets: b[i]["ts"], ratio, start, window,
                                 {"source": "sli_events", "series": indicator, "metric": "error_ratio"},
                                 min_sigma=RATIO_MIN_SIGMA, floor=RATIO_FLOOR)
    return found


def _service_points(store: Store, service: str, lo: datetime, hi: datetime) -> tuple[pa.Table, int]:
    """The service's telemetry rows wholly inside [lo, hi) from every retention tier (`retention_points`), in
    series and time order, and the width in seconds of the coarsest rollup among them (0: raw samples only).
    With a width, only rows of that width's buckets lying wholly in the window: a bucket the window's edge
    cuts would hold part of its samples (a counter's increase would look like a drop)."""
    widths = resolution_widths(store)

    def mine(t: ir.Table) -> ir.Table:
        return t.filter(label_value(t.labels, "service") == service, t.ts >= _at(lo), t.ts < _at(hi),
                        ~t.metric.endswith("_bucket"))

    p = points(mine(store.table("telemetry_samples")), mine(store.table(ROLLUPS)))
    p = p.filter(within(p, lo, hi, widths))
    rows = p.select("series", "metric", "ts", "resolution", "sum", "count", "increase").order_by(
        ["series", "ts", "resolution"]).to_pyarrow()
    present = set(rows.column("resolution").unique().to_pylist()) - {"raw"}
    width = max((widths[r] for r in present), default=0)
    if width:
        first, end = floor_to(lo + timedelta(seconds=width - 1e-6), width), floor_to(hi, width)
        ts = rows.column("ts")
        inside = pc.and_(pc.greater_equal(ts, pa.scalar(first, ts.type)), pc.less(ts, pa.scalar(end, ts.type)))
        rows = rows.filter(inside)
    return rows, width


def _series_values(rows: pa.Table, width: int) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """Each series' (name, metric, times in epoch microseconds, values): a gauge's values, a counter's
    increases (its first sample, whose increase is unknown, dropped). With rollups in the window (`width` > 0)
    every series is read at that resolution, raw samples summed into its buckets, so a series never mixes
    per-sample and per-bucket points: a gauge's value is the bucket's mean, a counter's the bucket's increase,
    known only when the increase of every row in it is (the series' first sample's is not)."""
    rows = rows.combine_chunks()
    names = rows.column("series").to_numpy(zero_copy_only=False)
    micros = rows.column("ts").cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_numpy()
    bounds = [0, *(np.flatnonzero(names[1:] != names[:-1]) + 1).tolist(), len(names)]
    for lo, hi in itertools.pairwise(bounds):
        if lo == hi:
            continue
        one, ts = rows.slice(lo, hi - lo), micros[lo:hi]
        metric = one.column("metric")[0].as_py()
        counter = metric.endswith(COUNTER_SUFFIXES)
        values = one.column("increase" if counter else "sum").to_numpy(zero_copy_only=False).astype(float)
        if width:
            step = width * 1_000_000
            ts, at = np.unique(ts // step * step, return_inverse=True)
            known = ~np.isnan(values)
            total = np.bincount(at, np.where(known, values, 0.0), minlength=len(ts))
            if counter:
                values = np.where(np.bincount(at, ~known, minlength=len(ts)) == 0, total, np.nan)
            else:
                count = np.bincount(at, one.column("count").to_numpy().astype(float), minlength=len(ts))
                values = np.divide(total, count, out=np.full(len(ts), np.nan), where=count > 0)
        keep = ~np.isnan(values)
        yield str(names[lo]), metric, ts[keep], values[keep]


def _instant(micros: np.ndarray) -> Callable[[int], datetime]:
    """The time of index i of epoch microseconds `micros` (made only for the few change points found)."""
    return lambda i: datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(micros[i]))


def _telemetry_evidence(store: Store, service: str, start: datetime, window: timedelta) -> list[Evidence]:
    found = []
    rows, width = _service_points(store, service, start - window, start + window)
    tiered = {"bucket_seconds": width} if width else {}  # values are per bucket, not per sample
    for name, metric, ts, values in _series_values(rows, width):
        level = float(np.median(np.abs(values))) if len(values) else 0.0
        found += _shift_evidence(_instant(ts), values, start, window,
                                 {"source": "telemetry_samples", "series": name, "metric": metric, **tiered},
                                 min_sigma=TELEMETRY_SIGMA_FRACTION * level, floor=level)
    return found


def _alert_evidence(store: Store, inc: dict[str, Any], window: timedelta) -> list[Evidence]:
    a = store.table("alerts")
    mine = (a.incident_id == inc["incident_id"]).fill_null(False)
    if inc["service"]:
        mine = mine | (a.service == inc["service"]).fill_null(False)
    a = a.filter(mine, a.fired_at >= _at(inc["start"] - window), a.fired_at <= _at(inc["declared_at"] + ALERT_SLACK))
    rows = a.order_by(["fired_at", "alert_id"]).select("alert_id", "rule", "service", "urgency", "fired_at")
    return [Evidence("alert", _offset(r["fired_at"], inc["start"]), ALERT_WEIGHT / (k + 1),
                     {"alert_id": r["alert_id"], "rule": r["rule"], "service": r["service"], "urgency": r["urgency"]})
            for k, r in enumerate(rows.to_pyarrow().to_pylist())]


def _similar_evidence(store: Store, inc: dict[str, Any], threshold: float,
                      reader: Principal | None) -> list[Evidence]:
    t = store.table("incidents")
    rows = t.select("incident_id", "service", "team", "confidentiality", "title", "summary",
                    start=incident_window(t, None)[0]).to_pyarrow().to_pylist()
    model = TfIdf([incident_text(r["title"], r["summary"]) for r in rows])
    me = next(v for r, v in zip(rows, model.vectors, strict=True) if r["incident_id"] == inc["incident_id"])
    reads_mine = can_read(reader, inc["confidentiality"], inc["team"])
    found = []
    for r, v in zip(rows, model.vectors, strict=True):
        sim = cosine(me, v)
        if r["start"] < inc["start"] and sim >= threshold:
            detail: dict[str, Any] = {"incident_id": r["incident_id"], "redacted": True}
            if reads_mine and can_read(reader, r["confidentiality"], r["team"]):
                detail = {"incident_id": r["incident_id"], "title": r["title"], "service": r["service"],
                          "similarity": round(sim, 4), "redacted": False}
            found.append(Evidence("similar_incident", _offset(r["start"], inc["start"]), SIMILAR_WEIGHT * sim,
                                  detail))
    return found


def correlate_incident(store: Store, incident_id: str, *, window_hours: float, similarity_threshold: float = 0.3,
                       reader: Principal | None = None, environments: Sequence[str] = (PRODUCTION,)
                       ) -> list[Evidence]:
    """Ranked evidence about `incident_id` (see module doc) as `reader` (None: the workspace owner) may see
    it; deployments to one of the production `environments` (case ignored); InputError when there is no such
    incident."""
    inc = _incident(store, incident_id)
    window = timedelta(hours=window_hours)
    found = _deployment_evidence(store, inc, window, environments) + _alert_evidence(store, inc, window)
    if inc["service"]:
        found += _sli_evidence(store, inc["service"], inc["start"], window)
        found += _telemetry_evidence(store, inc["service"], inc["start"], window)
    found += _similar_evidence(store, inc, similarity_threshold, reader)
    found = [Evidence(e.kind, e.offset_seconds, round(min(1.0, max(0.0, e.score)), 4), e.detail) for e in found]
    return sorted(found, key=lambda e: (-e.score, KINDS.index(e.kind),
                                        abs(e.offset_seconds) if e.offset_seconds is not None else float("inf")))
