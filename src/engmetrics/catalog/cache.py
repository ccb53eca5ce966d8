"""A bounded, thread-safe cache of catalog evaluations, so a server does not re-evaluate every indicator on
every request.

An evaluation is a pure function of the as-of date, the definitions and the data, so the cache key is
exactly that: the as-of date, the catalog's content version (`catalog_version`: every definition version
and outcome), the git commit stamped on the results, the indicators asked for, the store's data version
(`data_version`: how many ingest batches and saved results there are and when the last one finished), the
privacy settings and today's date (individual-level indicators are evaluated on data older than a delay
counted back from today; see `engmetrics.governance.privacy`). An
ingest writes an `_ingests` row in its own transaction, so the next request after it sees a new key; an
edited definition has a new definition version, so it does too. `invalidate()` drops everything at once (the
API calls it after every write it makes), which also frees entries no key can reach any more.

Each key is computed once: the first caller evaluates while later callers for the same key wait for its
result instead of starting their own evaluation (no thundering herd). A failed evaluation is not cached; its
waiters see the same error and the next caller tries again.

>>> from datetime import date
>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> cache = EvaluationCache(max_entries=4)
>>> store = Store.open("duckdb://")
>>> cache.evaluate(store, Catalog(), date(2026, 1, 31))
[]
>>> cache.evaluate(store, Catalog(), date(2026, 1, 31)), cache.hits, cache.misses
([], 1, 1)
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, TypeVar

from ..settings import PrivacySettings
from .evaluate import MetricResult, evaluate
from .loader import Catalog
from .version import definition_version

__all__ = ["DataVersion", "EvaluationCache", "EvaluationKey", "catalog_version", "data_version"]

T = TypeVar("T")

DataVersion = tuple[int, str | None, int, str | None]
"""(ingest batches, when the last one finished, saved results, when the last one was saved); ISO strings."""


class EvaluationKey(NamedTuple):
    """Everything an evaluation's results depend on."""

    as_of: date
    catalog_version: str
    git_commit: str | None
    metrics: tuple[str, ...] | None
    data_version: DataVersion
    privacy: tuple[int, int] | None = None  # (min_group_size, individual_delay_days); None: the defaults
    today: date | None = None


def catalog_version(catalog: Catalog) -> str:
    """A content hash of the catalog: every definition's id and definition version, in order, every
    outcome, and the review board (whose approvals let individual-level indicators compute). Comments and
    formatting do not change it; any change of meaning (status included) does.

    >>> catalog_version(Catalog()) == catalog_version(Catalog())
    True
    """
    digest = hashlib.sha256()
    for d in catalog.definitions:
        digest.update(f"i\0{d.id}\0{definition_version(d.indicator)}\n".encode())
    for o in catalog.outcomes:
        digest.update(f"o\0{json.dumps(o.outcome.model_dump(mode='json'), sort_keys=True)}\n".encode())
    if catalog.review_board is not None:
        digest.update(f"b\0{json.dumps(catalog.review_board.model_dump(mode='json'), sort_keys=True)}\n".encode())
    return "sha256:" + digest.hexdigest()[:16]


_hash_catalog = catalog_version  # the methods' `catalog_version` keyword shadows the function


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def data_version(store: Any) -> DataVersion:
    """The store's data version, read from its own bookkeeping (`_ingests`, `_metric_results`).

    Every ingest adds an `_ingests` row in the transaction that writes its data, so the version changes with
    every batch. Rows written around the ingest path (raw SQL) are not seen: call
    `EvaluationCache.invalidate()` after such writes. On DuckDB this is one small query on the store's own
    connection (about 1 ms; the Ibis form costs several); other engines read it through Ibis.
    """
    if store.known_version is not None:
        return (*store.known_version, None, 0, None)  # the owner of the store counts its writes
    if store.is_duckdb:
        row = store.sql.execute(
            "SELECT (SELECT count(*) FROM _ingests), (SELECT max(finished_at) FROM _ingests), "
            "(SELECT count(*) FROM _metric_results), (SELECT max(evaluated_at) FROM _metric_results)").fetchone()
        return int(row[0]), _iso(row[1]), int(row[2]), _iso(row[3])
    ingests, results = store.table("_ingests"), store.table("_metric_results")
    a = ingests.aggregate(n=ingests.count(), last=ingests.finished_at.max()).to_pyarrow().to_pylist()[0]
    b = results.aggregate(n=results.count(), last=results.evaluated_at.max()).to_pyarrow().to_pylist()[0]
    return int(a["n"]), _iso(a["last"]), int(b["n"]), _iso(b["last"])


class EvaluationCache:
    """Memoises `engmetrics.catalog.evaluate.evaluate` per `EvaluationKey`; at most `max_entries` keys are
    kept (least recently used dropped first). Safe to share between threads."""

    def __init__(self, max_entries: int = 32) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Future[Any]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def key(self, store: Any, catalog: Catalog, as_of: date, *, git_commit: str | None = None,
            metrics: list[str] | None = None, catalog_version: str | None = None,
            privacy: PrivacySettings | None = None, today: date | None = None) -> EvaluationKey:
        """The key of an evaluation (reads the store's data version). Pass `catalog_version` when the
        caller already knows it, to save hashing the catalog again. `today` defaults to today (UTC)."""
        version = catalog_version or _hash_catalog(catalog)
        rules = (privacy.min_group_size, privacy.individual_delay_days) if privacy else None
        return EvaluationKey(as_of, version, git_commit, tuple(metrics) if metrics else None, data_version(store),
                             rules, today or datetime.now(UTC).date())

    def evaluate(self, store: Any, catalog: Catalog, as_of: date, *, git_commit: str | None = None,
                 metrics: list[str] | None = None, catalog_version: str | None = None,
                 privacy: PrivacySettings | None = None, today: date | None = None) -> list[MetricResult]:
        """What `evaluate(store, catalog, as_of, git_commit=..., metrics=..., privacy=..., today=...)` returns,
        computed once per key. The list is the caller's own; the results in it are frozen and shared."""
        key = self.key(store, catalog, as_of, git_commit=git_commit, metrics=metrics,
                       catalog_version=catalog_version, privacy=privacy, today=today)
        results = self.get_or_compute(key, lambda: evaluate(
            store, catalog, as_of, git_commit=git_commit, metrics=metrics, privacy=privacy, today=key.today))
        return list(results)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of `key`, else `compute()`'s, computed by one caller while others wait for it."""
        with self._lock:
            future = self._entries.get(key)
            owner = future is None
            if future is None:
                self.misses += 1
                future = self._entries[key] = Future()
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                self.hits += 1
                self._entries.move_to_end(key)
        if not owner:
            return future.result()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                if self._entries.get(key) is future:
                    del self._entries[key]
            future.set_exception(exc)
            raise
        future.set_result(value)
        return value

    def ready(self, store: Any, catalog: Catalog, as_of: date, *, git_commit: str | None = None,
              metrics: list[str] | None = None, catalog_version: str | None = None,
              privacy: PrivacySettings | None = None, today: date | None = None) -> list[MetricResult] | None:
        """The evaluation if it is already computed, else None (never computes: safe on an event loop
        when the store knows its version)."""
        key = self.key(store, catalog, as_of, git_commit=git_commit, metrics=metrics,
                       catalog_version=catalog_version, privacy=privacy, today=today)
        with self._lock:
            future = self._entries.get(key)
            if future is None or not future.done() or future.exception() is not None:
                return None
            self.hits += 1
            self._entries.move_to_end(key)
        return list(future.result())

    def invalidate(self) -> None:
        """Forget every entry (evaluations in progress finish for their own callers but are not kept)."""
        with self._lock:
            self._entries.clear()
