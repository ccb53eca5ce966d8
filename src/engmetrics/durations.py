"""Durations as SLO specs write them: Prometheus style (`5m`, `1h30m`, `3d`) and OpenSLO's single-unit form.

`m` is minutes. Months, quarters and years (`M`, `Q`, `Y`) have no fixed length: they are calendar units
(see `engmetrics.slo.windows`) and are refused here.

>>> duration_seconds("5m"), duration_seconds("1h30m"), duration_seconds("28d")
(300, 5400, 2419200)
>>> duration_label(3600), duration_label(86400 * 3), duration_label(90)
('1h', '3d', '90s')
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["SINGLE_UNIT", "duration_label", "duration_seconds"]

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"([0-9]+)(ms|[smhdwy])")
SINGLE_UNIT = re.compile(r"^([0-9]+)([a-zA-Z])$")  # OpenSLO's form: a count and one unit letter


@cache
def duration_seconds(text: str) -> int:
    """Seconds in a fixed-length duration such as `5m`, `1h30m` or `4w` (whole seconds, more than 0)."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}: expected counts and units like 5m, 1h30m or 28d "
                         "(ms, s, m, h, d, w, y; months and quarters are calendar windows)")
    seconds = sum(int(n) * _SECONDS[u] for n, u in parts if u != "ms") + sum(
        int(n) for n, u in parts if u == "ms") // 1000
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be at least one second")
    return seconds


def duration_label(seconds: int) -> str:
    """The shortest single-unit label of a duration (`3600` -> `1h`), as Prometheus rule names use."""
    for unit in ("d", "h", "m"):
        if seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"
