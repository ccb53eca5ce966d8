"""`engmetrics delivery dora`: deployment frequency, change lead time, change fail rate, failed deployment
recovery time and rework rate per group, banded against a published DORA table. A thin shell over
`engmetrics.delivery.dora.dora_metrics` (semantics there and in docs/delivery.md).

`--from` / `--to` are read like `engmetrics incidents stats` (ISO dates or instants, UTC unless they carry an
offset, `--to` exclusive, a date alone as `--to` includes that day); the default period is the 28 days
before `--to` (default now). The table shows, in brackets, the change of deployments per day, each p50 (hours) and
each rate (percentage points) from the period of the same length before (`previous` in `--json`), marked "noise"
when the 95 % interval of a p50's change holds 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from ..delivery.benchmarks import available_benchmarks
from ..delivery.change_links import DEFAULT_LOOKBACK_DAYS
from ..delivery.dora import GROUPINGS, DoraGroup, DoraScope, dora_metrics
from ..errors import InputError
from .common import JsonOption, console, emit_json, fail, open_store, state
from .incidents_stats import FromOption, ToOption, default_window, parse_window

__all__ = ["dora_command"]


def _num(value: object, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _hours(change: float) -> str:
    return f"{change:+.1f} h"


def _points(change: float) -> str:
    return f"{change * 100:+.0f} pt"


def _cell(value: str, band: str | None, previous: dict, show: Callable[[float], str]) -> str:
    """A value with its band and, in brackets, its change from the previous period (``noise``: within noise)."""
    text = f"{value} {band or ''}".rstrip()
    if previous["change"] is None:
        return text
    return f"{text} ({show(previous['change'])}{' noise' if previous.get('within_noise') else ''})"


def _table(groups: list[DoraGroup], by: str | None, benchmark: str) -> Table:
    table = Table(by or "group", "deploys", "per day", "days/week", "lead p50 h", "lead p90 h", "lead n",
                  "fail rate", "failed/total", "recovery p50 h", "recovery n", "rework",
                  title=f"DORA metrics (bands: DORA {benchmark}; in brackets: change from the previous period)")
    for g in groups:
        r = g.to_dict()
        df, lt, cfr, rt, rw, prev = (r[k] for k in ("deployment_frequency", "lead_time", "change_fail_rate",
                                                    "recovery_time", "rework_rate", "previous"))
        lead = _cell(_num(lt["p50_hours"]), lt["band"], prev["lead_time"], _hours)
        table.add_row(
            g.group, str(g.deployments),
            _cell(_num(df["per_day"], "{:.2f}"), df["band"], prev["deployment_frequency"], "{:+.2f}".format),
            _num(df["deploy_days_per_week"]), "suppressed" if lt["suppressed"] else lead,
            _num(lt["p90_hours"]), str(lt["n"]),
            _cell(_num(cfr["value"], "{:.0%}"), cfr["band"], prev["change_fail_rate"], _points),
            f"{cfr['failed']}/{cfr['total']}",
            _cell(_num(rt["p50_hours"]), rt["band"], prev["recovery_time"], _hours), str(rt["n"]),
            _cell(_num(rw["value"], "{:.0%}"), None, prev["rework_rate"], _points))
    return table


def dora_command(
    by: Annotated[str | None, typer.Option("--by", help=f"Group by {' or '.join(GROUPINGS)}.")] = None,
    start: FromOption = None,
    end: ToOption = None,
    benchmark: Annotated[str, typer.Option("--benchmark", help="DORA table for the bands: "
                                           f"{', '.join(available_benchmarks())}.")] = "2024",
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only services of this team.")] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="Only changes of this repository.")] = None,
    path_prefix: Annotated[str | None, typer.Option("--path-prefix", help="Only changes touching paths with "
                                                    "this prefix (monorepos).")] = None,
    lookback_days: Annotated[float, typer.Option("--lookback-days", min=0, help="Changes a service's first "
                                                 "deployment may take.")] = DEFAULT_LOOKBACK_DAYS,
    as_json: JsonOption = False,
) -> None:
    """DORA metrics per group with bootstrap intervals and bands from a published DORA table.

    Example: engmetrics delivery dora --by team --from 2026-01-01 --to 2026-04-01 --benchmark 2024 --json
    """
    if by is not None and by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)} (got {by!r})")
    if benchmark not in available_benchmarks():
        raise fail(f"--benchmark must be one of {', '.join(available_benchmarks())} (got {benchmark!r})")
    begin, stop = default_window(*parse_window(start, end))
    settings = state.settings
    try:
        with open_store(read_only=True) as store:
            groups = dora_metrics(store, settings.delivery, start=begin, end=stop, by=by,  # type: ignore[arg-type]
                                  benchmark=benchmark, scope=DoraScope(service, team, repo, path_prefix),
                                  deploy_window_hours=settings.incidents.deploy_window_hours,
                                  lookback_days=lookback_days, min_group_size=settings.privacy.min_group_size)
    except InputError as exc:
        raise fail(exc) from None
    if as_json:
        emit_json([g.to_dict() for g in groups])
        return
    console.print(_table(groups, by, benchmark))
