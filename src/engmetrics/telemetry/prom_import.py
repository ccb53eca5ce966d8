"""Import range queries from a Prometheus HTTP API (`engmetrics telemetry import-prometheus`).

Into `telemetry_samples`: the samples as Prometheus evaluates them, source `prometheus:<host:port>`, and no
`received_at` (they were not received live, so the clock checks leave them out), written as the push receivers
write theirs (`pull_write.write_samples`): a series also scraped or pushed is kept once, by source priority and
overlap window.

Into `sli_events` (a service's indicator): buckets of one `step` holding good and total event counts.

- Counters: `--query` selects the total events, `--good-query` the good or `--bad-query` the bad ones (good =
  total - bad). Each series becomes per-step increases with reset handling (`counters.counter_increases`: a
  value that drops means the counter restarted from zero), summed over the query's series per bucket.
- A histogram, for a latency SLI: `--query NAME{matchers}` names it and `--le` the threshold in seconds; good
  is the increase of `NAME_bucket{le=...}`, total that of the `le="+Inf"` bucket, or `NAME_count` without one
  (`counters.histogram_good_total`, `counters.histogram_total`).

The range starts at `from` rounded down to a multiple of `step` (so buckets sit on one grid whatever the
`from` of an import, and importing again updates rather than double counts; rows dated before a range that
retention already rolled up are refused with the horizon's reason, `telemetry.horizon`).
The increase between the points at `t` and `t + step` is counted in the bucket starting at `t`, so the
buckets cover `[from, to)`; the point at
`from` is the base of the first bucket. Where Prometheus has no point for a step (a series gap) the increase
across the gap is counted in the bucket before the next point.

>>> from datetime import timedelta
>>> batch = pa.table({"series": ["a"] * 3, "ts": pa.array([0, 60, 120], pa.timestamp("s", tz="UTC")),
...                   "value": [5.0, 8.0, 2.0]})
>>> t = counter_buckets(batch, 60)  # 8 - 5 from 0 s to 60 s; 2 after a reset from 60 s to 120 s
>>> [x.isoformat() for x in t.column("ts").to_pylist()], t.column("increase").to_pylist()
(['1970-01-01T00:00:00+00:00', '1970-01-01T00:01:00+00:00'], [3.0, 2.0])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..ingest import IngestResult
from ..store import Store
from .config import OVERLAP_WINDOW_SECONDS
from .counters import counter_increases, histogram_good_total
from .prom_api import RangeResult, query_range
from .pull_write import write_parts, write_samples

__all__ = ["ImportResult", "SliQuery", "counter_buckets", "histogram_selector", "import_samples", "import_sli"]

_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$", re.DOTALL)
_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class SliQuery:
    """What makes the good and total counts: counters (`total` with `good` or `bad`) or a histogram (`total` is
    `NAME{matchers}`, `le` the threshold in seconds)."""

    total: str
    good: str | None = None
    bad: str | None = None
    le: float | None = None

    def __post_init__(self) -> None:
        if self.le is None and (self.good is None) == (self.bad is None):
            raise InputError("counters into sli_events need exactly one of --good-query and --bad-query "
                             "(--query selects the total events); a histogram needs --le")
        if self.le is not None and (self.good or self.bad):
            raise InputError("--le (a histogram's threshold) takes no --good-query or --bad-query: good and total "
                             "come from the histogram's _bucket and _count series")


@dataclass
class ImportResult:
    """An import, as `import-prometheus --json` prints it (`to_dict`). `samples` counts the points Prometheus
    returned; for sli_events `buckets`, `good` and `total` are the rows written and their sums."""

    into: str
    url: str
    start: datetime
    end: datetime
    step_seconds: int
    requests: int
    series: int
    samples: int
    ingest: IngestResult
    warnings: tuple[str, ...] = ()
    sli: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"into": self.into, "url": self.url, "from": self.start, "to": self.end,
                "step_seconds": self.step_seconds, "requests": self.requests, "series": self.series,
                "samples": self.samples, **self.sli, "warnings": list(self.warnings), "ingest": self.ingest.as_dict()}


def _aligned(start: datetime, end: datetime, step: int) -> tuple[datetime, datetime]:
    if end <= start:
        raise InputError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    seconds = int(start.timestamp()) // step * step
    return datetime.fromtimestamp(seconds, start.tzinfo), end


def import_samples(store: Store, url: str, query: str, start: datetime, end: datetime, step: int, *,
                   metric: str | None = None, priority: Sequence[str] = (),
                   window: float = OVERLAP_WINDOW_SECONDS) -> ImportResult:
    """Import `query` evaluated every `step` seconds from `start` (aligned to `step`) to `end` into
    `telemetry_samples`, under the source `priority` and overlap `window` (`telemetry.dedup`)."""
    start, end = _aligned(start, end, step)
    got = query_range(url, query, start, end, step, metric=metric)
    source = f"prometheus:{urlsplit(url).netloc.rpartition('@')[2]}"
    rows = got.samples
    rows = rows.append_column("source", pa.array([source] * rows.num_rows, pa.string())).append_column(
        "received_at", pa.nulls(rows.num_rows, _TS))
    ingest = write_samples(store, [(f"{url} {query}", rows)], priority=priority, window=window)
    return ImportResult("telemetry_samples", url, start, end, step, got.requests, got.series, rows.num_rows,
                        ingest, got.warnings)


def _shifted(batch: pa.Table, step: int) -> pa.Table:
    """`batch` with `ts` moved one step back: the increase up to a point lands in the bucket one step before."""
    index = batch.column_names.index("ts")
    ts = pc.subtract(batch.column("ts").cast(_TS), pa.scalar(timedelta(seconds=step), pa.duration("us")))
    return batch.set_column(index, "ts", ts)


def counter_buckets(batch: pa.Table, step: int) -> pa.Table:
    """`(ts, increase)`: the increases of every counter series in `batch` (resets handled), summed over the
    series per bucket of `step` seconds, the increase up to a point counted in the bucket one step before it."""
    increases = counter_increases(_shifted(batch, step), timedelta(seconds=step))
    return increases.group_by("ts").aggregate([("increase", "sum")]).rename_columns(
        ["ts", "increase"]).sort_by("ts")


def histogram_selector(selector: str) -> tuple[str, str]:
    """(histogram name, the query of its `_bucket` and `_count` series) of `NAME` or `NAME{matchers}`.

    >>> histogram_selector('request_seconds{job="api"}')[1]
    '{__name__=~"request_seconds_bucket|request_seconds_count",job="api"}'
    """
    found = _SELECTOR.match(selector)
    if not found:
        raise InputError(f"--query {selector!r}: with --le the query names the histogram, NAME or NAME{{matchers}} "
                         'without the _bucket suffix, e.g. request_seconds{job="api"}')
    name, matchers = found.group(1), (found.group(2) or "").strip().rstrip(",")
    inner = f'__name__=~"{name}_bucket|{name}_count"' + (f",{matchers}" if matchers else "")
    return name, "{" + inner + "}"


def _good_total(url: str, spec: SliQuery, start: datetime, end: datetime, step: int
                ) -> tuple[pa.Table, list[RangeResult]]:
    if spec.le is not None:
        name, query = histogram_selector(spec.total)
        got = query_range(url, query, start, end, step)
        if not got.samples.num_rows:
            return pa.table({"ts": pa.array([], _TS), "good": pa.array([], pa.float64()),
                             "total": pa.array([], pa.float64())}), [got]
        return histogram_good_total(_shifted(got.samples, step), name, spec.le, timedelta(seconds=step)), [got]
    total = query_range(url, spec.total, start, end, step, metric="total")
    other = query_range(url, spec.good or spec.bad or "", start, end, step, metric="good" if spec.good else "bad")
    joined = counter_buckets(total.samples, step).rename_columns(["ts", "total"]).join(
        counter_buckets(other.samples, step).rename_columns(["ts", "other"]), "ts", join_type="full outer")
    totals = pc.fill_null(joined.column("total"), 0.0)
    others = pc.fill_null(joined.column("other"), 0.0)
    good = others if spec.good else pc.subtract(totals, others)
    return pa.table({"ts": joined.column("ts"), "good": good, "total": totals}).sort_by("ts"), [total, other]


def import_sli(store: Store, url: str, spec: SliQuery, start: datetime, end: datetime, step: int, *,
               service: str, indicator: str) -> ImportResult:
    """Import good and total counts per `step` bucket of `[start, end)` into `sli_events` for `service`'s
    `indicator` (the module docstring says how counters and histograms are counted)."""
    start, end = _aligned(start, end, step)
    buckets, results = _good_total(url, spec, start, end, step)
    buckets = buckets.filter(pc.greater_equal(buckets.column("ts"), pa.scalar(start, _TS)))
    n = buckets.num_rows
    rows = pa.table({"service": pa.array([service] * n, pa.string()), "indicator": pa.array([indicator] * n),
                     "ts": buckets.column("ts"), "good": buckets.column("good"), "total": buckets.column("total")})
    ingest = write_parts(store, "sli_events", [(f"{url} {spec.total}", rows)])
    sums = {"buckets": n, "good": pc.sum(rows.column("good")).as_py() or 0.0,
            "total": pc.sum(rows.column("total")).as_py() or 0.0}
    return ImportResult("sli_events", url, start, end, step, sum(r.requests for r in results),
                        sum(r.series for r in results), sum(r.samples.num_rows for r in results), ingest,
                        tuple(w for r in results for w in r.warnings), {"service": service, "indicator": indicator,
                                                                         **sums})
