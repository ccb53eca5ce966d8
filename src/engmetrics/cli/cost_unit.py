"""`engmetrics cost unit` (cost per unit of business volume) and `engmetrics cost whatif` (re-pricing under
another pricing model). Thin shells over `engmetrics.cost.unit.unit_costs` and
`engmetrics.cost.pricing.what_if` (semantics there and in docs/cost.md).

`--from` / `--to` are read like `engmetrics incidents stats`. Without them the window ends at the UTC midnight
after the last charge in the store (billing data arrives late) and starts whole periods earlier: about 28
days, 12 weeks or 6 months for `--period day|week|month`; `whatif` takes the 28 days before that end."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..cost.allocation import load_allocation_rules
from ..cost.commitments import DEFAULT_DISCOUNT, data_end
from ..cost.pricing import Committed, OnDemand, WhatIf, load_price_table, what_if
from ..cost.unit import PERIODS, default_unit_window, unit_costs
from ..errors import EngmetricsError
from ..store import Store
from ..timeutil import DEFAULT_WINDOW_DAYS, default_window
from .common import JsonOption, console, emit_json, fail, open_store, state
from .cost_format import money, number
from .incidents_stats import FromOption, ToOption, parse_window

__all__ = ["unit_command", "whatif_command"]


def _end(store: Store, stop: datetime | None) -> datetime:
    return stop or data_end(store) or default_window(None, None)[1]


def unit_command(
    metric: Annotated[str | None, typer.Option("--metric", help="Only this business_volume metric (default: each "
                                               "metric of each service).")] = None,
    period: Annotated[str, typer.Option("--period", help="day, week (ISO, Monday first) or month.")] = "month",
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cost per unit of business volume (allocated EffectiveCost / business_volume) per service and period, with the
    change from the period before.

    Example: engmetrics cost unit --metric orders --period week --from 2026-01-05 --to 2026-04-06 --json
    """
    if period not in PERIODS:
        raise fail(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    begin, stop = parse_window(start, end)
    try:
        rules = load_allocation_rules(state.settings.workspace)
        with open_store(read_only=True) as store:
            stop = _end(store, stop)
            begin = begin or default_unit_window(stop, period)[0]  # type: ignore[arg-type]
            if stop <= begin:
                raise fail(f"--to ({stop.isoformat()}) must be after --from ({begin.isoformat()})")
            items = unit_costs(store, rules, begin, stop, period, metric)  # type: ignore[arg-type]
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json({"period": period, "metric": metric, "from": begin, "to": stop, "items": items})
        return
    table = Table("service", "metric", "period", "cost", "volume", "cost / unit", "change", "currency",
                  title=f"Cost per unit by {period}, {begin.date()} to {(stop - timedelta(microseconds=1)).date()}")
    for i in items:
        table.add_row(i["service"], i["metric"], i["period_start"].isoformat(), money(i["cost"]),
                      number(i["volume"], "{:,.2f}"), number(i["cost_per_unit"], "{:,.6g}"),
                      number(i["change"], "{:+.1%}"), i["currency"] or "-")
    console.print(table)


def _model(model: str, level: float | None, discount: float) -> OnDemand | Committed:
    if model == "on-demand":
        return OnDemand()
    return Committed(level=level, discount=discount)


def _whatif_table(result: WhatIf) -> Table:
    table = Table("provider", "paid", "re-priced", "difference", "share", "unpriced rows", "currency",
                  title=f"What if: {result.model}, {result.start.date()} to "
                        f"{(result.end - timedelta(microseconds=1)).date()} (usage, EffectiveCost)")
    for i in result.items:
        extra = f" (level {i['level_per_hour']:,.4g}/h)" if "level_per_hour" in i else ""
        table.add_row(f"{i['provider'] or '-'}{extra}", money(i["paid"]), money(i["repriced"]), money(i["difference"]),
                      number(i["difference_share"], "{:+.1%}"), str(i["unpriced_rows"]), i["currency"] or "-")
    return table


def whatif_command(
    model: Annotated[str, typer.Argument(help="on-demand, committed, or a price table file (CSV or YAML: SkuId or "
                                         "ServiceName, unit_price, optional currency).")],
    level: Annotated[float | None, typer.Option("--level", min=0, help="committed: on-demand-equivalent "
                                                "commitment per hour (default: the best level per provider).")] = None,
    discount: Annotated[float, typer.Option("--discount", min=0, max=0.99, help="committed: discount against "
                                            "on-demand.")] = DEFAULT_DISCOUNT,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-price the window's usage under another pricing model (on-demand, a commitment, or a price table) and
    compare with what was paid (EffectiveCost).

    Example: engmetrics cost whatif committed --level 12.5 --discount 0.3 --from 2026-03-01 --to 2026-04-01 --json
    """
    begin, stop = parse_window(start, end)
    try:
        chosen = _model(model, level, discount) if model in ("on-demand", "committed") else load_price_table(
            Path(model))
        with open_store(read_only=True) as store:
            stop = _end(store, stop)
            begin = begin or stop - timedelta(days=DEFAULT_WINDOW_DAYS)
            if stop <= begin:
                raise fail(f"--to ({stop.isoformat()}) must be after --from ({begin.isoformat()})")
            result = what_if(store, chosen, begin, stop)
    except EngmetricsError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(_whatif_table(result))
