"""Shared readings of FOCUS columns, so every cost calculation groups and compares them the same way.

`charges(store, start, end)` are the `cost` rows charged in ``[start, end)`` (by `ChargePeriodStart`, UTC).
`currency(t)` is the row's `BillingCurrency` trimmed and in upper case (`" usd"` and `"USD"` are one currency),
null when missing or blank; `currency(t, UNKNOWN_CURRENCY)` names a missing one "(unknown)" instead (allocation
and budgets, which show every row under some currency). Amounts in different currencies are never added.

>>> import ibis
>>> t = ibis.memtable({"BillingCurrency": ["usd", " USD ", "", None]})
>>> t.select(c=currency(t, UNKNOWN_CURRENCY)).to_pyarrow().column("c").to_pylist()
['USD', 'USD', '(unknown)', '(unknown)']
"""

from __future__ import annotations

from datetime import datetime

import ibis.expr.types as ir

from ..store import Store
from ..timeutil import as_utc

__all__ = ["UNKNOWN_CURRENCY", "charges", "currency"]

UNKNOWN_CURRENCY = "(unknown)"


def currency(t: ir.Table, missing: str | None = None) -> ir.StringValue:
    """`BillingCurrency` trimmed and upper case; `missing` (default null) when it is null or blank."""
    value = t.BillingCurrency.strip().upper().nullif("")
    return value if missing is None else value.fill_null(missing)


def charges(store: Store, start: datetime, end: datetime) -> ir.Table:
    """The `cost` rows with `start <= ChargePeriodStart < end`."""
    t = store.table("cost")
    return t.filter((t.ChargePeriodStart >= as_utc(start)) & (t.ChargePeriodStart < as_utc(end)))
