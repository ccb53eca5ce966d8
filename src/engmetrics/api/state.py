"""What one app instance holds for its lifetime: the store (with safe concurrent access), the catalog and
the evaluation cache (`engmetrics.catalog.cache.EvaluationCache`, emptied after every write request).

Concurrency: DuckDB allows one writer *process*, so the server opens the store once and keeps it. Each
request gets its own DuckDB cursor (a connection to the same database, safe to use from its thread)
wrapped in an Ibis backend, so reads run in parallel under DuckDB's MVCC. Writes (ingest, tokens) also
take one process-wide lock, so two uploads never race each other into a transaction conflict. Stores on
other engines are shared by all requests behind that lock.

>>> from engmetrics.store import Store
>>> provider = StoreProvider(Store.open("duckdb://"))
>>> with provider.reader() as store:
...     store.count("deployments")
0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis

from ..catalog.cache import EvaluationCache, catalog_version
from ..catalog.loader import Catalog, load_catalog, metrics_dir
from ..governance.board import BOARD_FILE
from ..store import Store
from ..workspace import git_commit

__all__ = ["CatalogCache", "EvaluationCache", "LoadedCatalog", "StoreProvider"]


class _CursorStore(Store):
    """A request's store on its own DuckDB cursor, opened only when the request touches the store: an
    answer from the caches needs none. The Ibis backend is likewise built on first use."""

    def __init__(self, shared: Store, known_version: tuple[int, ...] | None) -> None:  # `backend` is lazy
        self._shared, self.url, self._lock, self.known_version = shared, shared.url, None, known_version

    @cached_property
    def sql(self) -> Any:  # type: ignore[override]
        cursor = self._shared.sql.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    @cached_property
    def backend(self) -> Any:  # type: ignore[override]
        return ibis.duckdb.from_connection(self.sql)

    @property
    def is_duckdb(self) -> bool:
        return True

    def close(self) -> None:
        if "sql" in self.__dict__:
            self.sql.close()


class StoreProvider:
    """Hands out per-request stores over one open store. `on_write` is called after every write request
    (the app passes its evaluation cache's `invalidate`), `on_token_write` after every one that may touch
    API tokens (the token cache's)."""

    def __init__(self, store: Store, *, on_write: Callable[[], None] | None = None,
                 on_token_write: Callable[[], None] | None = None, exclusive: bool = False) -> None:
        self.store = store
        self._write_lock = threading.RLock()
        self._on_write, self._on_token_write = on_write, on_token_write
        # `exclusive`: this process opened the store and holds its lock, so every write goes through
        # `writer()`; request stores then carry the write count as their version (no probing).
        self._exclusive = exclusive
        self._writes = 0

    @contextmanager
    def reader(self) -> Iterator[Store]:
        """A store for one request: its own DuckDB cursor, closed afterwards."""
        if not self.store.is_duckdb:
            with self._write_lock:
                yield self.store
            return
        store = _CursorStore(self.store, (self._writes,) if self._exclusive else None)
        try:
            yield store
        finally:
            store.close()  # closes the cursor only; the shared connection stays open

    @contextmanager
    def appender(self) -> Iterator[Store]:
        """A store for appending to the store's own log tables (the audit log) from a reading request: holds
        the write lock, but is no data write (the evaluation cache and store version stay)."""
        with self._write_lock, self.reader() as store:
            yield store

    @contextmanager
    def writer(self, *, tokens: bool = True) -> Iterator[Store]:
        """Like `reader`, holding the process-wide write lock for the whole request; calls `on_write` (and
        `on_token_write` unless `tokens` is False: the caller writes no API tokens) when the request is
        done, whether or not it wrote anything."""
        try:
            with self._write_lock, self.reader() as store:
                yield store
        finally:
            self._writes += 1
            for hook in (self._on_write, self._on_token_write if tokens else None):
                if hook is not None:
                    hook()


@dataclass(frozen=True)
class LoadedCatalog:
    """The catalog, the workspace's git commit when it was loaded, and its content version."""

    catalog: Catalog
    git_commit: str | None

    @cached_property
    def version(self) -> str:
        """`engmetrics.catalog.cache.catalog_version` of the catalog, hashed once per load."""
        return catalog_version(self.catalog)


class CatalogCache:
    """The workspace's catalog, reloaded when a file it reads changes (by name, size, mtime): `metrics/`,
    `assessments/` and `policies/review_board.yaml`.
    `recheck_seconds` > 0 looks at the files at most that often (a served workspace uses 1 s)."""

    def __init__(self, workspace: Path, *, recheck_seconds: float = 0.0) -> None:
        self.workspace = workspace
        self.recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked_at = float("-inf")
        self._loaded: LoadedCatalog | None = None

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        paths = [self.workspace / BOARD_FILE] if (self.workspace / BOARD_FILE).is_file() else []
        for directory in (metrics_dir(self.workspace), self.workspace / "assessments"):
            if directory.is_dir():
                paths += sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        return tuple((str(p.relative_to(self.workspace)), (s := p.stat()).st_size, s.st_mtime_ns) for p in paths)

    def get(self) -> LoadedCatalog:
        """The catalog (raises `ValidationFailed` while the definitions have errors)."""
        now = time.monotonic()
        if self._loaded is not None and now - self._checked_at < self.recheck_seconds:
            return self._loaded
        self._checked_at = now
        signature = self._current_signature()
        with self._lock:
            if self._loaded is None or signature != self._signature:
                self._loaded = LoadedCatalog(load_catalog(self.workspace), git_commit(self.workspace))
                self._signature = signature
            return self._loaded
