"""The engine side of the CSAT analysis: Ibis expressions that join survey responses to what their service
experienced and aggregate them to small tables (per segment x service x day, per indicator x day, per segment x
service x window) for the statistics in `engmetrics.insights.csat`.

Semantics (docs/csat.md):

- **Satisfaction** of a response is `score / scale` (0..1), so 1-5 and 0-10 surveys mix.
- A response's **day** is the UTC date of `ts`; responses without a service are left out, a missing segment
  is the segment `unknown`.
- **SLI badness** of a service indicator on a day is `1 - sum(good) / sum(total)` over the `sli_events`
  buckets starting that day (days with no events have no value).
- A response is **exposed** to an incident when an incident of its service was active at some point of
  `[ts - incident_window, ts]`: it began (`impact_started_at`, else `declared_at`) at or before `ts` and ended
  (`resolved_at`, else `mitigated_at`; still open: never) at or after `ts - incident_window`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..timeutil import as_utc

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["UNKNOWN_SEGMENT", "daily_experience", "daily_sli", "last_response_day", "responses", "window_stats"]

UNKNOWN_SEGMENT = "unknown"


def responses(store: Store, start: datetime, end: datetime) -> ir.Table:
    """Responses with a service in [start, end): response_id, ts, day, segment, service, satisfaction."""
    t = store.table("csat")
    t = t.filter((t.ts >= as_utc(start)) & (t.ts < as_utc(end)) & t.service.notnull() & (t.scale > 0))
    return t.select(response_id=t.response_id, ts=t.ts, day=t.ts.date(),
                    segment=t.segment.fill_null(UNKNOWN_SEGMENT), service=t.service,
                    satisfaction=t.score.cast("float64") / t.scale.cast("float64"))


def _exposed(store: Store, answers: ir.Table, window: timedelta) -> ir.Table:
    """The ids of the responses exposed to an incident of their service (module docstring): an inequality
    join of responses and incidents on the service, reduced to distinct response ids."""
    i = store.table("incidents")
    i = i.filter(i.service.notnull()).select(
        inc_service=i.service, began=i.impact_started_at.fill_null(i.declared_at),
        ended=i.resolved_at.fill_null(i.mitigated_at))
    joined = answers.join(i, [answers.service == i.inc_service, i.began <= answers.ts,
                              i.ended.isnull() | (i.ended >= answers.ts - ibis.interval(seconds=int(
                                  window.total_seconds())))])
    return joined.select(exposed_id=joined.response_id).distinct()


def daily_experience(store: Store, start: datetime, end: datetime, *,
                     incident_window: timedelta | None) -> pd.DataFrame:
    """Per segment x service x day: responses, mean satisfaction and the share of responses exposed to an
    incident. Columns: segment, service, day (date), responses, satisfaction, exposure (no `exposure` column
    when `incident_window` is None: `incidents` is not read at all, e.g. for a caller who may not read it)."""
    answers = responses(store, start, end)
    keys = ["segment", "service", "day"]
    if incident_window is None:
        out = answers.group_by(keys).aggregate(responses=answers.response_id.count(),
                                               satisfaction=answers.satisfaction.mean())
        return _frame(out.order_by(keys).execute(), "day")
    exposed = _exposed(store, answers, incident_window)
    flagged = answers.left_join(exposed, answers.response_id == exposed.exposed_id)
    flagged = flagged.mutate(hit=flagged.exposed_id.notnull().cast("float64"))
    out = flagged.group_by(keys).aggregate(
        responses=flagged.response_id.count(), satisfaction=flagged.satisfaction.mean(), exposure=flagged.hit.mean())
    return _frame(out.order_by(keys).execute(), "day")


def daily_sli(store: Store, start: date, end: date, services: list[str]) -> pd.DataFrame:
    """Per service x indicator x day in [start, end): good, total and badness (module docstring).
    Columns: service, indicator, day (date), good, total, badness."""
    t = store.table("sli_events")
    t = t.filter(t.service.isin(services) if services else ibis.literal(False))
    t = t.mutate(day=t.ts.date())
    t = t.filter((t.day >= start) & (t.day < end))
    out = t.group_by(["service", "indicator", "day"]).aggregate(good=t.good.sum(), total=t.total.sum())
    out = out.filter(out.total > 0)
    out = out.mutate(badness=1 - out.good / out.total)
    return _frame(out.order_by(["service", "indicator", "day"]).execute(), "day")


def window_stats(store: Store, start: datetime, split: datetime, end: datetime) -> pd.DataFrame:
    """Per segment x service and window (`baseline`: [start, split), `recent`: [split, end)): responses `n`,
    mean satisfaction `mean` and its sample variance `var` (None for a single response)."""
    answers = responses(store, start, end)
    answers = answers.mutate(window=ibis.ifelse(answers.ts >= as_utc(split), "recent", "baseline"))
    out = answers.group_by(["segment", "service", "window"]).aggregate(
        n=answers.response_id.count(), mean=answers.satisfaction.mean(),
        var=answers.satisfaction.var(how="sample"))
    return out.order_by(["segment", "service", "window"]).execute()


def last_response_day(store: Store) -> date | None:
    """The UTC day of the newest response (None without responses)."""
    t = store.table("csat")
    value = t.aggregate(last=t.ts.max()).execute()["last"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _frame(frame: pd.DataFrame, day: str) -> pd.DataFrame:
    """`frame` with its `day` column as Python dates (engines return dates, timestamps or strings)."""
    frame[day] = pd.to_datetime(frame[day]).dt.date
    return frame
