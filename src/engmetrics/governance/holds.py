"""Legal holds: data that retention must not delete, kept in the store's `_legal_holds` table.

A hold has a scope:

- `dataset`: rows of one dataset (`target` = dataset name), optionally only those dated `from..to`;
- `metric`: the data behind one indicator (`target` = metric id): every dataset its calculation reads, in
  any archived version or the current catalog, and `people` when one of those has person columns (team
  membership and aliases decide whose rows count and which team a value belongs to), optionally only
  `from..to`. A calculator's datasets are not declared, so a hold on a calculator-backed (or unknown)
  metric blocks every dataset: a hold errs on the side of keeping data;
- `period`: every dataset's rows dated `from..to` (both required; no target).

Dates are inclusive UTC days; a missing `from` / `to` leaves that side open. A released hold no longer
blocks. Placing and releasing append `hold.place` / `hold.release` audit entries.

>>> from datetime import date
>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> hold = place_hold(store, "dataset", "cost", from_date=date(2026, 1, 1), to_date=date(2026, 3, 31),
...                   reason="invoice dispute", actor="legal")
>>> hold.hold_id
'hold-1'
>>> [h.hold_id for h in blocking_holds(store, "cost", date(2026, 3, 1), date(2026, 4, 30))]
['hold-1']
>>> blocking_holds(store, "cost", date(2026, 4, 1), date(2026, 4, 30))
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ..errors import InputError
from ..timeutil import as_utc
from . import audit

__all__ = ["SCOPES", "Hold", "active_holds", "blocking_holds", "datasets_read", "list_holds", "place_hold",
           "release_hold"]

SCOPES = ("dataset", "metric", "period")
_FIELDS = "hold_id, scope, target, from_date, to_date, reason, created_by, created_at, released_by, released_at"


@dataclass(frozen=True)
class Hold:
    """One legal hold; `released_at` None while it is in force."""

    hold_id: str
    scope: str
    target: str | None
    from_date: date | None
    to_date: date | None
    reason: str
    created_by: str
    created_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        return self.created_at <= at and (self.released_at is None or self.released_at > at)

    def overlaps(self, start: date, end: date) -> bool:
        """Whether the hold covers any day of `start..end` (inclusive)."""
        return (self.from_date is None or self.from_date <= end) and (self.to_date is None or self.to_date >= start)

    def to_dict(self) -> dict[str, Any]:
        iso = lambda v: v.isoformat() if v is not None else None  # noqa: E731
        return {"hold_id": self.hold_id, "scope": self.scope, "target": self.target, "from": iso(self.from_date),
                "to": iso(self.to_date), "reason": self.reason, "created_by": self.created_by,
                "created_at": iso(self.created_at), "released_by": self.released_by,
                "released_at": iso(self.released_at), "active": self.released_at is None}


def _hold(row: tuple[Any, ...]) -> Hold:
    values = list(row)
    for i in (7, 9):
        values[i] = values[i].astimezone(UTC) if values[i] is not None else None
    return Hold(*values)


def _check(scope: str, target: str | None, from_date: date | None, to_date: date | None, reason: str) -> None:
    if scope not in SCOPES:
        raise InputError(f"unknown hold scope {scope!r}; expected one of: {', '.join(SCOPES)}")
    if not reason or not reason.strip():
        raise InputError("a legal hold needs a reason (--reason)")
    if from_date and to_date and from_date > to_date:
        raise InputError(f"the hold's from date {from_date} is after its to date {to_date}")
    if scope == "period":
        if target:
            raise InputError("a period hold covers every dataset: give no target")
        if from_date is None or to_date is None:
            raise InputError("a period hold needs both --from and --to")
        return
    if not target:
        raise InputError(f"a {scope} hold needs a target (the {'dataset name' if scope == 'dataset' else 'metric id'})")
    if scope == "dataset":
        from ..store.datasets import REGISTRY

        REGISTRY.get_dataset(target)  # raises for an unknown dataset, naming the known ones


def place_hold(store: Any, scope: str, target: str | None = None, *, reason: str, actor: str,
               from_date: date | None = None, to_date: date | None = None, at: datetime | None = None) -> Hold:
    """Place a hold (ids `hold-1`, `hold-2`, ...) and append a `hold.place` audit entry."""
    _check(scope, target, from_date, to_date, reason)
    stamp = as_utc(at) if at is not None else datetime.now(UTC)
    con = store.sql
    con.execute("BEGIN TRANSACTION")
    try:
        number = con.execute("SELECT coalesce(max(TRY_CAST(substr(hold_id, 6) AS BIGINT)), 0) + 1 FROM _legal_holds "
                             "WHERE starts_with(hold_id, 'hold-')").fetchone()[0]
        hold = Hold(f"hold-{number}", scope, target or None, from_date, to_date, reason.strip(), actor, stamp)
        con.execute(f"INSERT INTO _legal_holds ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [hold.hold_id, scope, hold.target, from_date, to_date, hold.reason, actor, stamp])
        audit.append(store, actor, "hold.place", hold.hold_id, reason=hold.reason, at=stamp,
                     details={"scope": scope, "target": hold.target, "from": from_date, "to": to_date})
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return hold


def _get(store: Any, hold_id: str) -> Hold | None:
    row = store.sql.execute(f"SELECT {_FIELDS} FROM _legal_holds WHERE hold_id = ?", [hold_id]).fetchone()
    return _hold(row) if row else None


def release_hold(store: Any, hold_id: str, *, actor: str, reason: str | None = None,
                 at: datetime | None = None) -> Hold:
    """Release a hold in force (recording who and when) and append a `hold.release` audit entry."""
    hold = _get(store, hold_id)
    if hold is None:
        raise InputError(f"no legal hold {hold_id!r}; see `engmetrics governance hold list --all`")
    if hold.released_at is not None:
        raise InputError(f"legal hold {hold_id} was already released by {hold.released_by} at "
                         f"{hold.released_at.isoformat()}")
    stamp = as_utc(at) if at is not None else datetime.now(UTC)
    con = store.sql
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE _legal_holds SET released_by = ?, released_at = ? WHERE hold_id = ?",
                    [actor, stamp, hold_id])
        audit.append(store, actor, "hold.release", hold_id, reason=reason, at=stamp,
                     details={"scope": hold.scope, "target": hold.target})
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return _get(store, hold_id)  # type: ignore[return-value]


def list_holds(store: Any, *, include_released: bool = False) -> list[Hold]:
    """Holds in the order they were placed; released ones only with `include_released`."""
    where = "" if include_released else "WHERE released_at IS NULL"
    rows = store.sql.execute(f"SELECT {_FIELDS} FROM _legal_holds {where} ORDER BY created_at, hold_id").fetchall()
    return [_hold(r) for r in rows]


def active_holds(store: Any, at: datetime | None = None) -> list[Hold]:
    """Holds in force at `at` (default: now): placed by then and not yet released."""
    stamp = as_utc(at) if at is not None else datetime.now(UTC)
    return [h for h in list_holds(store, include_released=True) if h.active_at(stamp)]


def datasets_read(store: Any, metric: str, catalog: Any = None) -> set[str] | None:
    """The datasets an indicator's calculation reads, in any archived version and in `catalog` (if given),
    plus `people` when one of them has person columns; None when that is unknown (a calculator, or a metric
    found nowhere)."""
    from ..store.datasets import REGISTRY
    from .archive import history

    calculations = [row.content.get("calculation") for row in history(store, "indicator", metric) if row.content]
    if catalog is not None and metric in catalog.ids:
        calculations.append(catalog.get(metric).indicator.calculation.model_dump())
    if not calculations or any(not isinstance(c, dict) or "dataset" not in c for c in calculations):
        return None
    read = {c["dataset"] for c in calculations}
    if any((found := REGISTRY.get(name)) is not None and found.person_columns for name in read):
        read.add("people")
    return read


def blocking_holds(store: Any, dataset: str, start: date, end: date, *, catalog: Any = None,
                   at: datetime | None = None) -> list[Hold]:
    """The holds in force that forbid deleting `dataset` rows dated `start..end` (inclusive): a dataset hold
    on it, a period hold, or a metric hold on an indicator that reads it (or whose datasets are unknown),
    each overlapping those days. Retention deletes nothing while this is non-empty."""
    found = []
    for hold in active_holds(store, at):
        if not hold.overlaps(start, end):
            continue
        if hold.scope == "period" or (hold.scope == "dataset" and hold.target == dataset):
            found.append(hold)
        elif hold.scope == "metric":
            read = datasets_read(store, hold.target or "", catalog)
            if read is None or dataset in read:
                found.append(hold)
    return found
