"""Range queries against a Prometheus HTTP API (`POST /api/v1/query_range`) as telemetry batches.

A range is evaluated at `start`, `start + step`, ... up to `end`. Prometheus refuses more than 11,000 points
per series in one query, so a longer range is asked in consecutive pieces (`pieces`) whose points continue one
another's grid; the answers are joined into one batch (`batch.SCHEMA`: series, ts, metric, labels, value).
An error answer (a bad query, 4xx, 5xx, a timeout, something that is not Prometheus) raises `PrometheusError`
with Prometheus' own message.

>>> pieces(0, 30, 10, max_points=2)  # points 0, 10 | 20, 30
[(0, 10), (20, 30)]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import numpy as np
import pyarrow as pa

from ..durations import duration_seconds
from ..errors import InputError
from ..incidents.search import parse_bound
from .batch import SCHEMA, build_batch

__all__ = ["MAX_POINTS", "PrometheusError", "RangeResult", "parse_instant", "pieces", "query_range"]

MAX_POINTS = 11_000  # Prometheus' limit of points per series in one range query
_NOW = re.compile(r"^now(?:-(\w+))?$")
_EPOCH = re.compile(r"^\d{9,11}(\.\d+)?$")


class PrometheusError(InputError):
    """Prometheus could not be asked or refused the query."""


@dataclass(frozen=True)
class RangeResult:
    """The samples of a range query, how many requests it took, and Prometheus' warnings."""

    samples: pa.Table
    requests: int
    warnings: tuple[str, ...] = ()

    @property
    def series(self) -> int:
        return len(self.samples.column("series").unique()) if self.samples.num_rows else 0


def parse_instant(text: str, *, end: bool = False, now: datetime | None = None) -> datetime:
    """An instant in UTC: `now`, `now-<duration>` (`now-6h`), Unix seconds, or an ISO date or datetime (UTC
    unless it has an offset; a date alone is its midnight, with `end` the next midnight).

    >>> parse_instant("now-1h", now=datetime(2026, 3, 1, 12, tzinfo=UTC)).isoformat()
    '2026-03-01T11:00:00+00:00'
    >>> parse_instant("1772366400").isoformat()
    '2026-03-01T12:00:00+00:00'
    """
    text = text.strip()
    relative = _NOW.match(text)
    if relative:
        now = now or datetime.now(UTC)
        try:
            ago = duration_seconds(relative.group(1)) if relative.group(1) else 0
        except ValueError as exc:
            raise InputError(f"{text!r}: {exc}") from None
        return datetime.fromtimestamp(now.timestamp() - ago, UTC)
    if _EPOCH.match(text):
        return datetime.fromtimestamp(float(text), UTC)
    instant = parse_bound(text, end=end)
    if instant is None:
        raise InputError("an empty time; expected now, now-6h, Unix seconds or an ISO date or datetime")
    return instant


def pieces(start: int, end: int, step: int, max_points: int = MAX_POINTS) -> list[tuple[int, int]]:
    """(start, end) of consecutive queries, each of at most `max_points` points on the grid `start + k * step`,
    together covering every grid point up to `end` (seconds)."""
    if step <= 0 or end < start:
        raise InputError(f"range {start}..{end} step {step}: expected a positive step and end >= start")
    last = start + (end - start) // step * step
    width = (max_points - 1) * step
    return [(s, min(s + width, last)) for s in range(start, last + 1, width + step)]


def _error_text(body: bytes) -> str | None:
    try:
        answer = json.loads(body)
        return f"({answer.get('errorType', 'error')}) {answer['error']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _post(url: str, form: dict[str, str], timeout: float) -> dict:
    """The JSON answer of a form POST to Prometheus, or PrometheusError saying what went wrong."""
    request = Request(url, data=urlencode(form).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", "User-Agent": "engmetrics"})
    try:
        with urlopen(request, timeout=timeout) as response:
            body = response.read()
    except HTTPError as exc:
        body = exc.read()
        said = _error_text(body)
        if said:
            raise PrometheusError(f"Prometheus at {url} refused the query {form['query']!r}: {said}") from None
        shown = body[:200].decode("utf-8", "replace").strip()
        raise PrometheusError(f"Prometheus at {url} answered HTTP {exc.code} {exc.reason}: {shown}") from None
    except TimeoutError:
        raise PrometheusError(f"Prometheus at {url} did not answer within {timeout:g} s") from None
    except (URLError, OSError) as exc:
        raise PrometheusError(f"cannot reach Prometheus at {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise PrometheusError(f"{url} answered with something that is not JSON; is it a Prometheus server "
                              "(the URL without /api/v1)?") from None
    if not isinstance(answer, dict) or answer.get("status") != "success":
        said = _error_text(body) or body[:200].decode("utf-8", "replace")
        raise PrometheusError(f"Prometheus at {url} refused the query {form['query']!r}: {said}")
    return answer


def _matrix_batch(result: list[dict], metric: str | None, query: str) -> pa.Table:
    """A batch of a matrix result: one series per entry; the metric is its `__name__`, else `metric`."""
    metrics, names, values, label_series, counts, ts, samples = [], [], [], [], [], [], []
    for index, entry in enumerate(result):
        labels = dict(entry.get("metric") or {})
        name = labels.pop("__name__", None) or metric
        if name is None:
            raise InputError(f"query {query!r}: result series {labels} has no metric name (__name__), as after "
                             "rate() or sum(); pass --metric NAME to name it")
        metrics.append(name)
        names += labels
        values += labels.values()
        label_series += [index] * len(labels)
        points = np.asarray(entry.get("values") or [], dtype=object).reshape(-1, 2)
        counts.append(len(points))
        ts.append(np.round(points[:, 0].astype(np.float64) * 1e6).astype(np.int64))
        samples.append(points[:, 1].astype(str).astype(np.float64))
    if not metrics:
        return SCHEMA.empty_table()
    series = np.repeat(np.arange(len(metrics)), counts)
    return build_batch(metrics, np.array(label_series, dtype=np.int64), names, values, series,
                       np.concatenate(ts), np.concatenate(samples))


def query_range(url: str, query: str, start: datetime, end: datetime, step: int, *, metric: str | None = None,
                timeout: float = 120.0) -> RangeResult:
    """The samples of `query` at `start`, `start + step`, ... up to `end` (`step` in seconds), asked in pieces of
    at most `MAX_POINTS` points. `metric` names result series that have no `__name__`."""
    endpoint = url.rstrip("/") + "/api/v1/query_range"
    parts, warnings = [], []
    ranges = pieces(int(start.timestamp()), int(end.timestamp()), step)
    for first, last in ranges:
        answer = _post(endpoint, {"query": query, "start": str(first), "end": str(last), "step": str(step)}, timeout)
        data = answer.get("data") or {}
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"Prometheus at {endpoint}: query {query!r} gave a {data.get('resultType')} "
                                  "result; expected a matrix (a range query over series)")
        warnings += [w for w in answer.get("warnings") or [] if w not in warnings]
        parts.append(_matrix_batch(data.get("result") or [], metric, query))
    return RangeResult(pa.concat_tables(parts), len(ranges), tuple(warnings))
