"""When an incident lasted: the one definition that budget attribution, the integrity checks and the alert
backtest share.

An incident lasts from its impact start (`impact_started_at`, else `declared_at`) until it is resolved
(`resolved_at`, else `mitigated_at`); one still open (neither) lasts until `open_until` (the instant judged,
the end of a window or range), or has no end (NULL) when `open_until` is None. An incident with neither
start has a NULL start: each caller says what it does with it (skipped or listed). Both are UTC timestamp
expressions of the incidents table `t` (Ibis: they run in the engine, DuckDB and PySpark alike).

>>> from datetime import datetime, UTC
>>> import ibis
>>> h = lambda hh, mm: datetime(2026, 1, 1, hh, mm, tzinfo=UTC)
>>> t = ibis.memtable({"impact_started_at": [None, h(9, 55), None], "declared_at": [h(10, 0), h(10, 0), None],
...                    "mitigated_at": [h(10, 20), h(10, 40), None], "resolved_at": [None, h(10, 50), None]},
...                   schema={c: "timestamp('UTC')" for c in LIFECYCLE})
>>> start, end = incident_window(t, open_until=h(12, 0))
>>> [(r["a"] and f"{r['a']:%H:%M}", f"{r['b']:%H:%M}") for r in t.select(a=start, b=end).to_pyarrow().to_pylist()]
[('10:00', '10:20'), ('09:55', '10:50'), (None, '12:00')]
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from ..timeutil import UTC_TIMESTAMP, as_utc

__all__ = ["LIFECYCLE", "incident_window"]

LIFECYCLE = ("impact_started_at", "declared_at", "mitigated_at", "resolved_at")  # the columns read


def incident_window(t: ir.Table, open_until: datetime | None) -> tuple[ir.TimestampValue, ir.TimestampValue]:
    """(start, end) of each incident of `t`, as above."""
    start = ibis.coalesce(t.impact_started_at, t.declared_at).cast(UTC_TIMESTAMP)
    ends = [t.resolved_at, t.mitigated_at]
    if open_until is not None:
        ends.append(ibis.timestamp(as_utc(open_until)))
    return start, ibis.coalesce(*ends).cast(UTC_TIMESTAMP)
