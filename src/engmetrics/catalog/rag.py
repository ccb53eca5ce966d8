"""Red / amber / green status of a value against an indicator's threshold bands.

A band holds `min <= value < max` (a missing bound is unbounded). The value's status is its band's;
if the bands overlap (a lint error) the worst band containing it wins, and if it falls in a gap (also a
lint error) the worse of the nearest band below and the nearest band above. No value is `no_data`.
Only active indicators are evaluated, and the model requires thresholds on them.

>>> t = Thresholds.model_validate({"green": {"max": 0.15}, "amber": {"min": 0.15, "max": 0.3},
...                                "red": {"min": 0.3}})
>>> [rag_status(v, t) for v in (0.1, 0.15, 0.3, None)]
['green', 'amber', 'red', 'no_data']
"""

from __future__ import annotations

from .model import Thresholds

__all__ = ["SEVERITY", "STATUSES", "rag_status"]

STATUSES = ("green", "amber", "red", "no_data")
SEVERITY = {"green": 0, "amber": 1, "red": 2}


def rag_status(value: float | None, thresholds: Thresholds) -> str:
    """The status of `value` (see the module docstring)."""
    if value is None:
        return "no_data"
    bands = thresholds.bands()
    holding = [name for name, band in bands if band.contains(value)]
    if not holding:
        below = [(b.max, n) for n, b in bands if b.max is not None and b.max <= value]
        above = [(b.min, n) for n, b in bands if b.min is not None and b.min > value]
        holding = [max(below)[1]] if below else []
        holding += [min(above)[1]] if above else []
    return max(holding, key=SEVERITY.__getitem__)
