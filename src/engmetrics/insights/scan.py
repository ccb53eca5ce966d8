"""The anomaly scan: every series (`series`), every detector (`anomaly.detect`), findings merged per series,
marked ones left out (`marks`). `engmetrics insights anomalies` and `engmetrics watch` call `scan`, then
`save_findings`.

`settings` is the workspace `Settings` (its `insights.anomalies` is used) or an `AnomalySettings`. `metric`
limits the scan to an indicator id or a series name (`dataset:deployments`, `sli:checkout/availability`,
`metric:deploy_freq`); `since` keeps findings ending after that day began; `today` (default: today, UTC)
ends the data (today's bucket, still filling, is left out), which starts `lookback_days` earlier.

The scan sees everything (the CLI and `engmetrics watch` act as the workspace owner); each finding carries
its indicator group and the datasets its series reads, and readers of the stored findings filter on those
(`marks.visible_findings`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..catalog.loader import Catalog
from ..errors import InputError
from ..store import REGISTRY
from .anomaly import Finding, detect, family, findings_of
from .config import AnomalySettings
from .marks import marked_runs
from .series import Series, dataset_series, indicator_series, sli_series

__all__ = ["anomaly_settings", "save_findings", "scan", "scanned_series"]

_PREFIXES = ("dataset:", "sli:", "metric:")


def anomaly_settings(settings: Any) -> AnomalySettings:
    """The `AnomalySettings` of a workspace `Settings` (or the object itself)."""
    return settings if isinstance(settings, AnomalySettings) else settings.insights.anomalies


def _scanned_datasets(conf: AnomalySettings) -> list[str]:
    if conf.datasets is not None:
        return [REGISTRY.get_dataset(name).name for name in conf.datasets]
    return [d.name for d in REGISTRY.values() if d.time_column is not None and d.name != "sli_events"]


def scanned_series(store: Any, catalog: Catalog, conf: AnomalySettings, today: date,
                   metric: str | None = None) -> list[Series]:
    """The series a scan looks at (all, or those of `metric`: an indicator id or a series name)."""
    start = today - timedelta(days=conf.lookback_days)
    if metric is not None and metric in catalog.ids:
        return indicator_series(store, catalog, today - timedelta(days=1), conf.indicator_periods, metric)
    if metric is not None and not metric.startswith(_PREFIXES):
        raise InputError(f"--metric {metric!r} is neither an indicator id of the catalog nor a series name "
                         f"(dataset:<name>, sli:<service>/<indicator>, metric:<id>)")
    found: list[Series] = []
    if metric is None or metric.startswith("dataset:"):
        for name in _scanned_datasets(conf):
            if metric is None or metric == f"dataset:{name}":
                one = dataset_series(store, name, start, today)
                found += [one] if one is not None else []
    if metric is None or metric.startswith("sli:"):
        found += sli_series(store, start, today, hourly=conf.sli_step == "hour")
    if metric is None or metric.startswith("metric:"):
        wanted = None if metric is None else metric.removeprefix("metric:").split("[")[0]
        found += indicator_series(store, catalog, today - timedelta(days=1), conf.indicator_periods, wanted)
    return [s for s in found if metric is None or s.name == metric]


def _suppressed(f: Finding, marked: list[tuple[str, str, str, datetime, datetime]]) -> bool:
    fam = family(f.method)
    return any(f.finding_id == fid or (f.series == series and fam == mfam and f.start_at < end and start < f.end_at)
               for fid, series, mfam, start, end in marked)


def scan(store: Any, catalog: Catalog, settings: Any, *, metric: str | None = None, since: date | None = None,
         today: date | None = None) -> list[Finding]:
    """Findings not marked acknowledged or false positive (nor overlapping a marked one), newest first."""
    conf = anomaly_settings(settings)
    today = today or datetime.now(UTC).date()
    findings: list[Finding] = []
    for s in scanned_series(store, catalog, conf, today, metric):
        detections = detect(s.values, s.step, counts=s.counts, settings=conf, ratio=s.source == "sli")
        findings += findings_of(detections, s.times, s.ends, series=s.name, source=s.source, metric=s.metric,
                                group=s.group, datasets=s.datasets)
    if since is not None:
        findings = [f for f in findings if f.end_at > datetime.combine(since, time(), tzinfo=UTC)]
    marked = marked_runs(store)
    kept = [f for f in findings if not _suppressed(f, marked)]
    return sorted(kept, key=lambda f: (f.start_at, f.score, f.finding_id), reverse=True)


def save_findings(store: Any, findings: list[Finding], *, detected_at: datetime | None = None) -> list[Finding]:
    """Upsert `findings` into `_anomaly_findings` and return them as stored: a new id gets `detected_at`
    (default now), a known id keeps its first `detected_at`."""
    stamp = detected_at or datetime.now(UTC)
    rows = [(f.finding_id, f.series, f.source, f.metric, f.group, list(f.datasets), f.method, f.direction,
             f.start_at, f.end_at, f.peak_at, f.value, f.expected, f.expected_low, f.expected_high, f.score,
             f.detected_at or stamp) for f in findings]
    if not rows:
        return []
    store.sql.executemany("""
        INSERT INTO _anomaly_findings (finding_id, series, source, metric, "group", datasets, method, direction,
            start_at, end_at, peak_at, value, expected, expected_low, expected_high, score, detected_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (finding_id) DO UPDATE SET series = excluded.series, source = excluded.source,
            metric = excluded.metric, "group" = excluded."group", datasets = excluded.datasets,
            method = excluded.method, direction = excluded.direction, start_at = excluded.start_at,
            end_at = excluded.end_at, peak_at = excluded.peak_at, value = excluded.value,
            expected = excluded.expected, expected_low = excluded.expected_low,
            expected_high = excluded.expected_high, score = excluded.score""", rows)
    t = store.table("_anomaly_findings")
    stored = t.filter(t.finding_id.isin([f.finding_id for f in findings])).select("finding_id", "detected_at")
    first = {r.finding_id: r.detected_at.to_pydatetime().astimezone(UTC) for r in stored.execute().itertuples()}
    return [replace(f, detected_at=first[f.finding_id]) for f in findings]
