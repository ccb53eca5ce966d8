"""Guardrails: every velocity metric beside its quality counter-metric, per team and calendar month (UTC).

The DORA series use the definitions of `engmetrics delivery dora` through the same functions
(`engmetrics.delivery.dora.deployment_flags`, `shipped_changes`, `lead_time_sample`), with one calendar month
(``truncate("M")`` of `started_at`) as the period: for a team and a month they equal `dora_metrics(by="team")` over
that month. Team of a deployment or change = `services.team` of its service; rows whose service has no team are
left out; months ``[start, end)``; counts are 0 and rates None in a month without data.

- `deploys`: successful production deployments started that month (DORA's `deployments`).
- `change_fail_rate`: of those, the share that failed: caused an incident (`link_incidents_to_deployments` with
  `deploy_window_hours`) or was rolled back.
- `lead_time_p50_hours`: median (linear interpolation, as `engmetrics.quantiles.percentile`) of the lead times of
  the changes first shipped by those deployments (links by `change_ids`, merge commit or commit range since the
  previous deployment; bot changes and negative durations left out; from `lead_time_start`, null: `created_at`).
  None when those changes have fewer than `min_group_size` distinct authors (lead time is about people's work).
- `rework_rate`: share of the deployments made because of an incident (`fixes_incident_id` or `is_hotfix`).
- `incidents_per_deploy`: incidents declared that month (team = `incidents.team`, else its service's team)
  per deployment.
- `merged_changes`: changes merged that month, bots (`is_bot`) excluded.
- `churn_rate`: lines deleted from recently written code per line added, in the team's repositories (a
  repository belongs to the team owning most of its changes' services). Approximation, since line-level
  history is not stored: a `commit_files` row's `deleted` lines count as churn when the same repository
  and path had a commit adding lines in the `CHURN_DAYS` days before it. Merge-commit rows (`is_merge`) and bot
  rows (`is_bot`) are left out entirely (they repeat or are not people's code).

`n[metric]` is the count each value rests on: deployments for the four deployment series, changes in the
lead-time sample, merged changes, and commits (distinct `sha`) for churn.

**Coverage.** Each series comes from a source whose data has a first and a last UTC day over all teams:
production deployments (`started_at`) for the deployment series, both deployments and merged changes
(`merged_at`) for lead time, merged changes for `merged_changes`, `commit_files.committed_at` for churn. A month
starting before its source's first data day or ending after its last is partial (data starting mid-month makes
a small first month, not a slow one): `complete[metric][i]` is False for it.

Pairs (velocity, guardrail): deploys / change_fail_rate, lead_time_p50_hours / rework_rate, deploys /
incidents_per_deploy, merged_changes / churn_rate. **Debt risk** flag: over two consecutive month steps
(months i-2 -> i-1 -> i) the velocity improved at both steps (more deploys or merged changes, shorter lead time)
while its guardrail worsened (rose) at both. Every month of the three must be complete for both series, have both
values, and rest on at least `min_count` (default `MIN_MONTHLY_COUNT`) for both; otherwise the window is not
judged. Each flag carries both whole series as evidence.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import as_utc
from .change_links import DEFAULT_LOOKBACK_DAYS, production_deployments
from .dora import NO_TEAM, deployment_flags, lead_time_sample, shipped_changes

__all__ = ["CHURN_DAYS", "DEFAULT_MONTHS", "MIN_MONTHLY_COUNT", "PAIRS", "DebtRisk", "TeamGuardrails", "guardrails",
           "latest_numbers", "month_window", "months_between"]

CHURN_DAYS = 21
DEFAULT_MONTHS = 6  # the default window: this many full months before the current one
MIN_MONTHLY_COUNT = 5  # fewer deployments / changes / commits behind a monthly value: the flag does not judge it
# (velocity, +1 when higher is better / -1 when lower is better, guardrail: higher is worse)
PAIRS: tuple[tuple[str, int, str], ...] = (
    ("deploys", 1, "change_fail_rate"), ("lead_time_p50_hours", -1, "rework_rate"),
    ("deploys", 1, "incidents_per_deploy"), ("merged_changes", 1, "churn_rate"))
METRICS = ("deploys", "change_fail_rate", "lead_time_p50_hours", "rework_rate", "incidents_per_deploy",
           "merged_changes", "churn_rate")
# the sources whose coverage each series needs (see the module doc)
SOURCES = {"deploys": ("deployments",), "change_fail_rate": ("deployments",), "rework_rate": ("deployments",),
           "incidents_per_deploy": ("deployments",), "lead_time_p50_hours": ("deployments", "changes"),
           "merged_changes": ("changes",), "churn_rate": ("commit_files",)}


@dataclass(frozen=True)
class DebtRisk:
    """Velocity improved while its guardrail worsened at both steps from `previous` through the month between to
    `month`."""

    team: str
    velocity: str
    guardrail: str
    previous: str
    month: str
    velocity_series: list[float | None]
    guardrail_series: list[float | None]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TeamGuardrails:
    team: str
    months: list[str]
    series: dict[str, list[float | None]]
    n: dict[str, list[int]] = field(default_factory=dict)
    complete: dict[str, list[bool]] = field(default_factory=dict)
    flags: list[DebtRisk] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def month_window(start: datetime | None, end: datetime | None,
                 now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) in whole months: `end` defaults to the first of the current month (UTC), `start` to
    `DEFAULT_MONTHS` months before `end`; raises ValueError when `end` is not after `start`.

    >>> [d.date().isoformat() for d in month_window(None, None, datetime(2026, 3, 15, tzinfo=UTC))]
    ['2025-09-01', '2026-03-01']
    """
    current = now or datetime.now(UTC)
    stop = end or datetime(current.year, current.month, 1, tzinfo=UTC)
    if start is None:
        y, m = divmod(stop.year * 12 + stop.month - 1 - DEFAULT_MONTHS, 12)
        start = datetime(y, m + 1, 1, tzinfo=UTC)
    if stop <= start:
        raise ValueError("the end month must be after the start month")
    return start, stop


def months_between(start: datetime, end: datetime) -> list[str]:
    """``YYYY-MM`` of every calendar month meeting ``[start, end)``."""
    y, m, out = start.year, start.month, []
    while datetime(y, m, 1, tzinfo=UTC) < as_utc(end):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _keyed(t: ir.Table, **aggs: ir.Scalar) -> dict[tuple[str, str], dict]:
    rows = t.group_by(["team", "month"]).aggregate(**aggs).to_pyarrow().to_pylist()
    return {(r["team"], r["month"].strftime("%Y-%m")): r for r in rows}


def _window(t: ir.Table, column: str, start: datetime, end: datetime) -> ir.Table:
    return t.filter((t[column] >= as_utc(start)) & (t[column] < as_utc(end))).mutate(month=t[column].truncate("M"))


def _service_team(store: Store) -> ir.Table:
    return store.table("services").select("service", "team")


def _deployments(store: Store, delivery: DeliverySettings, start: datetime, end: datetime, *,
                 window_hours: float, lookback_days: float) -> tuple[dict, dict]:
    """Monthly DORA counts and lead-time medians per team (the `engmetrics.delivery.dora` functions)."""
    with ExitStack() as cached:  # the flags are read by both queries: compute them once
        every = cached.enter_context(deployment_flags(store, delivery, deploy_window_hours=window_hours).cache())
        d = _window(every.filter(every.team != NO_TEAM), "started_at", start, end)
        ok = d.filter(d.status == "success")
        counts = _keyed(ok, deploys=ok.count(), failed=ok.failed.cast("int64").sum(),
                        rework=ok.rework.cast("int64").sum())
        s = lead_time_sample(d, shipped_changes(store, delivery, lookback_days=lookback_days), ("team", "month"))
        lead = _keyed(s, lead=s.hours.quantile(0.5), n=s.count(), authors=s.author.nunique())
    return counts, lead


def _incidents(store: Store, start: datetime, end: datetime) -> dict:
    i = store.table("incidents")
    st = _service_team(store).rename(_steam="team")
    i = i.left_join(st, "service").select("declared_at", team=ibis.coalesce(i.team, st._steam))
    i = _window(i.filter(i.team.notnull()), "declared_at", start, end)
    return _keyed(i, incidents=i.count())


def _human_changes(store: Store) -> ir.Table:
    c = store.table("changes")
    return c.filter(c.merged_at.notnull() & ~c.is_bot.fill_null(False))


def _merged(store: Store, start: datetime, end: datetime) -> dict:
    c = _window(_human_changes(store).join(_service_team(store), "service"), "merged_at", start, end)
    return _keyed(c, merged=c.count())


def _repo_team(store: Store) -> ir.Table:
    c = store.table("changes").join(_service_team(store), "service")
    n = c.group_by(["repo", "team"]).aggregate(n=c.count())
    n = n.mutate(_rn=ibis.row_number().over(group_by=n.repo, order_by=[ibis.desc(n.n), n.team]))
    return n.filter(n._rn == 0).select("repo", "team")


def _authored_files(store: Store) -> ir.Table:
    """`commit_files` without merge-commit and bot rows (see the module doc)."""
    cf = store.table("commit_files")
    return cf.filter(~cf.is_merge.fill_null(False) & ~cf.is_bot.fill_null(False))


def _churn(store: Store, start: datetime, end: datetime) -> dict:
    cf = _authored_files(store)
    a = cf.filter((cf.committed_at >= as_utc(start) - timedelta(days=CHURN_DAYS)) & (cf.committed_at < as_utc(end)))
    b = a.filter(a.added > 0).select(_repo="repo", _path="path", _at="committed_at")
    recent = a.semi_join(b, [a.repo == b._repo, a.path == b._path, b._at < a.committed_at,
                             b._at >= a.committed_at - ibis.interval(days=CHURN_DAYS)])
    recent = recent.select("sha", "path", _churn=recent.deleted.fill_null(0))
    t = a.left_join(recent, ["sha", "path"]).select("sha", "repo", "committed_at", "added", _churn=recent._churn)
    t = _window(t.join(_repo_team(store), "repo"), "committed_at", start, end)
    return _keyed(t, added=t.added.fill_null(0).sum(), churn=t._churn.fill_null(0).sum(), commits=t.sha.nunique())


def _coverage(store: Store, delivery: DeliverySettings) -> dict[str, tuple[date, date] | None]:
    """First and last UTC day with data of each source (None: no rows)."""
    tables = {"deployments": (production_deployments(store, delivery.production_environments), "started_at"),
              "changes": (_human_changes(store), "merged_at"), "commit_files": (_authored_files(store), "committed_at")}
    out: dict[str, tuple[date, date] | None] = {}
    for source, (t, column) in tables.items():
        row = t.aggregate(first=t[column].min(), last=t[column].max()).to_pyarrow().to_pylist()[0]
        out[source] = None if row["first"] is None else (as_utc(row["first"]).date(), as_utc(row["last"]).date())
    return out


def _complete(month: str, spans: list[tuple[date, date] | None]) -> bool:
    """The month lies within every span: its first day on or after the first data day, its last on or before
    the last."""
    first = date.fromisoformat(f"{month}-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return all(span is not None and span[0] <= first and last <= span[1] for span in spans)


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else float(num) / float(den)


def _series(team: str, months: list[str], parts: dict[str, dict],
            min_group_size: int) -> tuple[dict[str, list], dict[str, list]]:
    """The values and the counts behind them (see the module doc)."""
    def get(part: str, column: str, month: str) -> float | None:
        row = parts[part].get((team, month))
        return None if row is None else row[column]

    s: dict[str, list] = {m: [] for m in METRICS}
    n: dict[str, list] = {m: [] for m in METRICS}
    for m in months:
        deploys = int(get("deploys", "deploys", m) or 0)
        lead_n, merged, commits = (int(get(*k, m) or 0) for k in (("lead", "n"), ("merged", "merged"),
                                                                   ("churn", "commits")))
        lead = get("lead", "lead", m)
        hidden = (get("lead", "authors", m) or 0) < min_group_size
        values = {"deploys": deploys, "change_fail_rate": _ratio(get("deploys", "failed", m), deploys),
                  "rework_rate": _ratio(get("deploys", "rework", m), deploys),
                  "lead_time_p50_hours": None if lead is None or hidden else float(lead),
                  "incidents_per_deploy": _ratio(get("incidents", "incidents", m) or 0, deploys),
                  "merged_changes": merged, "churn_rate": _ratio(get("churn", "churn", m), get("churn", "added", m))}
        counts = {"lead_time_p50_hours": lead_n, "merged_changes": merged, "churn_rate": commits}
        for metric in METRICS:
            s[metric].append(values[metric])
            n[metric].append(counts.get(metric, deploys))
    return s, n


def _judged(metric: str, i: int, t: TeamGuardrails, min_count: int) -> bool:
    return t.complete[metric][i] and t.n[metric][i] >= min_count and t.series[metric][i] is not None


def _flags(t: TeamGuardrails, min_count: int) -> list[DebtRisk]:
    flags = []
    for velocity, better, guardrail in PAIRS:
        v, g = t.series[velocity], t.series[guardrail]
        for i in range(2, len(t.months)):
            steps = (i - 1, i)
            if not all(_judged(m, k, t, min_count) for m in (velocity, guardrail) for k in (i - 2, *steps)):
                continue
            if all(better * (v[k] - v[k - 1]) > 0 and g[k] > g[k - 1] for k in steps):  # type: ignore[operator]
                flags.append(DebtRisk(t.team, velocity, guardrail, t.months[i - 2], t.months[i], v, g))
    return flags


def guardrails(store: Store, delivery: DeliverySettings, *, start: datetime, end: datetime,
               deploy_window_hours: float = 2.0, lookback_days: float = DEFAULT_LOOKBACK_DAYS,
               min_group_size: int = 5, min_count: int = MIN_MONTHLY_COUNT) -> list[TeamGuardrails]:
    """Monthly velocity and guardrail series per team in ``[start, end)`` with debt-risk flags, by team (module
    doc)."""
    deploys, lead = _deployments(store, delivery, start, end, window_hours=deploy_window_hours,
                                 lookback_days=lookback_days)
    parts = {"deploys": deploys, "lead": lead, "incidents": _incidents(store, start, end),
             "merged": _merged(store, start, end), "churn": _churn(store, start, end)}
    months = months_between(start, end)
    coverage = _coverage(store, delivery)
    complete = {metric: [_complete(m, [coverage[s] for s in SOURCES[metric]]) for m in months] for metric in METRICS}
    out = []
    for team in sorted({team for part in parts.values() for team, _ in part}):
        t = TeamGuardrails(team, months, *_series(team, months, parts, min_group_size), complete)
        out.append(replace(t, flags=_flags(t, min_count)))
    return out


def latest_numbers(teams: list[TeamGuardrails]) -> dict[str, dict]:
    """Each team's values of its last month: ``{team: {"month": ..., metric: value, ...}}``."""
    return {t.team: {"month": t.months[-1], **{m: v[-1] for m, v in t.series.items()}} for t in teams if t.months}
