"""From an OpenSLO indicator to the events engmetrics counts: `(service, indicator, ts, good, total)`.

- good and total both from `sli_events` of one service's indicator: read straight from the dataset,
  batched with every other such SLO (key: that service and indicator);
- any other combination of `type: engmetrics` sources (telemetry counters, histogram buckets with `le`,
  good/total or bad/total, mixed with `sli_events` columns): per-minute increases combined by
  `ratio_source` or `bad_total`, keyed by the SLO's service and a digest of the indicator.

Indicators that engmetrics cannot count (Prometheus queries, threshold metrics) raise `NotComputable`
with the reason; `engmetrics slo rules` turns Prometheus indicators into rules instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from ..timeutil import UTC_TIMESTAMP
from . import openslo
from .sources import bad_total, bucket_selector, counter_increase, ratio_source

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["Indicator", "NotComputable", "events_of", "resolve_indicator"]

Key = tuple[str, str]
_FEW = 50  # up to this many batched indicators, `events_of` filters sli_events by name


class NotComputable(ValueError):
    """The indicator is not read from the engmetrics store; the message says why."""


@dataclass(frozen=True)
class Indicator:
    """A resolved indicator: its key in the events table and, unless batched from `sli_events`, how to
    build its rows for a time range."""

    key: Key
    spec: openslo.SLISpec
    batched: bool

    def rows(self, store: Store, start: datetime, end: datetime) -> ir.Table:
        """`(service, indicator, ts, good, total)` per minute in [start, end) (not for batched keys)."""
        ratio = self.spec.ratioMetric
        assert ratio is not None and ratio.total is not None
        total = _increase(store, ratio.total, start, end)
        t = (ratio_source(_increase(store, ratio.good, start, end), total) if ratio.good is not None
             else bad_total(_increase(store, ratio.bad, start, end), total))
        return t.select(service=ibis.literal(self.key[0]), indicator=ibis.literal(self.key[1]),
                        ts=t.ts.cast(UTC_TIMESTAMP), good=t.good.cast("float64"), total=t.total.cast("float64"))


def _engmetrics_spec(metric: openslo.MetricSpec | None) -> openslo.SliEventsSpec | openslo.TelemetrySamplesSpec:
    source = metric.metricSource if metric is not None else None
    if not isinstance(source, openslo.EngmetricsMetricSource):
        kind = getattr(source, "type", None) or "a referenced source"
        raise NotComputable(f"its indicator reads {kind}, not the engmetrics store (see `engmetrics slo rules`)")
    return source.spec


def _increase(store: Store, metric: openslo.MetricSpec | None, start: datetime, end: datetime) -> ir.Table:
    """`(ts, increase)` per minute of one engmetrics source."""
    spec = _engmetrics_spec(metric)
    if isinstance(spec, openslo.SliEventsSpec):
        t = store.table("sli_events")
        t = t.filter(t.service == spec.service, t.indicator == spec.indicator,
                     t.ts >= ibis.timestamp(start), t.ts < ibis.timestamp(end))
        return t.select("ts", increase=t[spec.column].cast("float64"))
    selector = dict(spec.selector)
    if spec.le is not None:
        selector = bucket_selector(store, spec.metric, selector, spec.le)
    return counter_increase(store, spec.metric, selector, start=start, end=end, unit="minute")


def resolve_indicator(sli: openslo.SLISpec | None, service: str, owner: str | None = None) -> Indicator:
    """The indicator of an SLO of `service`; raises NotComputable for what the store cannot count.

    With `owner` (an SLO name) the indicator gets a key of its own, so that exclusions scoped to it (the
    SLO's spec corrections) touch no other SLO reading the same data.
    """
    if sli is None:
        raise NotComputable("it has no indicator")
    ratio = sli.ratioMetric
    if ratio is None or ratio.total is None:
        raise NotComputable("threshold and raw indicators are not counted; give good/total or bad/total")
    parts = [_engmetrics_spec(m) for m in (ratio.good, ratio.bad, ratio.total) if m is not None]
    good, total = parts if ratio.good is not None else (None, None)
    if (owner is None and isinstance(good, openslo.SliEventsSpec) and isinstance(total, openslo.SliEventsSpec)
            and (good.service, good.indicator) == (total.service, total.indicator)
            and (good.column, total.column) == ("good", "total")):
        return Indicator((good.service, good.indicator), sli, batched=True)
    digest = hashlib.sha256(json.dumps(sli.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]
    suffix = f":{owner}" if owner else ""
    return Indicator((service, f"engmetrics:{digest}{suffix}"), sli, batched=False)


def events_of(store: Store, indicators: list[Indicator], start: datetime, end: datetime) -> ir.Table:
    """One table of the events of every indicator in [start, end): batched `sli_events` rows plus the rest."""
    batched = {i.key for i in indicators if i.batched}
    parts: list[ir.Table] = []
    if batched:
        t = store.table("sli_events")
        t = t.filter(t.ts >= ibis.timestamp(start), t.ts < ibis.timestamp(end))
        if len(batched) <= _FEW:  # lets the engine skip the rest of the table (zone maps, index)
            services, names = sorted({k[0] for k in batched}), sorted({k[1] for k in batched})
            t = t.filter(t.service.isin(services), t.indicator.isin(names))
        # many indicators: a long IN list costs more than grouping the others too (their sums go unused)
        parts.append(t.select("service", "indicator", ts=t.ts.cast(UTC_TIMESTAMP), good=t.good.cast("float64"),
                              total=t.total.cast("float64")))
    seen: set[Key] = set()
    for indicator in indicators:
        if not indicator.batched and indicator.key not in seen:
            seen.add(indicator.key)
            parts.append(indicator.rows(store, start, end))
    if not parts:
        raise ValueError("no indicator to read")
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
