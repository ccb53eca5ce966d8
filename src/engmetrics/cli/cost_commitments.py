"""`engmetrics cost commitments`: utilisation and coverage of reservations and savings plans, and a commitment
recommendation from the hourly on-demand spend. A thin shell over
`engmetrics.cost.commitments.commitments_report` (semantics there and in docs/cost.md).

The window is the `--lookback-days` days before `--to` (default: the UTC midnight after the last charge in
the store, since billing data arrives late)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..cost.commitments import CommitmentsReport, commitments_report
from ..errors import InputError
from .common import JsonOption, console, emit_json, fail, open_store, state
from .cost_format import money, pct
from .incidents_stats import ToOption, parse_window

__all__ = ["commitments_command", "parse_discounts"]


def parse_discounts(values: list[str]) -> dict[str, float]:
    """`PROVIDER=RATE` options as a mapping; exit 1 on a malformed one."""
    out = {}
    for value in values:
        provider, _, text = value.rpartition("=")
        try:
            rate = float(text)
        except ValueError:
            rate = -1.0
        if not provider or not 0 <= rate < 1:
            raise fail(f"--provider-discount: expected PROVIDER=RATE with 0 <= RATE < 1 (got {value!r})")
        out[provider] = rate
    return out


def _tables(report: CommitmentsReport) -> list[Table]:
    period = f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
    used = Table("commitment", "type", "category", "provider", "used", "unused", "utilisation", "quantity util.",
                 "purchased", "currency", title=f"Commitment utilisation, {period}")
    for i in report.items:
        used.add_row(i["commitment_id"], i["type"] or "-", i["category"] or "-", i["provider"] or "-",
                     money(i["used_cost"]), money(i["unused_cost"]), pct(i["utilization"]),
                     pct(i["quantity_utilization"]), money(i["purchase_cost"]), i["currency"] or "-")
    covered = Table("provider", "covered", "eligible", "coverage", "coverage (list)", "currency",
                    title=f"Commitment coverage of eligible usage (eligible by {report.eligible_by})")
    for c in report.coverage:
        covered.add_row(c["provider"] or "-", money(c["covered_cost"]), money(c["eligible_cost"]),
                        pct(c["coverage"]), pct(c["coverage_list"]), c["currency"] or "-")
    advice = Table("provider", "hours", "discount", "level / hour", "savings", "savings share", "unused hours",
                   "unused cost", "currency", "status",
                   title=f"Recommended commitment over the last {report.lookback_days} days of on-demand spend")
    for r in report.recommendations:
        advice.add_row(r["provider"] or "-", str(r["hours"]), pct(r["discount"]), money(r["level_per_hour"]),
                       money(r["savings"]), pct(r["savings_share"]), pct(r["unused_hours_share"]),
                       money(r["expected_unused_cost"]), r["currency"] or "-", r["status"])
    return [used, covered, advice]


def commitments_command(
    lookback_days: Annotated[int | None, typer.Option("--lookback-days", min=1, max=366, help=(
        "Days before --to judged (30 or 60 usual; default 30 or the settings' cost.commitments)."))] = None,
    discount: Annotated[float | None, typer.Option("--discount", min=0, max=0.99, help=(
        "Commitment discount against on-demand for the recommendation (default 0.3)."))] = None,
    provider_discount: Annotated[list[str] | None, typer.Option("--provider-discount", help=(
        "PROVIDER=RATE, a provider's own discount (repeatable)."))] = None,
    service: Annotated[list[str] | None, typer.Option("--service", help=(
        "Only these services (ServiceName) are eligible for the recommendation (repeatable); default: "
        "ServiceCategory Compute and Databases plus services with commitments."))] = None,
    eligible_by: Annotated[str, typer.Option("--eligible-by", help=(
        "Coverage counts usage of the services (service) or SKUs (sku) that have commitment rows."))] = "service",
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Utilisation and coverage of reservations and savings plans, and the commitment level that would have saved
    most over the lookback, with its risk of unused commitment.

    Example: engmetrics cost commitments --lookback-days 60 --discount 0.3 --provider-discount AWS=0.35 --json
    """
    if eligible_by not in ("service", "sku"):
        raise fail(f"--eligible-by must be service or sku (got {eligible_by!r})")
    settings = state.settings.cost.commitments
    discounts = {**settings.discounts, **parse_discounts(provider_discount or [])}
    _, stop = parse_window(None, end)
    try:
        with open_store(read_only=True) as store:
            report = commitments_report(
                store, lookback_days=lookback_days or settings.lookback_days, end=stop,
                discount=settings.discount if discount is None else discount, discounts=discounts,
                services=service or settings.services, eligible_by=eligible_by)  # type: ignore[arg-type]
    except (InputError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        emit_json(report.to_dict())
        return
    for table in _tables(report):
        console.print(table)
