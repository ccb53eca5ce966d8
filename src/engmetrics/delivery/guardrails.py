"""Guardrails: every velocity metric beside its quality counter-metric, per team and calendar month (UTC).

Series (team of a deployment or change = `services.team` of its service; rows whose service has no team are
left out; months ``[start, end)`` by `truncate("M")`; counts are 0 and rates None in a month without data):

- `deploys`: production deployments (`environment` in `production_environments`) with status success or
  failure, by `started_at`.
- `change_fail_rate`: share of those that failed: status ``failure``, or an incident is attributed to it by
  `engmetrics.incidents.linking.link_incidents_to_deployments` (service match, `deploy_window_hours`).
- `lead_time_p50_hours`: exact median over changes first shipped that month by a successful production
  deploy listing them in `change_ids` (deploy time = `finished_at`, else `started_at`), from the change's
  `lead_time_start` column (falling back to `created_at`).
- `rework_rate`: share of the month's production deploys that are hotfixes or rollbacks (DORA's deployment
  rework rate: unplanned deployments).
- `incidents_per_deploy`: incidents declared that month (team = `incidents.team`, else its service's team)
  per production deploy.
- `merged_changes`: changes merged that month, bots (`is_bot`) excluded.
- `churn_rate`: lines deleted from recently written code per line added, in the team's repositories (a
  repository belongs to the team owning most of its changes' services). Approximation, since line-level
  history is not stored: a `commit_files` row's `deleted` lines count as churn when the same repository
  and path had a commit adding lines in the 21 days before it.

Pairs (velocity, guardrail): deploys / change_fail_rate, lead_time_p50_hours / rework_rate, deploys /
incidents_per_deploy, merged_changes / churn_rate. **Debt risk** flag: over two consecutive months the
velocity improved (more deploys or merged changes, shorter lead time) while its guardrail worsened (rose);
both values of both months are required. Each flag carries both series as evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.types as ir

from ..incidents.linking import link_incidents_to_deployments
from ..settings import DeliverySettings
from ..store import Store
from ..timeutil import as_utc

__all__ = ["CHURN_DAYS", "DEFAULT_MONTHS", "PAIRS", "DebtRisk", "TeamGuardrails", "guardrails", "latest_numbers",
           "month_window", "months_between"]

CHURN_DAYS = 21
DEFAULT_MONTHS = 6  # the default window: this many full months before the current one
# (velocity, +1 when higher is better / -1 when lower is better, guardrail: higher is worse)
PAIRS: tuple[tuple[str, int, str], ...] = (
    ("deploys", 1, "change_fail_rate"), ("lead_time_p50_hours", -1, "rework_rate"),
    ("deploys", 1, "incidents_per_deploy"), ("merged_changes", 1, "churn_rate"))
_COUNTS = ("deploys", "merged_changes")
METRICS = ("deploys", "change_fail_rate", "lead_time_p50_hours", "rework_rate", "incidents_per_deploy",
           "merged_changes", "churn_rate")


@dataclass(frozen=True)
class DebtRisk:
    """Velocity improved while its guardrail worsened from `previous` to `month`."""

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


def _deploys(store: Store, delivery: DeliverySettings, window_hours: float, start: datetime,
             end: datetime) -> dict:
    d = store.table("deployments")
    d = d.filter(d.environment.isin(delivery.production_environments) & d.status.isin(["success", "failure"]))
    caused = link_incidents_to_deployments(store, window_hours=window_hours,
                                           environments=delivery.production_environments)
    caused = caused.select("deployment_id").distinct()
    caused = caused.mutate(_caused=ibis.literal(1))
    d = d.left_join(caused, "deployment_id").join(_service_team(store), "service")
    d = _window(d, "started_at", start, end)
    failed = (d.status == "failure") | d._caused.notnull()
    rework = d.is_hotfix.fill_null(False) | d.is_rollback.fill_null(False)
    return _keyed(d, deploys=d.count(), failed=failed.cast("int64").sum(), rework=rework.cast("int64").sum())


def _lead_times(store: Store, delivery: DeliverySettings, start: datetime, end: datetime) -> dict:
    d = store.table("deployments")
    d = d.filter(d.environment.isin(delivery.production_environments) & (d.status == "success"))
    shipped = d.select("service", change_id=d.change_ids.unnest(), at=ibis.coalesce(d.finished_at, d.started_at))
    first = shipped.group_by("change_id").aggregate(at=shipped.at.min(), service=shipped.service.arbitrary())
    c = store.table("changes")
    c = c.select("change_id", _from=ibis.coalesce(c[delivery.lead_time_start], c.created_at))
    t = first.join(c, "change_id").join(_service_team(store), "service")
    t = _window(t, "at", start, end)
    hours = (t.at.epoch_seconds() - t._from.epoch_seconds()).cast("float64") / 3600
    return _keyed(t, lead=hours.quantile(0.5))


def _incidents(store: Store, start: datetime, end: datetime) -> dict:
    i = store.table("incidents")
    st = _service_team(store).rename(_steam="team")
    i = i.left_join(st, "service").select("declared_at", team=ibis.coalesce(i.team, st._steam))
    i = _window(i.filter(i.team.notnull()), "declared_at", start, end)
    return _keyed(i, incidents=i.count())


def _merged(store: Store, start: datetime, end: datetime) -> dict:
    c = store.table("changes")
    c = c.filter(c.merged_at.notnull() & ~c.is_bot.fill_null(False)).join(_service_team(store), "service")
    c = _window(c, "merged_at", start, end)
    return _keyed(c, merged=c.count())


def _repo_team(store: Store) -> ir.Table:
    c = store.table("changes").join(_service_team(store), "service")
    n = c.group_by(["repo", "team"]).aggregate(n=c.count())
    n = n.mutate(_rn=ibis.row_number().over(group_by=n.repo, order_by=[ibis.desc(n.n), n.team]))
    return n.filter(n._rn == 0).select("repo", "team")


def _churn(store: Store, start: datetime, end: datetime) -> dict:
    cf = store.table("commit_files")
    a = cf.filter((cf.committed_at >= as_utc(start) - timedelta(days=CHURN_DAYS)) & (cf.committed_at < as_utc(end)))
    b = a.filter(a.added > 0).select(_repo="repo", _path="path", _at="committed_at")
    recent = a.semi_join(b, [a.repo == b._repo, a.path == b._path, b._at < a.committed_at,
                             b._at >= a.committed_at - ibis.interval(days=CHURN_DAYS)])
    recent = recent.select("sha", "path", _churn=recent.deleted.fill_null(0))
    t = a.left_join(recent, ["sha", "path"]).select("repo", "committed_at", "added", _churn=recent._churn)
    t = _window(t.join(_repo_team(store), "repo"), "committed_at", start, end)
    return _keyed(t, added=t.added.fill_null(0).sum(), churn=t._churn.fill_null(0).sum())


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else float(num) / float(den)


def _series(team: str, months: list[str], parts: dict[str, dict]) -> dict[str, list[float | None]]:
    def get(part: str, column: str, month: str) -> float | None:
        row = parts[part].get((team, month))
        return None if row is None else row[column]

    s: dict[str, list[float | None]] = {m: [] for m in METRICS}
    for m in months:
        deploys = get("deploys", "deploys", m) or 0
        s["deploys"].append(deploys)
        s["change_fail_rate"].append(_ratio(get("deploys", "failed", m), deploys))
        s["rework_rate"].append(_ratio(get("deploys", "rework", m), deploys))
        lead = get("lead", "lead", m)
        s["lead_time_p50_hours"].append(None if lead is None else float(lead))
        s["incidents_per_deploy"].append(_ratio(get("incidents", "incidents", m) or 0, deploys))
        s["merged_changes"].append(get("merged", "merged", m) or 0)
        s["churn_rate"].append(_ratio(get("churn", "churn", m), get("churn", "added", m)))
    return s


def _flags(team: str, months: list[str], series: dict[str, list[float | None]]) -> list[DebtRisk]:
    flags = []
    for velocity, better, guardrail in PAIRS:
        v, g = series[velocity], series[guardrail]
        for i in range(1, len(months)):
            if None in (v[i - 1], v[i], g[i - 1], g[i]):
                continue
            if better * (v[i] - v[i - 1]) > 0 and g[i] > g[i - 1]:  # type: ignore[operator]
                flags.append(DebtRisk(team, velocity, guardrail, months[i - 1], months[i], v, g))
    return flags


def guardrails(store: Store, delivery: DeliverySettings, *, start: datetime, end: datetime,
               deploy_window_hours: float = 2.0) -> list[TeamGuardrails]:
    """Monthly velocity and guardrail series per team in ``[start, end)`` with debt-risk flags, by team."""
    parts = {"deploys": _deploys(store, delivery, deploy_window_hours, start, end),
             "lead": _lead_times(store, delivery, start, end), "incidents": _incidents(store, start, end),
             "merged": _merged(store, start, end), "churn": _churn(store, start, end)}
    months = months_between(start, end)
    teams = sorted({team for part in parts.values() for team, _ in part})
    out = []
    for team in teams:
        series = _series(team, months, parts)
        out.append(TeamGuardrails(team, months, series, _flags(team, months, series)))
    return out


def latest_numbers(teams: list[TeamGuardrails]) -> dict[str, dict]:
    """Each team's values of its last month: ``{team: {"month": ..., metric: value, ...}}``."""
    return {t.team: {"month": t.months[-1], **{m: v[-1] for m, v in t.series.items()}} for t in teams if t.months}
