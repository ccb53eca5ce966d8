"""Open the store from an Ibis URL. Calculations read through `Store.table()` (Ibis); ingestion
writes through `Store.sql` (the engine's own connection: writes may be engine-specific).

>>> store = Store.open("duckdb://")          # in memory, migrated
>>> store.table("deployments").count().execute()
0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import ibis

from ..errors import EngmetricsError
from .lock import StoreLock
from .migrations import SCHEMA_VERSION, check_version, migrate

__all__ = ["Store", "duckdb_path"]


def duckdb_path(url: str) -> Path | None:
    """The database file of a `duckdb://` URL, or None for an in-memory store."""
    parsed = urlparse(url)
    if parsed.scheme != "duckdb":
        return None
    path = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
    return None if path in ("", ":memory:", "/:memory:") else Path(path)


class Store:
    """A connected, migrated store. Use as a context manager to release the lock.

    `known_version` is set by an owner that sees every write (the API server, which holds the store
    alone): caches then key on it instead of probing the store's bookkeeping tables.
    """

    known_version: tuple[int, ...] | None = None

    def __init__(self, backend: Any, *, url: str = "", lock: StoreLock | None = None) -> None:
        self.backend, self.url, self._lock = backend, url, lock

    @classmethod
    def open(cls, url: str, *, read_only: bool = False, lock_timeout: float = 30.0) -> Store:
        """Connect to `url`, taking the cross-process lock for DuckDB files and migrating if needed.

        A read-only open of a store that does not exist yet, or of one made by an older version, opens it
        for writing first (under the exclusive lock) to create or upgrade it.
        """
        path = duckdb_path(url)
        if read_only and path is not None and not path.exists():
            read_only = False
        store = cls._connect(url, path, read_only, lock_timeout)
        if read_only and store.is_duckdb:
            try:
                outdated = check_version(store.sql) < SCHEMA_VERSION
            except BaseException:
                store.close()
                raise
            if outdated:
                store.close()
                store = cls._connect(url, path, False, lock_timeout)
        return store

    @classmethod
    def _connect(cls, url: str, path: Path | None, read_only: bool, lock_timeout: float) -> Store:
        lock = None
        if path is not None:
            lock = StoreLock(path.with_name(path.name + ".lock"), exclusive=not read_only, timeout=lock_timeout)
            lock.acquire()
        try:
            if url.startswith("duckdb"):
                backend = ibis.duckdb.connect(str(path) if path else ":memory:", read_only=read_only)
                backend.raw_sql("SET TimeZone = 'UTC'")
            else:
                backend = ibis.connect(url)
        except Exception as exc:
            if lock:
                lock.release()
            raise EngmetricsError(f"cannot open the store {url}: {exc}") from exc
        store = cls(backend, url=url, lock=lock)
        if store.is_duckdb and not read_only:
            try:
                migrate(store.sql)
            except BaseException:
                store.close()  # a refused or failed migration must not keep the lock
                raise
        return store

    @property
    def is_duckdb(self) -> bool:
        return self.backend.name == "duckdb"

    @property
    def sql(self) -> Any:
        """The engine's own connection (DuckDB: a `DuckDBPyConnection`), for writes."""
        return self.backend.con

    def table(self, name: str) -> ibis.Table:
        """An Ibis table of the store."""
        return self.backend.table(name)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    def close(self) -> None:
        try:
            self.backend.disconnect()
        finally:
            if self._lock:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
