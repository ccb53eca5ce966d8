"""Reconciliation across providers: line items against invoices, gaps, duplicates, late data, currencies.

One item per provider (`ProviderName`), billing period (`BillingPeriodStart`) and currency, over the billing
periods starting in `[start, end)` (default: every billing period in the `cost` dataset); every check below sees
only the rows of those periods, and only the invoices of those periods count:

- `line_item_total`: sum of `BilledCost` (invoices bill `BilledCost`, not the amortised `EffectiveCost`).
  `invoices` breaks it down by `InvoiceId` (FOCUS 1.2) when rows carry one.
- `invoice_total`: sum of the totals of the invoices file for that provider and period
  (`load_invoices`; its provider matches `ProviderName` whatever the case, `aws` is `AWS`); `difference =
  line_item_total - invoice_total`, `matches` when |difference| <= `tolerance`. An invoice without any line
  item gives an item with `rows` 0.
- Currency: a row's currency is its `BillingCurrency` trimmed and in upper case (`columns.currency`). Without a
  target currency every item stays in its own. With one, each row is converted by the rates table
  (`load_rates`) at the rate for its UTC charge day: the latest dated rate on or before that day, else an
  undated rate; a rate `to -> from` counts inverted (at the same date a direct rate wins); no chains through a
  third currency. Two different rates for the same pair and date are an input error. A currency without a
  rate is never summed: it is listed in `missing_rates` with its own amounts in `unconverted`, left out of the
  totals, and `difference` is null.
- `missing_days`: UTC days of the billing period, inside the provider's data span (its first to last
  charge day over all periods), on which no row of the period starts a charge of at most one day (the
  hourly or daily rows that make up a day's bill; monthly and one-time rows say nothing about a day). Null
  when the period has no such rows.
- `duplicates`: surplus copies of rows whose every FOCUS column (all columns but `x_row_hash` and the `x_`
  extension columns) is equal: `count - 1` per group, `duplicate_cost` their `BilledCost`. The store keys
  rows by a hash of all their columns, so the same row read twice (a file re-ingested, overlapping exports)
  is one row and never a duplicate; identical rows within one file are kept apart at ingest (the n-th copy
  gets its own key), and rows equal in everything but the export's own ids (`x_extensions`) are separate
  rows. Those two kinds are what this counts: possible double billing to review, not proof. The engine
  finds and counts them; `duplicate_groups` is the number of groups and `duplicates` (top level) the first
  `EXAMPLES` (100) of them, by provider, period, ChargePeriodStart, ResourceId and BilledCost.
- `last_charge_day`: the last UTC day a charge of the period starts; `stops_early` is set on a provider's
  latest period when the provider's last charge day is more than one day before the latest of all providers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError
from ..store import Store
from ..timeutil import as_utc
from .columns import currency
from .pricing import read_records

__all__ = [
    "DEFAULT_TOLERANCE", "EXAMPLES", "RATES_FILES", "Invoice", "Rate", "Rates", "Reconciliation", "default_rates_path",
    "load_invoices", "load_rates", "reconcile",
]

#: The workspace's default exchange-rates files, first found wins.
RATES_FILES = ("budgets/rates.yaml", "budgets/rates.yml", "budgets/rates.csv")

DEFAULT_TOLERANCE = 0.01  # one cent: invoices round each line, line items carry many decimals
_DAY_SECONDS = 86400
_NO_DATE = date(1, 1, 1)  # an undated rate: older than every dated one
EXAMPLES = 100  # duplicate groups shown
_ITEM = ("provider", "period", "currency", "day")  # what a day of an item is keyed by


class Rate(BaseModel):
    """One exchange rate: 1 `from` = `rate` `to`, from `date` on (no date: any day without a dated rate)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    rate: float = Field(gt=0)
    valid_from: date | None = Field(None, alias="date")

    @field_validator("from_", "to")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


class Invoice(BaseModel):
    """One invoice total of a provider's billing period."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1)  # matched to ProviderName whatever the case
    billing_period_start: date
    invoice_id: str | None = None
    total: float
    currency: str = Field(min_length=1)

    @field_validator("billing_period_start", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        return value[:10] if isinstance(value, str) else value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


def _load(path: Path, key: str, model: type[BaseModel]) -> list[tuple[Any, int]]:
    """(model, line) of every record of `path`; InputError naming the file and line of the first invalid one."""
    out = []
    for record, line in read_records(path, key):
        try:
            out.append((model.model_validate(record), line))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InputError(f"{where + ': ' if where else ''}{err['msg']}", file=path, line=line) from None
    return out


def _conflict(rates: Sequence[Rate]) -> tuple[int, int] | None:
    """Positions (earlier, later) of the first two rates of one pair (`from -> to`) and date (or both undated)
    with different values; None when there are none."""
    seen: dict[tuple[str, str, date | None], int] = {}
    for i, r in enumerate(rates):
        first = seen.setdefault((r.from_, r.to, r.valid_from), i)
        if rates[first].rate != r.rate:
            return first, i
    return None


def _conflict_message(a: Rate, b: Rate) -> str:
    when = f"on {b.valid_from.isoformat()}" if b.valid_from else "without a date"
    return f"two different rates for {b.from_} -> {b.to} {when}: {a.rate:g} and {b.rate:g}"


def default_rates_path(root: Path) -> Path | None:
    """The first of `RATES_FILES` the workspace `root` has, else None."""
    return next((root / name for name in RATES_FILES if (root / name).is_file()), None)


def load_rates(path: Path) -> list[Rate]:
    """Rates from CSV (columns from, to, rate, optional date) or YAML (`rates:` list of the same mappings).
    Two different rates for the same pair and date are an InputError naming the file and the later line."""
    found = _load(path, "rates", Rate)
    clash = _conflict([r for r, _ in found])
    if clash is not None:
        (a, first), (b, line) = found[clash[0]], found[clash[1]]
        raise InputError(f"{_conflict_message(a, b)} (line {first})", file=path, line=line)
    return [r for r, _ in found]


def load_invoices(path: Path) -> list[Invoice]:
    """Invoices from CSV (columns provider, billing_period_start, invoice_id, total, currency) or YAML
    (`invoices:` list of the same mappings)."""
    return [i for i, _ in _load(path, "invoices", Invoice)]


class Rates:
    """Rates into one `target` currency, looked up by currency and UTC day (module docstring). Two different
    rates for the same pair and date are an InputError.

    >>> r = Rates([Rate.model_validate({"from": "EUR", "to": "USD", "rate": 1.1}),
    ...            Rate.model_validate({"from": "EUR", "to": "USD", "rate": 1.2, "date": "2026-01-03"}),
    ...            Rate.model_validate({"from": "USD", "to": "GBP", "rate": 0.5})], "USD")
    >>> [r.rate(c, date(2026, 1, d)) for c, d in (("EUR", 2), ("EUR", 3), ("GBP", 1), ("CHF", 1), ("USD", 1))]
    [1.1, 1.2, 2.0, None, 1.0]
    """

    def __init__(self, rates: Sequence[Rate], target: str) -> None:
        clash = _conflict(rates)
        if clash is not None:
            raise InputError(_conflict_message(rates[clash[0]], rates[clash[1]]))
        self.target = target
        self._by: dict[str, list[tuple[date, int, float]]] = {}
        for r in rates:
            if r.to == target and r.from_ != target:
                self._by.setdefault(r.from_, []).append((r.valid_from or _NO_DATE, 1, r.rate))
            elif r.from_ == target and r.to != target:
                self._by.setdefault(r.to, []).append((r.valid_from or _NO_DATE, 0, 1 / r.rate))

    def rate(self, currency: str | None, day: date) -> float | None:
        """1 `currency` in `target` on `day`: the latest dated rate on or before it, else an undated one (a
        direct rate before an inverted one of the same date: the pair and date give one rate); None without."""
        if currency == self.target:
            return 1.0
        usable = [e for e in self._by.get(currency or "", []) if e[0] <= day]
        return max(usable)[2] if usable else None


@dataclass
class _Item:
    """The sums of one (provider, period, currency) item while reconciling."""

    total: float = 0.0
    rows: int = 0
    by_invoice: dict[str, float] = field(default_factory=dict)
    unconverted: dict[str, list] = field(default_factory=dict)  # currency -> [amount, rows]
    invoice_total: float | None = None
    invoices: dict[str, float] = field(default_factory=dict)
    missing_rates: set[str] = field(default_factory=set)
    duplicates: int = 0
    duplicate_cost: float = 0.0


@dataclass
class Reconciliation:
    """`engmetrics cost reconcile`; `to_dict()` is its `--json`."""

    currency: str | None
    tolerance: float
    start: datetime | None = None
    end: datetime | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    duplicate_groups: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "tolerance": self.tolerance, "from": self.start, "to": self.end,
                "items": self.items, "providers": self.providers, "duplicate_groups": self.duplicate_groups,
                "duplicates": self.duplicates}


def _rows(store: Store, start: datetime | None, end: datetime | None) -> ir.Table:
    t = store.table("cost")
    if start is not None:
        t = t.filter(t.BillingPeriodStart >= as_utc(start))
    if end is not None:
        t = t.filter(t.BillingPeriodStart < as_utc(end))
    return t.mutate(provider=t.ProviderName, period=t.BillingPeriodStart.date(), currency=currency(t),
                    day=t.ChargePeriodStart.date())


def _daily(t: ir.Table) -> list[dict[str, Any]]:
    """BilledCost per provider, period, currency, UTC charge day and invoice, with the count of rows and of
    rows charging at most one day. The engine does the heavy sum; the rest works on this small result."""
    short = (t.ChargePeriodEnd.epoch_seconds() - t.ChargePeriodStart.epoch_seconds()) <= _DAY_SECONDS
    rows = t.group_by(["provider", "period", "currency", "day", t.InvoiceId.name("invoice_id")]).aggregate(
        period_end=t.BillingPeriodEnd.date().max(), billed=t.BilledCost.sum(), rows=t.count(),
        short_rows=t.count(where=short))
    return rows.to_pyarrow().to_pylist()


def _duplicate_groups(t: ir.Table) -> ir.Table:
    """Groups of rows equal in every FOCUS column (`copies` > 1), with their row hashes (`first_hash`, the
    smallest, orders groups that tie on everything shown). A group_by: faster here than a window count."""
    spec = [c for c in t.columns if not c.startswith("x_") and c not in _ITEM]
    groups = t.group_by([*spec, *_ITEM]).aggregate(copies=t.count(), row_hashes=t.x_row_hash.collect(),
                                                   first_hash=t.x_row_hash.min())
    return groups.filter(groups.copies > 1)


def _duplicates(t: ir.Table) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(surplus copies, their summed BilledCost and the groups per provider, period, currency and UTC day; the
    first EXAMPLES groups with what they are and their row hashes). Only these small results leave the engine;
    the groups are computed once, into a temporary table both read."""
    with _duplicate_groups(t).cache() as groups:
        surplus = groups.copies - 1
        per_day = groups.group_by(list(_ITEM)).aggregate(duplicates=surplus.sum(), groups=groups.count(),
                                                          billed=(groups.BilledCost * surplus).sum())
        shown = groups.order_by(["provider", "period", "ChargePeriodStart", "ResourceId", "BilledCost", "first_hash"])
        shown = shown.limit(EXAMPLES).select(*_ITEM, "ChargePeriodStart", "ChargeCategory", "ServiceName", "SkuId",
                                             "ResourceId", "BilledCost", "copies", "row_hashes")
        examples, counts = shown.to_pyarrow().to_pylist(), per_day.to_pyarrow().to_pylist()
    for r in examples:  # an engine may hand back naive UTC instants (PySpark)
        r["row_hashes"], r["ChargePeriodStart"] = sorted(r["row_hashes"]), as_utc(r["ChargePeriodStart"])
    return counts, examples


def _day_checks(daily: list[dict[str, Any]]) -> tuple[dict[tuple, list[str]], dict[tuple, date], list[dict]]:
    """Missing days and last charge day per (provider, period), and the per-provider stops-early check."""
    present: dict[tuple, set[date]] = {}
    ends: dict[tuple, date] = {}
    last: dict[tuple, date] = {}
    span: dict[Any, tuple[date, date]] = {}
    for r in daily:
        key = (r["provider"], r["period"])
        last[key] = max(last.get(key, r["day"]), r["day"])
        ends[key] = max(ends.get(key, r["period_end"]), r["period_end"])
        if r["short_rows"]:
            present.setdefault(key, set()).add(r["day"])
            lo, hi = span.get(r["provider"], (r["day"], r["day"]))
            span[r["provider"]] = (min(lo, r["day"]), max(hi, r["day"]))
    missing = {}
    for key, days in present.items():
        lo, hi = span[key[0]]
        first, stop = max(key[1], lo), min(ends[key] - timedelta(days=1), hi)
        expected = (first + timedelta(days=i) for i in range((stop - first).days + 1))
        missing[key] = [d.isoformat() for d in expected if d not in days]
    return missing, last, _providers(last)


def _providers(last: dict[tuple, date]) -> list[dict[str, Any]]:
    by_provider: dict[Any, dict[str, Any]] = {}
    for (provider, period), day in sorted(last.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        p = by_provider.setdefault(provider, {"provider": provider, "last_charge_day": day, "latest_period": period})
        p["last_charge_day"], p["latest_period"] = max(p["last_charge_day"], day), period
    latest = max((p["last_charge_day"] for p in by_provider.values()), default=None)
    for p in by_provider.values():
        p["days_behind"] = (latest - p["last_charge_day"]).days
        p["stops_early"] = p["days_behind"] > 1
    return list(by_provider.values())


def _rate(rates: Rates | None, code: str | None, day: date) -> tuple[str | None, float | None]:
    """(the item's currency, the factor into it) for an amount in currency `code` on `day`."""
    return (code, 1.0) if rates is None else (rates.target, rates.rate(code, day))


def _add_lines(items: dict[tuple, _Item], daily: list[dict[str, Any]], rates: Rates | None) -> None:
    for r in daily:
        unit, rate = _rate(rates, r["currency"], r["day"])
        item = items.setdefault((r["provider"], r["period"], unit), _Item())
        item.rows += r["rows"]
        if rate is None:
            left = item.unconverted.setdefault(r["currency"] or "(none)", [0.0, 0])
            left[0], left[1] = left[0] + r["billed"], left[1] + r["rows"]
            item.missing_rates.add(r["currency"] or "(none)")
            continue
        item.total += r["billed"] * rate
        if r["invoice_id"] is not None:
            item.by_invoice[r["invoice_id"]] = item.by_invoice.get(r["invoice_id"], 0.0) + r["billed"] * rate


def _add_invoices(items: dict[tuple, _Item], invoices: Sequence[Invoice], rates: Rates | None,
                  providers: dict[str, Any]) -> None:
    """Add the invoices; `providers` spells each provider of the line items, by its name in lower case."""
    for i in invoices:
        unit, rate = _rate(rates, i.currency, i.billing_period_start)
        provider = providers.get(i.provider.strip().lower(), i.provider)
        item = items.setdefault((provider, i.billing_period_start, unit), _Item())
        item.invoice_total = item.invoice_total or 0.0
        if rate is None:
            item.missing_rates.add(i.currency)
            continue
        item.invoice_total += i.total * rate
        if i.invoice_id is not None:
            item.invoices[i.invoice_id] = item.invoices.get(i.invoice_id, 0.0) + i.total * rate


def _add_duplicates(items: dict[tuple, _Item], per_day: list[dict[str, Any]], rates: Rates | None) -> None:
    for g in per_day:
        unit, rate = _rate(rates, g["currency"], g["day"])
        item = items.setdefault((g["provider"], g["period"], unit), _Item())
        item.duplicates += g["duplicates"]
        if rate is not None and g["billed"] is not None:
            item.duplicate_cost += g["billed"] * rate


def _invoice_breakdown(item: _Item) -> list[dict[str, Any]]:
    out = []
    for invoice_id in sorted(set(item.by_invoice) | set(item.invoices)):
        line, bill = item.by_invoice.get(invoice_id, 0.0), item.invoices.get(invoice_id)
        out.append({"invoice_id": invoice_id, "line_item_total": line, "invoice_total": bill,
                    "difference": None if bill is None else line - bill})
    return out


def _in_window(day: date, start: datetime | None, end: datetime | None) -> bool:
    """Whether a billing period starting on UTC `day` starts in `[start, end)`."""
    instant = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (start is None or instant >= as_utc(start)) and (end is None or instant < as_utc(end))


def reconcile(store: Store, *, rates: Sequence[Rate] = (), target: str | None = None,
              invoices: Sequence[Invoice] = (), tolerance: float = DEFAULT_TOLERANCE,
              start: datetime | None = None, end: datetime | None = None) -> Reconciliation:
    """Reconcile the store's cost over the billing periods starting in `[start, end)` (module docstring)."""
    target = target.strip().upper() if target else None
    table = Rates(rates, target) if target else None
    t = _rows(store, start, end)
    daily, (per_day, examples) = _daily(t), _duplicates(t)
    items: dict[tuple, _Item] = {}
    _add_lines(items, daily, table)
    spelled = {str(p).lower(): p for p in sorted({r["provider"] for r in daily if r["provider"] is not None})}
    _add_invoices(items, [i for i in invoices if _in_window(i.billing_period_start, start, end)], table, spelled)
    _add_duplicates(items, per_day, table)
    missing, last, providers = _day_checks(daily)
    late = {(p["provider"], p["latest_period"]) for p in providers if p["stops_early"]}
    result = Reconciliation(target, tolerance, as_utc(start) if start else None, as_utc(end) if end else None,
                            providers=providers, duplicates=examples,
                            duplicate_groups=sum(g["groups"] for g in per_day))
    for key in sorted(items, key=lambda k: tuple(str(v) for v in k)):
        item = items[key]
        diff = None if item.invoice_total is None or item.missing_rates else item.total - item.invoice_total
        result.items.append({
            "provider": key[0], "billing_period_start": key[1], "currency": key[2], "line_item_total": item.total,
            "rows": item.rows, "invoice_total": item.invoice_total, "difference": diff,
            "matches": None if diff is None else abs(diff) <= tolerance, "invoices": _invoice_breakdown(item),
            "missing_days": missing.get(key[:2]), "duplicates": item.duplicates,
            "duplicate_cost": item.duplicate_cost, "last_charge_day": last.get(key[:2]),
            "stops_early": key[:2] in late, "missing_rates": sorted(item.missing_rates),
            "unconverted": [{"currency": c, "amount": a, "rows": n} for c, (a, n) in sorted(item.unconverted.items())]})
    return result
