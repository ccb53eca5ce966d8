"""`engmetrics delivery cycle-time` (stage durations in wall and working hours) and `engmetrics delivery
reviews` (review bottlenecks and regions). Thin shells over `engmetrics.delivery.cycle_time` and `.reviews`.

`--from` / `--to` bound `merged_at` (reviews: also `submitted_at` for reviewer load) and are read like
`engmetrics incidents stats`; the default period is the 28 days before `--to` (default now), as for
`engmetrics delivery dora` (`engmetrics.timeutil.default_window`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..delivery.cycle_time import GROUPINGS, STAGES, cycle_time_stats
from ..delivery.reviews import review_report
from .common import JsonOption, console, emit_json, fail, open_store, state
from .incidents_stats import FromOption, ToOption, default_window, parse_window

__all__ = ["cycle_time_command", "reviews_command"]


def _h(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def cycle_time_command(
    by: Annotated[str | None, typer.Option("--by", help=f"Group by {' or '.join(GROUPINGS)}.")] = None,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cycle time per stage (coding, pickup, review, deploy): p50 and p90 in wall-clock and working hours.

    Changes merged from --from to --to (default: the 28 days before --to, --to default now).

    Example: engmetrics delivery cycle-time --by team --from 2026-01-01 --to 2026-04-01 --json
    """
    if by is not None and by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)} (got {by!r})")
    begin, stop = default_window(*parse_window(start, end))
    settings = state.settings
    with open_store(read_only=True) as store:
        groups = cycle_time_stats(store, settings.delivery, by=by, start=begin, end=stop,  # type: ignore[arg-type]
                                  min_group_size=settings.privacy.min_group_size)
    if as_json:
        emit_json([g.to_dict() for g in groups])
        return
    table = Table(by or "group", "n", "PR size p50", "stage", "n stage", "wall p50 h", "wall p90 h",
                  "working p50 h", "working p90 h", title="Cycle time (merged changes; team-level aggregates)")
    for g in groups:
        if g.suppressed:
            table.add_row(g.group, "suppressed", "-", "-", "-", "-", "-", "-", "-")
            continue
        for s in STAGES:
            v = g.stages[s]
            table.add_row(g.group, str(g.n), _h(g.pr_size_p50), s, str(v.n), _h(v.wall_p50), _h(v.wall_p90),
                          _h(v.working_p50), _h(v.working_p90))
    console.print(table)


def reviews_command(start: FromOption = None, end: ToOption = None, as_json: JsonOption = False) -> None:
    """Review bottlenecks: where pickup dominates, reviewer load concentration, changes waiting for a first
    review now, and the same latencies per region in working hours. Nobody is named. Changes merged and reviews
    submitted from --from to --to (default: the 28 days before --to, --to default now).

    Example: engmetrics delivery reviews --from 2026-01-01 --json
    """
    begin, stop = default_window(*parse_window(start, end))
    settings = state.settings
    with open_store(read_only=True) as store:
        report = review_report(store, settings.delivery, start=begin, end=stop,
                               min_group_size=settings.privacy.min_group_size)
    if as_json:
        emit_json(report.to_dict())
        return
    shares = Table("group", "n", "coding", "pickup", "review", "pickup dominates",
                   title="Share of working time per stage (teams, then repositories)")
    for s in [*report.shares_by_team, *report.shares_by_repo]:
        flag = "suppressed" if s.suppressed else "[red]yes[/]" if s.pickup_dominates else "no"
        shares.add_row(s.group, str(s.n or "-"), _share(s.coding), _share(s.pickup), _share(s.review), flag)
    load = Table("team", "reviewers", "reviews", "top 20 % share", title="Reviewer load concentration")
    for c in report.concentration:
        load.add_row(c.team, "suppressed" if c.suppressed else str(c.reviewers), str(c.reviews or "-"),
                     _share(c.top_share))
    waiting = Table("team", "waiting", "p50 h", "p90 h", "max h", title="Changes waiting for a first review now "
                    "(author's working hours)")
    for w in report.waiting:
        waiting.add_row(w.team, "suppressed" if w.suppressed else str(w.n), _h(w.working_hours_p50),
                        _h(w.working_hours_p90), _h(w.working_hours_max))
    regions = Table("region", "stage", "n", "wall p50 h", "wall p90 h", "working p50 h", "working p90 h",
                    title="Per region (pickup: reviewer's region; coding, review: author's)")
    for r in report.regions:
        regions.add_row(r.region, r.stage, "suppressed" if r.suppressed else str(r.n), _h(r.wall_hours_p50),
                        _h(r.wall_hours_p90), _h(r.working_hours_p50), _h(r.working_hours_p90))
    for t in (shares, load, waiting, regions):
        console.print(t)
