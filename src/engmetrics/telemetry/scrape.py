"""Scrape Prometheus text and OpenMetrics endpoints into `telemetry_samples` rows (`engmetrics telemetry scrape`).

A scrape asks for OpenMetrics first and plain text second (the `Accept` header Prometheus sends) and parses the
answer with `prometheus_client`'s parser for the format the response's `Content-Type` names. Every sample gets
the target's labels (`job`: its name, `instance`: the URL's host:port, then its `labels`); an exposed label with
the name of a target label is kept as `exported_<name>`, and a label with an empty value is no label, as in
Prometheus. A sample's `ts` is its own timestamp when the exposition gives one, else the scrape's start; its
`received_at` is the scrape's start (so a sample whose own timestamp lies beyond the clock policy's skew is
quarantined); its `source` is `scrape:<name>`. A run's rows are written as the push receivers write theirs
(`pull_write.write_samples`): a series also pushed is kept once, by source priority and overlap window.

Each scrape also yields three health samples labelled with the target's labels plus `target="<name>"` (so they
never collide with the `up` a Prometheus scraping the same endpoint reports): `up` (1, or 0 when the scrape
failed: connection, HTTP status, timeout or an unparsable body; its samples are then not stored),
`scrape_duration_seconds` and `scrape_samples_scraped`.

>>> text = '# TYPE jobs_total counter\\njobs_total{queue="a"} 7\\n'
>>> rows = samples_batch(parse_exposition(text, "text/plain; version=0.0.4"), {"job": "app"}, 0)
>>> rows.column("series").to_pylist(), rows.column("value").to_pylist()
(['jobs_total{job="app",queue="a"}'], [7.0])
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import numpy as np
import pyarrow as pa
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families
from prometheus_client.samples import Sample, Timestamp

from ..durations import duration_seconds
from ..errors import EngmetricsError
from ..store import Store
from .batch import SCHEMA, build_batch
from .config import OVERLAP_WINDOW_SECONDS, ClockPolicy, ScrapeSettings, ScrapeTarget
from .pull_write import SampleWrite, write_samples

__all__ = ["ACCEPT", "HEALTH_METRICS", "ScrapeError", "ScrapeRun", "Scraped", "TargetHealth", "fetch",
           "parse_exposition", "samples_batch", "scrape_loop", "scrape_target", "target_labels"]

ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
HEALTH_METRICS = ("up", "scrape_duration_seconds", "scrape_samples_scraped")
_TS = pa.timestamp("us", tz="UTC")
_COUNTER_TYPE = re.compile(r"^[ \t]*#[ \t]*TYPE[ \t]+(\S+)[ \t]+counter[ \t]*$", re.MULTILINE)


class ScrapeError(Exception):
    """Why one target's scrape failed (its `up` is 0)."""


@dataclass(frozen=True)
class TargetHealth:
    """One target's scrape, as `telemetry scrape --json` prints it: `samples` counts the samples exposed (not
    the health samples); `error` says why `up` is 0."""

    target: str
    url: str
    up: int
    samples: int
    duration_seconds: float
    error: str | None = None


@dataclass(frozen=True)
class Scraped:
    """A target's health and its rows: the `telemetry_samples` columns with the health samples included."""

    health: TargetHealth
    rows: pa.Table


def target_labels(target: ScrapeTarget) -> dict[str, str]:
    """`job` (the name), `instance` (host:port of the URL), then the target's own labels, which win."""
    return {"job": target.name, "instance": urlsplit(target.url).netloc.rpartition("@")[2], **target.labels}


def fetch(url: str, timeout: float) -> tuple[str, str]:
    """(body text, content type) of a GET of `url`, within `timeout` seconds; ScrapeError says what failed."""
    deadline = time.monotonic() + timeout
    request = Request(url, headers={"Accept": ACCEPT, "Accept-Encoding": "gzip", "User-Agent": "engmetrics",
                                    "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout:g}"})
    try:
        with urlopen(request, timeout=timeout) as response:
            chunks = []
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError
            content_type = response.headers.get("Content-Type", "")
            encoding = response.headers.get("Content-Encoding", "")
    except HTTPError as exc:
        raise ScrapeError(f"HTTP {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise ScrapeError(f"timed out after {timeout:g} s") from None
    except URLError as exc:
        reason = "timed out" if isinstance(exc.reason, TimeoutError) else exc.reason
        raise ScrapeError(f"cannot connect: {reason}") from None
    except OSError as exc:
        raise ScrapeError(f"connection failed: {exc}") from None
    body = b"".join(chunks)
    try:
        if encoding.lower() == "gzip":
            body = gzip.decompress(body)
        return body.decode("utf-8"), content_type
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ScrapeError(f"unreadable body ({content_type or 'no content type'}): {exc}") from None


def parse_exposition(text: str, content_type: str) -> list[Sample]:
    """The samples of an exposition: OpenMetrics when `content_type` says so, else the Prometheus text format.

    Sample names are as exposed: the text parser appends `_total` to a counter typed without it, which is
    undone here, so the series are those Prometheus stores. Raises ScrapeError for a body the parser refuses.
    """
    openmetrics = content_type.split(";")[0].strip().lower() == "application/openmetrics-text"
    try:
        if openmetrics:
            return [s for family in openmetrics_families(text) for s in family.samples if s.value is not None]
        families = list(text_families(text))
    except Exception as exc:  # the parsers raise ValueError, IndexError, KeyError ... for malformed input
        kind = "OpenMetrics" if openmetrics else "Prometheus text"
        raise ScrapeError(f"invalid {kind} exposition: {exc or type(exc).__name__}") from None
    typed_without_total = set(_COUNTER_TYPE.findall(text))
    return [s._replace(name=s.name[:-6]) if family.type == "counter" and family.name in typed_without_total
            and s.name == family.name + "_total" else s
            for family in families for s in family.samples]


def _micros(stamp: float | Timestamp | None, default: int) -> int:
    if stamp is None:
        return default
    if isinstance(stamp, Timestamp):
        return stamp.sec * 1_000_000 + stamp.nsec // 1000
    return round(stamp * 1_000_000)


def samples_batch(samples: Sequence[Sample], labels: Mapping[str, str], scraped_at_us: int) -> pa.Table:
    """A telemetry batch (`batch.SCHEMA`) of scraped `samples` with the target's `labels` added (an exposed label
    of the same name becomes `exported_<name>`; empty values are dropped). `ts` is the sample's timestamp, or
    `scraped_at_us` (microseconds since the epoch)."""
    n = len(samples)
    counts = np.fromiter((len(s.labels) for s in samples), np.int64, n)
    names = np.array([k for s in samples for k in s.labels], dtype=object)
    values = np.array([v for s in samples for v in s.labels.values()], dtype=object)
    extra = {k: v for k, v in labels.items() if v != ""}
    clash = np.isin(names, list(extra)) if extra and len(names) else np.zeros(len(names), bool)
    names[clash] = np.char.add("exported_", names[clash].astype(str))
    keep = values != ""
    series = np.arange(n, dtype=np.int64)
    label_series = np.concatenate([np.repeat(series, counts)[keep], np.repeat(series, len(extra))])
    all_names = np.concatenate([names[keep], np.tile(np.array(list(extra), dtype=object), n)])
    all_values = np.concatenate([values[keep], np.tile(np.array(list(extra.values()), dtype=object), n)])
    ts = np.fromiter((_micros(s.timestamp, scraped_at_us) for s in samples), np.int64, n)
    value = np.fromiter((s.value for s in samples), np.float64, n)
    return build_batch([s.name for s in samples], label_series, all_names.tolist(), all_values.tolist(), series,
                       ts, value)


def _health_batch(target: ScrapeTarget, up: int, duration: float, scraped: int, at_us: int) -> pa.Table:
    labels = {**target_labels(target), "target": target.name}
    names, values = list(labels), list(labels.values())
    return build_batch(list(HEALTH_METRICS), np.repeat(np.arange(3), len(names)), names * 3, values * 3,
                       np.arange(3), np.full(3, at_us), np.array([up, duration, scraped], dtype=np.float64))


def scrape_target(target: ScrapeTarget, timeout: float) -> Scraped:
    """Scrape one target: its samples and health samples, with `source` and `received_at` (the scrape's start)."""
    at_us = time.time_ns() // 1000
    clock = time.monotonic()
    error = None
    try:
        body, content_type = fetch(target.url, timeout)
        samples = samples_batch(parse_exposition(body, content_type), target_labels(target), at_us)
    except ScrapeError as exc:
        samples, error = SCHEMA.empty_table(), str(exc)
    duration = time.monotonic() - clock
    health = TargetHealth(target.name, target.url, int(error is None), samples.num_rows, round(duration, 6), error)
    rows = pa.concat_tables([samples, _health_batch(target, health.up, duration, samples.num_rows, at_us)])
    return Scraped(health, rows.append_column("source", pa.array([f"scrape:{target.name}"] * rows.num_rows))
                   .append_column("received_at", pa.array(np.full(rows.num_rows, at_us), pa.int64()).cast(_TS)))


@dataclass
class ScrapeRun:
    """One pass over the targets that were due, as `telemetry scrape --json` prints it (`to_dict`): `ingest` is
    the accounting of the write (None when it failed: `error` says why, and the rows wait for the next run, at
    most `ScrapeSettings.max_pending_samples` of them: `pending_dropped` counts the oldest rows given up)."""

    run: int
    started_at: datetime
    targets: list[TargetHealth]
    ingest: SampleWrite | None = None
    error: str | None = None
    pending_rows: int = 0
    pending_dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "started_at": self.started_at, "targets": [asdict(t) for t in self.targets],
                "ingest": None if self.ingest is None else self.ingest.as_dict(), "error": self.error,
                "pending_rows": self.pending_rows, "pending_dropped": self.pending_dropped}


@dataclass
class _Schedule:
    """When each target is due (monotonic seconds), on a fixed grid from the first run; missed ticks are skipped."""

    intervals: dict[str, float]
    due: dict[str, float] = field(default_factory=dict)

    def due_now(self, now: float) -> list[str]:
        return [name for name in self.intervals if self.due.setdefault(name, now) <= now]

    def advance(self, names: Sequence[str], now: float) -> None:
        for name in names:
            step = self.intervals[name]
            self.due[name] += step * (1 + max(0, int((now - self.due[name]) // step)))

    def wait(self, now: float) -> float:
        return max(0.0, min(self.due.values()) - now)


def _timings(settings: ScrapeSettings, interval: float | None) -> dict[str, tuple[float, float]]:
    """(interval, timeout) seconds per target: `interval` overrides every target's; a timeout is cut to it."""
    out = {}
    for t in settings.targets:
        every = interval or duration_seconds(t.interval or settings.interval)
        out[t.name] = (every, min(duration_seconds(t.timeout or settings.timeout), every))
    return out


def _bounded(pending: list[tuple[str, pa.Table]], limit: int) -> tuple[list[tuple[str, pa.Table]], int]:
    """(the newest parts holding at most `limit` rows, rows dropped): the oldest parts go first, whole; of the
    part crossing the limit, its newest rows stay."""
    kept: list[tuple[str, pa.Table]] = []
    room = limit
    for name, table in reversed(pending):
        if room <= 0:
            break
        kept.append((name, table.slice(max(0, table.num_rows - room))))
        room -= kept[-1][1].num_rows
    kept.reverse()
    return kept, sum(t.num_rows for _, t in pending) - sum(t.num_rows for _, t in kept)


def scrape_loop(settings: ScrapeSettings, open_store: Callable[[], AbstractContextManager[Store]], *,
                interval: float | None = None, max_runs: int | None = None, stop: threading.Event | None = None,
                clocks: ClockPolicy | None = None, priority: Sequence[str] = (),
                window: float = OVERLAP_WINDOW_SECONDS) -> Iterator[ScrapeRun]:
    """Scrape every target when due (all in the first run), write each run's rows in one transaction
    (`pull_write.write_samples` under the clock policy `clocks`, the source `priority` and the overlap
    `window`), yield the run.

    Targets due together are scraped concurrently. A write that fails (a store error, e.g. its lock held too
    long, as while `engmetrics serve` holds the store) is reported in the run and its rows are written with the
    next run; at most `settings.max_pending_samples` rows wait, the oldest beyond are dropped and counted. Ends
    after `max_runs` runs or when `stop` is set (checked between runs).
    """
    if not settings.targets:
        raise EngmetricsError("no scrape targets: add them under telemetry.scrape.targets in engmetrics.yaml "
                              "(name, url; see docs/telemetry-pull.md)")
    stop = stop or threading.Event()
    timings = _timings(settings, interval)
    targets = {t.name: t for t in settings.targets}
    schedule = _Schedule({name: every for name, (every, _) in timings.items()})
    pending: list[tuple[str, pa.Table]] = []
    run = 0
    with ThreadPoolExecutor(max_workers=min(len(targets), 16), thread_name_prefix="scrape") as pool:
        while not stop.is_set() and (max_runs is None or run < max_runs):
            now = time.monotonic()
            due = schedule.due_now(now)
            if not due:
                stop.wait(schedule.wait(now))
                continue
            run += 1
            started = datetime.now(UTC)
            scraped = list(pool.map(lambda name: scrape_target(targets[name], timings[name][1]), due))
            schedule.advance(due, time.monotonic())
            pending += [(f"scrape:{s.health.target}", s.rows) for s in scraped]
            result = ScrapeRun(run, started, [s.health for s in scraped])
            try:
                with open_store() as store:
                    result.ingest = write_samples(store, pending, priority=priority, window=window, clocks=clocks)
                pending = []
            except EngmetricsError as exc:
                result.error = str(exc)
                pending, result.pending_dropped = _bounded(pending, settings.max_pending_samples)
            result.pending_rows = sum(table.num_rows for _, table in pending)
            yield result
