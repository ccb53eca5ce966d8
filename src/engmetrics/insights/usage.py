"""How much each indicator is used: views through the API and the web, decisions that cite it, and alerts
about it. `engmetrics catalog review` reads it to propose deprecating indicators nobody uses.

**Views count use, not people.** `record_view` writes one row to `_views (metric, channel, actor, viewed_at)`
per view of a single indicator; `actor` is always NULL, so the table says how often an indicator was looked
at and through which channel (`api` or `web`), never by whom. Recording must not disturb the read it counts:
a failure is logged and swallowed, and the API records after the response is sent (a background task).

**Alerted** means an alert about the indicator reached someone, not that a scan ran. An indicator was
alerted in the period once for each anomaly finding on it (`_anomaly_findings.metric`) that, in the period,
had a notification delivered (`_notifications.key = 'anomaly:' || finding_id`, by `sent_at`; a key sent to
several webhooks is one alert) or was acknowledged (`_anomaly_marks.status = 'acknowledged'`, by
`marked_at`); a finding both notified and acknowledged counts once. A finding marked `false_positive` never
counts (the alert was noise), nor does one nobody was told about and nobody acknowledged. Other
notifications (`slo:...`, `budget:...`) name an SLO or a budget, not an indicator, and are not counted.

**Counting** is one Ibis expression over `_views`, the `decisions` dataset (its `metrics` list, unnested),
`_anomaly_findings`, `_anomaly_marks` and `_notifications`, so it runs on any engine.

>>> from datetime import UTC, date, datetime
>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> record_view(store, "deploys", "api", now=datetime(2026, 3, 2, 9, tzinfo=UTC))
True
>>> usage(store, date(2026, 3, 1), date(2026, 3, 31))["deploys"]
Usage(views_api=1, views_web=0, decisions=0, alerts=0)
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis

from ..catalog.periods import Period

__all__ = ["CHANNELS", "Usage", "record_view", "usage", "usage_table"]

log = logging.getLogger(__name__)

CHANNELS = ("api", "web")
_COUNTS = ("views_api", "views_web", "decisions", "alerts")


@dataclass(frozen=True)
class Usage:
    """Uses of one indicator over a period; `total` is zero for an unused indicator."""

    views_api: int = 0
    views_web: int = 0
    decisions: int = 0
    alerts: int = 0

    @property
    def total(self) -> int:
        return self.views_api + self.views_web + self.decisions + self.alerts

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def record_view(stores: Any, metric: str, channel: str, *, now: datetime | None = None) -> bool:
    """Record one view of `metric` through `channel` (`api` or `web`), with no actor. `stores` is a store
    open for writing or the API's `StoreProvider` (the row is appended under its write lock, as an audit
    entry is, without invalidating the evaluation cache). Returns whether the row was written; a failure
    (a read-only store, a lock held too long) is logged, never raised."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    appender = getattr(stores, "appender", None)
    try:
        if appender is None:
            _insert(stores, metric, channel, at)
        else:
            with appender() as store:
                _insert(store, metric, channel, at)
    except Exception as exc:  # usage recording never fails the read it counts
        log.warning("could not record a %s view of %s: %s", channel, metric, exc)
        return False
    return True


def _insert(store: Any, metric: str, channel: str, at: datetime) -> None:
    # A write, so engine-specific (DESIGN.md): one parameterised row, no staging.
    store.sql.execute("INSERT INTO _views (metric, channel, actor, viewed_at) VALUES (?, ?, NULL, ?)",
                      [metric, channel, at])


def _uses(table: ibis.Table, metric: ibis.Value, **counts: Any) -> ibis.Table:
    """`table` as rows of (metric, views_api, views_web, decisions, alerts), 0 where not given."""
    zero = ibis.literal(0, "int64")
    return table.select(metric=metric.cast("string"),
                        **{c: counts[c].cast("int64") if c in counts else zero for c in _COUNTS})


def _alerted(store: Any, start: ibis.Value, end: ibis.Value) -> ibis.Table:
    """(finding_id, metric) of the findings on an indicator that alerted someone in [start, end) (module doc)."""
    findings = store.table("_anomaly_findings")
    findings = findings.filter(findings.metric.notnull()).select("finding_id", "metric")
    marks = store.table("_anomaly_marks")
    sent = store.table("_notifications")
    sent = sent.filter((sent.sent_at >= start) & (sent.sent_at < end)).select("key").distinct()
    keyed = findings.mutate(key=ibis.literal("anomaly:") + findings.finding_id)
    notified = keyed.join(sent, "key").select("finding_id", "metric")
    false_positive = marks.filter(marks.status == "false_positive").select("finding_id")
    notified = notified.anti_join(false_positive, "finding_id")
    acked = marks.filter((marks.status == "acknowledged") & (marks.marked_at >= start) & (marks.marked_at < end))
    acked = findings.semi_join(acked.select("finding_id"), "finding_id")
    return ibis.union(notified, acked, distinct=True)


def usage_table(store: Any, period: Period) -> ibis.Table:
    """Per metric: views by channel, decisions dated in `period` that list it, and alerts (findings on it that
    were notified or acknowledged in it, module doc). Metrics with no use are absent."""
    start, end = ibis.literal(period.start_ts), ibis.literal(period.end_ts)
    views = store.table("_views")
    views = views.filter((views.viewed_at >= start) & (views.viewed_at < end))
    views = _uses(views, views.metric, views_api=views.channel == "api", views_web=views.channel == "web")
    decisions = store.table("decisions")
    decisions = decisions.filter(decisions.date.between(period.start, period.end))
    cited = decisions.select(decisions.decision_id, metric=decisions.metrics.unnest()).distinct()
    cited = _uses(cited, cited.metric, decisions=ibis.literal(1))
    alerted = _alerted(store, start, end)
    alerted = _uses(alerted, alerted.metric, alerts=ibis.literal(1))
    uses = ibis.union(views, cited, alerted)
    return uses.group_by("metric").aggregate(**{c: uses[c].sum() for c in _COUNTS})


def usage(store: Any, since: date, until: date) -> dict[str, Usage]:
    """Uses per metric over the days `since..until` (inclusive, UTC); an indicator missing from the answer
    had none (`Usage()`). Keys are the ids viewed, cited or alerted, catalog indicators or not (a decision
    logged with `--allow-unknown` may cite any id)."""
    rows = usage_table(store, Period(since, until)).to_pyarrow().to_pylist()
    return {r["metric"]: Usage(**{c: int(r[c]) for c in _COUNTS}) for r in rows}
