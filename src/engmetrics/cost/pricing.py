"""What-if pricing: re-price a window's usage under another pricing model and compare with what was paid.

Scope: the `cost` rows with `ChargeCategory` 'Usage' whose `ChargePeriodStart` is in `[start, end)`.
`paid` is their `EffectiveCost` (amortised: commitment purchases show up in the 'Used' and 'Unused' rows).
Every model drops the current commitments' idle part: rows with `CommitmentDiscountStatus` 'Unused' re-price
to 0 (no commitment, nothing idle). Results are per provider and currency (`engmetrics.cost.columns.currency`:
`BillingCurrency` trimmed, upper case), `difference = repriced - paid` (negative = the model would have been
cheaper), and per service for the row-by-row models.

Models:

- **on-demand** (`OnDemand`): each row at list price, `ListCost`, else `ListUnitPrice x PricingQuantity`.
- **price table** (`PriceTable`): each row at `unit_price x PricingQuantity`, the unit price looked up by
  `SkuId` first, then by `ServiceName` (an entry with a `currency`, any case, only prices rows billed in it).
- **committed** (`Committed`): a commitment of `level` (on-demand-equivalent per hour) at `discount`, the cost
  formula of the recommendation (`commitments.best_commitment`): hour h of a provider costs
  `level*(1-d) + max(0, od_h - level)`, where `od_h` is the on-demand-equivalent cost (as in on-demand, spread
  evenly over the hours of each row's charge period) of the provider's usage of commitment-eligible services
  (`commitments.hourly_on_demand` rules: ServiceCategory Compute / Databases, or services with commitment
  rows). Rows of other services keep what they cost. Without a level, each provider gets its own best level
  over the window. The series runs over the window's hours from the provider's first to last usage hour.

A row the model cannot price (no list price, no table entry, no `PricingQuantity`) keeps its paid cost and
is counted in `unpriced_rows` / `unpriced_cost`, so totals stay comparable.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError
from ..store import Store
from ..timeutil import as_utc
from ..yamlio import load_all
from .columns import charges, currency
from .commitments import (
    DEFAULT_DISCOUNT,
    HOUR,
    best_commitment,
    cost_with_commitment,
    eligible_keys,
    hour_series,
    hour_span,
    hourly_spend,
)

__all__ = ["Committed", "OnDemand", "PriceEntry", "PriceTable", "WhatIf", "load_price_table", "read_records",
           "what_if"]



@dataclass(frozen=True)
class OnDemand:
    """Every row at list price."""

    name: str = "on-demand"


@dataclass(frozen=True)
class Committed:
    """A commitment of `level` per hour (None: the best level per provider) at `discount`."""

    level: float | None = None
    discount: float = DEFAULT_DISCOUNT
    name: str = "committed"


class PriceEntry(BaseModel):
    """One price: `unit_price` per `PricingQuantity` of a SKU or of a whole service."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sku_id: str | None = Field(None, alias="SkuId")
    service_name: str | None = Field(None, alias="ServiceName")
    unit_price: float = Field(ge=0)
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        """Compared with the rows' currency, which is trimmed and upper case (`columns.currency`)."""
        return None if value is None else value.strip().upper() or None

    @model_validator(mode="after")
    def _one_key(self) -> PriceEntry:
        if (self.sku_id is None) == (self.service_name is None):
            raise ValueError("give exactly one of SkuId and ServiceName")
        return self


@dataclass(frozen=True)
class PriceTable:
    """Unit prices by SKU or service (`load_price_table`)."""

    entries: tuple[PriceEntry, ...]
    name: str = "price table"


Model = OnDemand | Committed | PriceTable


def read_records(path: Path, key: str) -> list[tuple[dict[str, Any], int]]:
    """(record, line) of a CSV file (header row, one record a line) or a YAML file (a list of mappings, or a
    mapping whose `key` holds that list). Raises InputError naming the file (and line) when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        out = []
        for record in reader:
            out.append(({k.strip(): (v.strip() if v and v.strip() else None) for k, v in record.items() if k},
                        reader.line_num))
        return out
    docs = load_all(path)
    data = docs[0] if len(docs) == 1 else None
    if isinstance(data, dict) and isinstance(data.get(key), list):
        data = data[key]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError(f"expected a list of mappings (or `{key}:` holding one)", file=path, line=1)
    return [(r, getattr(r, "line", None) or getattr(data, "line", 1)) for r in data]


def load_price_table(path: Path) -> PriceTable:
    """A price table from CSV (columns SkuId or ServiceName, unit_price, optional currency) or YAML
    (`prices:` list of the same mappings)."""
    entries, seen = [], set()
    for record, line in read_records(path, "prices"):
        try:
            entry = PriceEntry.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InputError(f"{where + ': ' if where else ''}{err['msg']}", file=path, line=line) from None
        key = ("SkuId", entry.sku_id) if entry.sku_id is not None else ("ServiceName", entry.service_name)
        if key in seen:
            raise InputError(f"{key[0]} {key[1]!r} has a price already", file=path, line=line)
        seen.add(key)
        entries.append(entry)
    if not entries:
        raise InputError("the price table has no entries", file=path)
    return PriceTable(tuple(entries))


def _usage(store: Store, start: datetime, end: datetime) -> ir.Table:
    t = charges(store, start, end)
    t = t.filter(t.ChargeCategory.lower() == "usage")
    return t.mutate(_unused=t.CommitmentDiscountStatus.lower().fill_null("") == "unused")


def _list_price(t: ir.Table) -> ir.NumericValue:
    return ibis.coalesce(t.ListCost, t.ListUnitPrice * t.PricingQuantity)


def _table_price(t: ir.Table, table: PriceTable) -> ir.Table:
    """`t` with `_price` = unit price x PricingQuantity, the unit price by SkuId, else ServiceName; null
    without an entry or a quantity. Keys are unique per table (`load_price_table`), so a row matches at most
    one entry of each kind."""
    entries = ibis.memtable({
        "_kind": ["sku" if e.sku_id is not None else "service" for e in table.entries],
        "_key": [e.sku_id if e.sku_id is not None else e.service_name for e in table.entries],
        "_cur": [e.currency for e in table.entries], "_unit": [e.unit_price for e in table.entries]},
        schema={"_kind": "string", "_key": "string", "_cur": "string", "_unit": "float64"})
    for kind, column in (("sku", "SkuId"), ("service", "ServiceName")):
        e = entries.filter(entries._kind == kind).rename({f"_unit_{kind}": "_unit"}).drop("_kind")
        t = t.left_join(e, (t[column] == e._key) & (e._cur.isnull() | (e._cur == currency(t)))).drop(
            "_key", "_cur")
    return t.mutate(_price=ibis.coalesce(t._unit_sku, t._unit_service) * t.PricingQuantity).drop(
        "_unit_sku", "_unit_service")


def _row_wise(t: ir.Table, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Paid and re-priced sums of rows carrying `_price` (null: unpriced, keeps its paid cost)."""
    price = ibis.ifelse(t._unused, 0.0, t._price)
    unpriced = price.isnull()
    rows = t.group_by(list(keys)).aggregate(
        paid=t.EffectiveCost.sum(), repriced=ibis.coalesce(price, t.EffectiveCost).sum(), rows=t.count(),
        unpriced_rows=t.count(where=unpriced), unpriced_cost=t.EffectiveCost.sum(where=unpriced).fill_null(0.0))
    return rows.to_pyarrow().to_pylist()


def _committed(t: ir.Table, model: Committed, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per provider and currency: eligible usage under the commitment formula, other usage as paid."""
    t = t.mutate(_p=t.ProviderName.fill_null(""), _k=t.ServiceName.fill_null(""))
    keys = eligible_keys(t).rename(_ep="_p", _ek="_k")
    t = t.left_join(keys, [t._p == keys._ep, t._k == keys._ek])
    listed = _list_price(t)
    t = t.mutate(_eligible=t._ep.notnull(), _od=ibis.ifelse(t._unused, 0.0, ibis.coalesce(listed, t.EffectiveCost)),
                 _nolist=listed.isnull() & ~t._unused)
    eligible = t.filter(t._eligible)
    hourly = hourly_spend(eligible, eligible._od, start, end).to_pyarrow().to_pylist()
    other, missing = ~t._eligible, t._eligible & t._nolist
    totals = t.group_by(provider=t.ProviderName, currency=currency(t)).aggregate(
        paid=t.EffectiveCost.sum(), other=t.EffectiveCost.sum(where=other).fill_null(0.0), rows=t.count(),
        unpriced_rows=t.count(where=missing), unpriced_cost=t.EffectiveCost.sum(where=missing).fill_null(0.0),
        first=t.ChargePeriodStart.epoch_seconds().min(), last=t.ChargePeriodEnd.epoch_seconds().max())
    totals = totals.to_pyarrow().to_pylist()  # one row per provider and currency
    bounds: dict[Any, tuple[int, int]] = {}
    for r in totals:
        lo, hi = bounds.get(r["provider"], (r["first"], r["last"]))
        bounds[r["provider"]] = (min(lo, r["first"]), max(hi, r["last"]))
    spans = {p: hour_span(start, end, lo, hi) for p, (lo, hi) in bounds.items()}
    series_of = hour_series(hourly, spans)
    out = []
    for r in totals:
        first, last = spans[r["provider"]]
        series = series_of.get((r["provider"], r["currency"]), np.zeros((last - first) // HOUR))
        level = best_commitment(series, model.discount).level if model.level is None else model.level
        committed = cost_with_commitment(series, level, model.discount)
        out.append({"provider": r["provider"], "currency": r["currency"], "paid": r["paid"],
                    "repriced": committed + r["other"], "rows": r["rows"], "unpriced_rows": r["unpriced_rows"],
                    "unpriced_cost": r["unpriced_cost"], "level_per_hour": level, "discount": model.discount,
                    "hours": len(series)})
    return out


@dataclass
class WhatIf:
    """A re-pricing and its comparison with what was paid; `to_dict()` is `engmetrics cost whatif --json`."""

    model: str
    start: datetime
    end: datetime
    items: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "start": self.start, "end": self.end, "items": self.items,
                "services": self.services}


def _compared(rows: list[dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    for r in rows:
        r["difference"] = r["repriced"] - r["paid"]
        r["difference_share"] = r["difference"] / r["paid"] if r["paid"] else None
    return sorted(rows, key=lambda r: tuple(str(r[c]) if r[c] is not None else "" for c in order))


def what_if(store: Store, model: Model, start: datetime, end: datetime) -> WhatIf:
    """Re-price the window's usage under `model` (module docstring)."""
    t = _usage(store, start, end)
    result = WhatIf(model.name, as_utc(start), as_utc(end))
    if isinstance(model, Committed):
        if not 0 <= model.discount < 1:
            raise InputError(f"the discount must be in [0, 1) (got {model.discount})")
        if model.level is not None and model.level < 0:
            raise InputError(f"the commitment level must not be negative (got {model.level})")
        result.items = _compared(_committed(t, model, start, end), ("provider", "currency"))
        return result
    t = _table_price(t, model) if isinstance(model, PriceTable) else t.mutate(_price=_list_price(t))
    t = t.mutate(provider=t.ProviderName, service=t.ServiceName, currency=currency(t))
    result.items = _compared(_row_wise(t, ("provider", "currency")), ("provider", "currency"))
    result.services = _compared(_row_wise(t, ("provider", "service", "currency")), ("provider", "service", "currency"))
    return result
