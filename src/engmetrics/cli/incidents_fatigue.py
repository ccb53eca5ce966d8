"""`engmetrics incidents fatigue`: alert fatigue per rule, team or rotation, interruptions in the responder's
own hours, load fairness per rotation and rules to retire or tune. A thin shell over
`engmetrics.incidents.fatigue`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..incidents.fatigue import GROUPINGS, fatigue_report
from ..timeutil import as_utc
from .common import JsonOption, console, emit_json, fail, open_store, state

__all__ = ["fatigue_command"]

_DEFAULT_DAYS = 28


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _items_table(items: list[dict[str, Any]], by: str) -> Table:
    table = Table(by, "alerts", "per shift", "acked", "actionable", "auto-resolved", "flapping", "work/ack",
                  "duplicates", "business", "off", "sleep", title="Alert fatigue")
    for i in items:
        bands = i["interruptions"]
        table.add_row(escape(str(i[by] if i[by] is not None else "(none)")), str(i["alerts"]),
                      _num(i["alerts_per_shift"]), _pct(i["acknowledged_share"]), _pct(i["actionable_share"]),
                      _pct(i["auto_resolved_share"]), _pct(i["flapping_share"]), _num(i["ack_to_resolve_ratio"]),
                      str(i["duplicate_alerts"]), str(bands["business"]), str(bands["off"]), str(bands["sleep"]))
    return table


def _fairness_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("rotation", "people", "pages", "Gini pages", "Gini sleep", title="Load fairness (0 = equal)")
    for r in rows:
        table.add_row(escape(r["rotation"]), str(r["people"]), str(r["pages"]),
                      _num(r["gini_pages"]) if r["status"] == "ok" else "too few people", _num(r["gini_sleep"]))
    return table


def fatigue_command(
    by: Annotated[str, typer.Option("--by", help="Group by rule, team or rotation.")] = "rule",
    start: Annotated[datetime | None, typer.Option(
        "--from", help=f"Start (UTC unless it has an offset; default: {_DEFAULT_DAYS} days before --to).")] = None,
    end: Annotated[datetime | None, typer.Option(
        "--to", help="End, exclusive (UTC unless it has an offset; default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Alert fatigue: alerts per shift, acknowledged, actionable, auto-resolved and flapping shares, work
    after acknowledgment, duplicates, pages by band of the responder's local time (business, off, sleep),
    the Gini of load per rotation, and recommendations per rule.

    Example: engmetrics incidents fatigue --by rotation --from 2026-01-01 --to 2026-04-01 --json
    """
    if by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    end = as_utc(end) if end else datetime.now(UTC).replace(microsecond=0)
    start = as_utc(start) if start else end - timedelta(days=_DEFAULT_DAYS)
    if start >= end:
        raise fail(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    settings = state.settings
    with open_store(read_only=True) as store:
        try:
            report = fatigue_report(store, settings.incidents, by=by, start=start, end=end,  # type: ignore[arg-type]
                                    min_group_size=settings.privacy.min_group_size)
        except ValueError as exc:  # an unknown time zone or an unreadable work_days value
            raise fail(str(exc)) from None
    if as_json:
        emit_json(report.to_dict())
        return
    if not report.items:
        console.print(f"no alerts from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
        return
    console.print(_items_table(report.items, by))
    console.print(_fairness_table(report.fairness))
    for r in report.recommendations:
        evidence = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in r["evidence"].items())
        console.print(f"[yellow]{escape(r['rule'])}[/]: {escape(r['action'])} ({escape(evidence)})")
