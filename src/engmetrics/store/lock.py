"""Cross-process store lock: many readers or one writer, waiting up to a timeout.

DuckDB lets one process open a database file for writing and refuses every other opener meanwhile, so
engmetrics processes queue on an advisory lock next to the file instead of failing at random.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import StoreLockedError

__all__ = ["StoreLock"]


class StoreLock:
    """`fcntl` lock on `<store>.lock`; shared for readers, exclusive for the writer."""

    def __init__(self, path: Path, *, exclusive: bool, timeout: float) -> None:
        self.path, self.exclusive, self.timeout = path, exclusive, timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        mode = (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    holder = self._holder()
                    raise StoreLockedError(
                        f"the store {self.path.with_suffix('')} is in use by another engmetrics process"
                        f"{holder}; waited {self.timeout:g}s (raise store_lock_timeout to wait longer)"
                    ) from None
                time.sleep(0.05)
        if self.exclusive:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def _holder(self) -> str:
        try:
            pid = self.path.read_text().strip()
        except OSError:
            return ""
        return f" (pid {pid})" if pid else ""

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
