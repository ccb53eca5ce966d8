"""What the engine benchmarks share: a generated store cached in benchmarks/.data/, timing, memory, and
comparing the legs' numbers before any timing is printed."""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engmetrics.store import Store

DATA = Path(__file__).parent / ".data"
TOLERANCE = 1e-9


def cached_store(name: str, generate: Callable[[Store], None], what: str, fresh: bool) -> tuple[Store, Path,
                                                                                                  float | None]:
    """The store `benchmarks/.data/<name>.duckdb`, made by `generate` first when missing (or `fresh`);
    returns the store, its path and the seconds spent generating (None when it was cached). A run killed
    while generating leaves only a `.partial` file, never a half-made cache."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"{name}.duckdb"
    took = None
    if fresh or not path.exists():
        partial = path.with_name(path.name + ".partial")
        for stale in (partial, partial.with_name(partial.name + ".wal"), path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        print(f"generating {what} into {path} ...", flush=True)
        begin = time.perf_counter()
        with Store.open(f"duckdb:///{partial}") as store:
            generate(store)
        partial.rename(path)
        partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
        took = time.perf_counter() - begin
    return Store.open(f"duckdb:///{path}"), path, took


def close(a: Any, b: Any) -> bool:
    """Equal numbers (to TOLERANCE), equal texts and flags, or both missing."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=TOLERANCE)


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, list[float], Any]:
    """(best seconds, every run's seconds, the last result) of `repeat` calls of `fn`."""
    times, result = [], None
    for _ in range(repeat):
        begin = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - begin)
    return min(times), times, result


def peak_rss_mib() -> float:
    """The process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


Leg = tuple[str, float, list[float], float]  # name, best seconds, every run's seconds, peak RSS MiB after it
WIDTH = 28


def leg_line(name: str, best: float, note: str, rss: float | None = None) -> str:
    """One line of the legs table: name, best seconds, runs (or a note), peak RSS."""
    return f"{name:<{WIDTH}} {best:>8.3f} {note:<26}" + ("" if rss is None else f" {rss:>12,.0f}")


def print_legs(legs: list[Leg], reading: tuple[str, float, float] | None = None) -> None:
    """The legs table; `reading` = (name, seconds, RSS) of pandas reading its frames, timed once outside its leg."""
    print(f"\n{'leg':<{WIDTH}} {'best s':>8} {'runs s':<26} {'peak RSS MiB':>12}")
    for name, best, runs, rss in legs:
        print(leg_line(name, best, " ".join(f"{t:.3f}" for t in runs), rss))
    if reading is not None:
        print(leg_line(reading[0], reading[1], "(once, not in its leg)", reading[2]))
