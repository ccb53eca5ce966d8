"""`engmetrics cost reconcile`: line items against invoices, missing days, duplicated line items and providers
whose data stops early, per provider and billing period, in one currency when given rates. A thin shell over
`engmetrics.cost.reconcile.reconcile` (semantics there and in docs/cost.md).

`--rates` defaults to `budgets/rates.yaml` (or `.csv`) in the workspace when present; `--from` / `--to` pick the
billing periods that start in that window (default: every billing period in the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..cost.reconcile import (
    DEFAULT_TOLERANCE,
    Reconciliation,
    default_rates_path,
    load_invoices,
    load_rates,
    reconcile,
)
from ..errors import EngmetricsError
from .common import JsonOption, console, emit_json, fail, open_store, state
from .cost_format import money
from .incidents_stats import parse_window

__all__ = ["reconcile_command"]

PeriodsFrom = Annotated[str | None, typer.Option("--from", help="Only billing periods starting at or after this, ISO "
                                                 "date or instant (UTC unless it has an offset; default: all).")]
PeriodsTo = Annotated[str | None, typer.Option("--to", help="Only billing periods starting before this (a date "
                                               "alone includes that day; default: all).")]


def _table(result: Reconciliation) -> Table:
    table = Table("provider", "period", "line items", "invoices", "difference", "missing days", "duplicates",
                  "last charge", "stops early", "currency", title="Reconciliation per provider and billing period")
    for i in result.items:
        days = i["missing_days"]
        shown = "-" if days is None else (", ".join(days[:3]) + (f" (+{len(days) - 3})" if len(days) > 3 else "")
                                          if days else "0")
        gaps = " *" if i["missing_rates"] else ""
        table.add_row(i["provider"] or "-", i["billing_period_start"].isoformat(), money(i["line_item_total"]) + gaps,
                      money(i["invoice_total"]), money(i["difference"]), shown, str(i["duplicates"]),
                      i["last_charge_day"].isoformat() if i["last_charge_day"] else "-",
                      "yes" if i["stops_early"] else "", i["currency"] or "-")
    return table


def reconcile_command(
    rates: Annotated[Path | None, typer.Option("--rates", help="Exchange rates, CSV or YAML: from, to, rate, optional "
                                               "date (default budgets/rates.yaml when present).")] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="Convert every amount into this currency "
                                                 "(default USD when there are rates, else none).")] = None,
    invoices: Annotated[Path | None, typer.Option("--invoices", help="Invoice totals, CSV or YAML: provider, "
                                                  "billing_period_start, invoice_id, total, currency.")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0, help="Largest difference that still "
                                             "matches.")] = DEFAULT_TOLERANCE,
    start: PeriodsFrom = None,
    end: PeriodsTo = None,
    as_json: JsonOption = False,
) -> None:
    """Line items against invoice totals per provider and billing period, with missing days, duplicated line items,
    providers whose data stops early, and currencies normalised through a rates table.

    Example: engmetrics cost reconcile --from 2026-01-01 --to 2026-03-31 --invoices invoices.csv --json
    """
    begin, stop = parse_window(start, end)
    try:
        path = rates or default_rates_path(state.settings.workspace)
        table = load_rates(path) if path else []
        bills = load_invoices(invoices) if invoices else []
        target = currency or ("USD" if table else None)
        with open_store(read_only=True) as store:
            result = reconcile(store, rates=table, target=target, invoices=bills, tolerance=tolerance, start=begin,
                               end=stop)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(_table(result))
    left = [f"{i['provider'] or '-'} {u['amount']:,.2f} {u['currency'] or '(none)'}"
            for i in result.items for u in i["unconverted"]]
    if left:
        console.print(f"* Not converted, no rate into {result.currency}: {'; '.join(left)}")
    late = [p["provider"] or "-" for p in result.providers if p["stops_early"]]
    if late:
        console.print(f"Data stops early: {', '.join(late)}")
