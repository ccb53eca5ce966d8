"""`engmetrics insights csat`: CSAT against backend performance (a thin shell over `engmetrics.insights.csat`;
semantics and JSON fields in docs/csat.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..insights.csat_data import last_response_day
from .common import JsonOption, console, emit_json, fail, open_store, state
from .insights import app
from .slo import _specs

if TYPE_CHECKING:
    from ..insights.csat import CsatReport

__all__ = ["csat_command"]

DEFAULT_DAYS = 90


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _print(report: CsatReport) -> None:
    strongest = sorted(report.correlations, key=lambda r: -abs(r["pearson"]))[:15]
    table = Table("segment", "service", "SLI", "lag", "pearson", "95 % interval", "spearman", "n",
                  title=f"Strongest correlations of satisfaction with SLI badness, {report.start} to {report.end}")
    for r in strongest:
        low, high = r["pearson_interval"]
        table.add_row(escape(r["segment"]), escape(r["service"]), r["sli"], f"{r['lag_days']} d", f"{r['pearson']:.2f}",
                      f"{low:.2f} to {high:.2f}", f"{r['spearman']:.2f}", str(r["n"]))
    console.print(table)
    if report.regression:
        fit = report.regression
        reg = Table("term", "estimate", "95 % interval", "p",
                    title=f"Regression (n = {fit.n}, R² = {fit.r_squared:.3f})")
        for c in fit.coefficients:
            reg.add_row(escape(c.term), f"{c.estimate:.4f}", f"{c.interval[0]:.4f} to {c.interval[1]:.4f}",
                        f"{c.p_value:.3g}")
        console.print(reg)
    hidden = Table("segment", "service", "baseline", "recent", "drop", "p (Holm)", "SLOs (all green)",
                   title="Hidden reliability issues")
    for h in report.hidden_issues:
        slos = escape(", ".join(s["slo"] for s in h["slos"]) or "none")
        hidden.add_row(escape(h["segment"]), escape(h["service"]), f"{h['baseline']:.3f}", f"{h['recent']:.3f}",
                       f"{h['drop']:.3f}", f"{h['p_adjusted']:.3g}", slos)
    console.print(hidden if report.hidden_issues else "No hidden reliability issues.")


@app.command("csat")
def csat_command(
    start: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help=(
        f"First day of responses (default: {DEFAULT_DAYS} days before --to)."))] = None,
    end: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help=(
        "Last day of responses, inclusive (default: the last day with a response)."))] = None,
    max_lag: Annotated[int, typer.Option("--max-lag", min=0, max=30, help=(
        "Correlate satisfaction with SLI badness up to this many days earlier."))] = 3,
    as_json: JsonOption = False,
) -> None:
    """Correlate customer satisfaction with SLIs and incidents by segment and lag, regress it on them
    controlling for segment, and list segments whose satisfaction dropped while their SLOs stayed green.

    Example: engmetrics insights csat --from 2026-01-01 --to 2026-03-31 --max-lag 3 --json
    """
    from ..insights.csat import CsatOptions, csat_report  # here: it loads scipy, which other commands skip

    specs = _specs()
    with open_store(read_only=True) as store:
        last = _day(end) or last_response_day(store)
        if last is None:
            raise fail("no csat responses in the store (ingest the csat dataset first)")
        first = _day(start) or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise fail(f"--from {first} is after --to {last}")
        settings = state.settings
        options = CsatOptions(max_lag=max_lag, slo_min_events=settings.slo.min_events,
                              slo_warning_remaining=settings.slo.warning_remaining)
        report = csat_report(store, specs, start=first, end=last, options=options)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print(report)
