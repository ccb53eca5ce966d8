"""Progress of long engine work, reported through a callback: the library never prints.

>>> import duckdb
>>> seen = []
>>> with watching(duckdb.connect(), lambda what, step, steps: seen.append((what, step, steps)), "load", 0, 2):
...     pass
>>> seen[0]
('load', 0, 2)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Progress", "watching"]

Progress = Callable[[str, float, int], None]  # (what is happening, steps done (fractional), steps)


@contextmanager
def watching(con, progress: Progress | None, what: str, step: int, steps: int,
             every: float = 0.2) -> Iterator[None]:
    """Report `what` at `step` of `steps`, then, while the block runs, the engine's own progress on its
    current query as a fraction of the step (DuckDB's `query_progress`, polled from a thread), never
    going backwards."""
    if progress is None:
        yield
        return
    progress(what, step, steps)
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    done = threading.Event()

    def poll() -> None:
        best = 0.0  # a step runs several queries: never report going backwards
        while not done.wait(every):
            best = max(best, min(con.query_progress(), 100.0) / 100)
            if best > 0:
                progress(what, step + best, steps)

    thread = threading.Thread(target=poll, name="engmetrics-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
