"""`engmetrics incidents fatigue`: alert fatigue per rule, team or rotation, interruptions in the responder's
own hours, load fairness per rotation and rules to retire or tune. A thin shell over
`engmetrics.incidents.fatigue`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..incidents.fatigue import GROUPINGS, fatigue_report
from .common import JsonOption, console, emit_json, fail, open_store, state, stderr
from .incidents_stats import FromOption, ToOption, default_window, parse_window

__all__ = ["fatigue_command"]


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
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Alert fatigue: alerts per shift, acknowledged, actionable, auto-resolved and flapping shares, work
    after acknowledgment, duplicates, pages by band of the responder's local time (business, off, sleep),
    the Gini of load per rotation, and recommendations per rule. Default window: the 28 days before --to
    (default now). Unknown time zones are reported on stderr (and in the JSON's `warnings`).

    Example: engmetrics incidents fatigue --by rotation --from 2026-01-01 --to 2026-04-01 --json
    """
    if by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    begin, stop = default_window(*parse_window(start, end))
    settings = state.settings
    with open_store(read_only=True) as store:
        try:
            report = fatigue_report(store, settings.incidents, by=by, start=begin, end=stop,  # type: ignore[arg-type]
                                    min_group_size=settings.privacy.min_group_size)
        except ValueError as exc:  # an unreadable work_days value
            raise fail(str(exc)) from None
    for warning in report.warnings:
        stderr.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if as_json:
        emit_json(report.to_dict())
        return
    if not report.items:
        console.print(f"no alerts from {begin:%Y-%m-%d %H:%M} to {stop:%Y-%m-%d %H:%M} UTC")
        return
    console.print(_items_table(report.items, by))
    console.print(_fairness_table(report.fairness))
    for r in report.recommendations:
        evidence = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in r["evidence"].items())
        console.print(f"[yellow]{escape(r['rule'])}[/]: {escape(r['action'])} ({escape(evidence)})")
