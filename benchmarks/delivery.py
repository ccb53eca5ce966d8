"""`dora_metrics(..., by="team")` against hand-written DuckDB SQL and a straightforward pandas version.

Generates, inside DuckDB with `range()`, `--deployments` deployments of 200 services (195 of them owned by
20 teams in `services`; the other 5 fall in "(no team)") spread evenly over [START - 10 days, END + 10 days)
(~110 s apart at 300k, so `started_at` is unique), and `--changes` changes, change c listed in the
`change_ids` of deployment c * deployments // changes and merged 1 s to 3 days before it started. All
timestamps are whole seconds, so every duration is exact in all three legs. Per deployment (by a hash):
10 % go to `staging`; status 90 % success, 5 % failure, 3 % cancelled, 2 % in_progress; 2 % are rollbacks,
3 % hotfixes, 1 % fix an incident (`fixes_incident_id`); 3 % caused an incident (`incidents` rows with an
explicit `caused_by_deployment_id` and no service, so the incident time rule has nothing to match). Per
change: 1 % bots, 2 % never merged, 5 % without `first_commit_at` (lead time starts at `created_at`), 2,000
authors. Every deployment lists its changes, so the `change_ids` link rule is the one exercised (no
`commit_sha`, no commit-range candidates). The store is cached in benchmarks/.data/ (`--fresh` rebuilds it);
setting it up is not timed.

Legs, each timed `--repeat` times in the same run (best taken), from a warm, already-open store, period
[START, END) = one year:

- engmetrics: `engmetrics.delivery.dora.dora_metrics(store, DeliverySettings(), start, end, by="team")`
  (it also computes bootstrap intervals, rule counts and bands, which the baselines do not);
- SQL: three hand-written DuckDB queries (deployment counts with `ASOF JOIN` rollbacks; lead time with
  `unnest` links and `quantile_cont`; recovery time with an `ASOF JOIN` to the next success);
- pandas: the same numbers from frames already read from the store (reading them is timed once and
  printed on its own): `merge_asof`, `explode`, `groupby`, `quantile`.

Checked equal before any timing is printed, per team: deployments, deploy days, failed, rework (exact);
deployment frequency, change fail rate, rework rate, lead time p50/p90 and recovery p50 (1e-9), lead-time n
and unrecovered (exact). Peak RSS (`getrusage`) is printed after each leg; legs run engmetrics, SQL, pandas.

Targets (issue 6): at 1M changes and 300k deployments, engmetrics <= 2x the SQL, and faster than pandas
(pandas' read counts, as engmetrics' time counts its own scan of the store; the computation alone is
printed beside it). Results are in docs/performance.md.

    python benchmarks/delivery.py [--changes 1000000] [--deployments 300000] [--repeat 3] [--fresh] [--no-pandas]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from common import best_of, cached_store, close, peak_rss_mib

from engmetrics.delivery.dora import NO_TEAM, dora_metrics
from engmetrics.settings import DeliverySettings
from engmetrics.store import Store

GENERATOR = 1  # bump when the generated rows change, so cached stores are rebuilt
START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
DAYS = (END - START).total_seconds() / 86400
SERVICES, OWNED, TEAMS, AUTHORS = 200, 195, 20, 2000
FIELDS_EXACT = ("deployments", "deploy_days", "failed", "rework", "lead_n", "recovery_n", "unrecovered")
FIELDS_FLOAT = ("per_day", "change_fail_rate", "rework_rate", "lead_p50", "lead_p90", "recovery_p50")


def _generate(store: Store, changes: int, deployments: int) -> None:
    """The rows described in the module doc, made by DuckDB."""
    first = int(START.timestamp()) - 10 * 86400
    span = int((END - START).total_seconds()) + 20 * 86400
    at = f"to_timestamp({first} + (d * {span}) // {deployments})"
    sql = store.sql.execute
    sql(f"""INSERT INTO services (service, team)
            SELECT 'svc-' || lpad(s::VARCHAR, 3, '0'), 'team-' || lpad((s % {TEAMS})::VARCHAR, 2, '0')
            FROM range({OWNED}) AS t(s)""")
    sql(f"""INSERT INTO deployments (deployment_id, service, environment, started_at, finished_at, status,
                                     change_ids, is_rollback, is_hotfix, fixes_incident_id)
            WITH raw AS (SELECT d, hash(d, 1) % 100 AS env, hash(d, 2) % 100 AS st, hash(d, 3) % 100 AS kind,
                                hash(d, 4) % 600 AS took FROM range({deployments}) AS t(d))
            SELECT 'dep-' || d, 'svc-' || lpad((d % {SERVICES})::VARCHAR, 3, '0'),
                   CASE WHEN env < 10 THEN 'staging' ELSE 'production' END, {at}, {at} + to_seconds(60 + took),
                   CASE WHEN st < 90 THEN 'success' WHEN st < 95 THEN 'failure' WHEN st < 98 THEN 'cancelled'
                        ELSE 'in_progress' END,
                   list_transform(range((d * {changes} + {deployments} - 1) // {deployments},
                                        ((d + 1) * {changes} + {deployments} - 1) // {deployments}),
                                  c -> 'chg-' || c),
                   kind < 2, kind >= 2 AND kind < 5, CASE WHEN kind = 5 THEN 'inc-fix-' || d END
            FROM raw""")
    sql(f"""INSERT INTO incidents (incident_id, severity, declared_at, caused_by_deployment_id)
            SELECT 'inc-' || d, 3, {at} + INTERVAL 30 MINUTE, 'dep-' || d
            FROM range({deployments}) AS t(d) WHERE hash(d, 5) % 100 < 3""")
    deployed = f"to_timestamp({first} + ((c * {deployments} // {changes}) * {span}) // {deployments})"
    sql(f"""INSERT INTO changes (change_id, repo, author, first_commit_at, created_at, merged_at, is_bot)
            WITH raw AS (SELECT c, {deployed} - to_seconds(1 + hash(c, 1) % 259200) AS merged,
                                hash(c, 2) % 100 AS kind, 3600 + hash(c, 3) % 604800 AS coding
                         FROM range({changes}) AS t(c))
            SELECT 'chg-' || c, 'svc-' || lpad(((c * {deployments} // {changes}) % {SERVICES})::VARCHAR, 3, '0'),
                   'dev-' || (hash(c, 4) % {AUTHORS}),
                   CASE WHEN kind >= 5 THEN merged - to_seconds(coding) END,
                   merged - to_seconds(coding) + INTERVAL 10 MINUTE,
                   CASE WHEN kind % 50 <> 7 THEN merged END, kind = 99
            FROM raw""")
    sql("CHECKPOINT")


def open_store(changes: int, deployments: int, fresh: bool) -> tuple[Store, float | None]:
    """The cached store; the seconds spent generating it (None when cached)."""
    store, _, took = cached_store(f"delivery-{changes}-{deployments}-v{GENERATOR}",
                                  lambda s: _generate(s, changes, deployments),
                                  f"{changes:,} changes and {deployments:,} deployments", fresh)
    return store, took


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    n = row["deployments"]
    return row | {"per_day": n / DAYS, "change_fail_rate": row["failed"] / n if n else None,
                  "rework_rate": row["rework"] / n if n else None}


# ---------------------------------------------------------------- the three legs

def run_engmetrics(store: Store) -> dict[str, dict[str, Any]]:
    out = {}
    for g in dora_metrics(store, DeliverySettings(), start=START, end=END, by="team"):
        out[g.group] = _rates({
            "deployments": g.deployments, "deploy_days": g.deploy_days, "failed": g.failed, "rework": g.rework,
            "lead_n": g.lead_time.n, "lead_p50": g.lead_time.p50_hours, "lead_p90": g.lead_time.p90_hours,
            "recovery_n": g.recovery_time.n, "recovery_p50": g.recovery_time.p50_hours,
            "unrecovered": g.recovery_time.extra["unrecovered"]})
    return out


def _period() -> str:
    return f"started_at >= TIMESTAMPTZ '{START.isoformat()}' AND started_at < TIMESTAMPTZ '{END.isoformat()}'"


FLAGS = f"""
    prod AS (SELECT d.*, coalesce(s.team, '{NO_TEAM}') AS team, coalesce(finished_at, started_at) AS ended_at
             FROM deployments d LEFT JOIN services s USING (service) WHERE environment IN ('production')),
    ok AS (SELECT * FROM prod WHERE status = 'success'),
    rolled AS (SELECT DISTINCT t.deployment_id
               FROM (SELECT * FROM ok WHERE coalesce(is_rollback, false)) r
               ASOF JOIN (SELECT * FROM ok WHERE NOT coalesce(is_rollback, false)) t
               ON t.service = r.service AND t.environment = r.environment AND r.started_at > t.started_at),
    caused AS (SELECT DISTINCT caused_by_deployment_id AS deployment_id FROM incidents
               WHERE caused_by_deployment_id IS NOT NULL),
    flagged AS (SELECT prod.*, status = 'success' AND (deployment_id IN (SELECT * FROM caused)
                                                       OR deployment_id IN (SELECT * FROM rolled)) AS failed
                FROM prod)"""


def sql_counts() -> str:
    return f"""WITH {FLAGS}
        SELECT team, count(*) AS deployments, count(DISTINCT (started_at AT TIME ZONE 'UTC')::DATE) AS deploy_days,
               count(*) FILTER (WHERE failed) AS failed,
               count(*) FILTER (WHERE fixes_incident_id IS NOT NULL OR coalesce(is_hotfix, false)) AS rework
        FROM flagged WHERE status = 'success' AND {_period()} GROUP BY team"""


def sql_lead() -> str:
    return f"""WITH ok AS (SELECT d.deployment_id, d.started_at, coalesce(d.finished_at, d.started_at) AS ended_at,
                              coalesce(s.team, '{NO_TEAM}') AS team, d.change_ids
                       FROM deployments d LEFT JOIN services s USING (service)
                       WHERE environment IN ('production') AND status = 'success'),
        merged AS (SELECT change_id FROM changes WHERE merged_at IS NOT NULL),
        listed AS (SELECT unnest(change_ids) AS change_id, deployment_id, started_at FROM ok),
        first AS (SELECT change_id, arg_min(deployment_id, started_at) AS deployment_id
                  FROM listed SEMI JOIN merged USING (change_id) GROUP BY change_id),
        lead AS (SELECT ok.team, c.author, (epoch(ok.ended_at) - epoch(coalesce(c.first_commit_at, c.created_at)))
                        / 3600.0 AS hours
                 FROM first JOIN ok USING (deployment_id) JOIN changes c USING (change_id)
                 WHERE c.merged_at IS NOT NULL AND NOT coalesce(c.is_bot, false) AND ok.{_period()})
        SELECT team, count(*) AS n, quantile_cont(hours, 0.5) AS p50, quantile_cont(hours, 0.9) AS p90,
               count(DISTINCT author) AS authors
        FROM lead WHERE hours >= 0 GROUP BY team"""


def sql_recovery() -> str:
    return f"""WITH {FLAGS},
        bad AS (SELECT * FROM flagged WHERE (failed OR status = 'failure') AND {_period()}),
        recovered AS (SELECT b.team, greatest(epoch(n.ended_at) - epoch(b.ended_at), 0) / 3600.0 AS hours
                      FROM bad b ASOF JOIN ok n
                      ON n.service = b.service AND n.environment = b.environment AND b.started_at < n.started_at)
        SELECT b.team, count(*) AS opened, any_value(r.n) AS n, any_value(r.p50) AS p50
        FROM bad b LEFT JOIN (SELECT team, count(*) AS n, quantile_cont(hours, 0.5) AS p50
                              FROM recovered GROUP BY team) r USING (team)
        GROUP BY b.team"""


def _assemble(counts: dict[str, dict], lead: dict[str, dict], recovery: dict[str, dict],
              min_authors: int = 5) -> dict[str, dict[str, Any]]:
    out = {}
    for team in set(counts) | set(recovery):
        c, ld, rc = counts.get(team, {}), lead.get(team, {}), recovery.get(team, {})
        hidden = ld.get("authors", 0) < min_authors
        row = {k: int(c.get(k) or 0) for k in ("deployments", "deploy_days", "failed", "rework")}
        n_rec = int(rc.get("n") or 0)
        out[team] = _rates(row | {
            "lead_n": int(ld.get("n") or 0), "lead_p50": None if hidden else ld.get("p50"),
            "lead_p90": None if hidden else ld.get("p90"), "recovery_n": n_rec,
            "recovery_p50": rc.get("p50") if n_rec else None, "unrecovered": int(rc.get("opened") or 0) - n_rec})
    return out


def _rows(store: Store, sql: str) -> dict[str, dict[str, Any]]:
    cursor = store.sql.execute(sql)
    names = [d[0] for d in cursor.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def run_sql(store: Store) -> dict[str, dict[str, Any]]:
    return _assemble(_rows(store, sql_counts()), _rows(store, sql_lead()), _rows(store, sql_recovery()))


def load_frames(store: Store) -> dict[str, pd.DataFrame]:
    """The rows the pandas leg needs, read from the store (timed once, on its own)."""
    queries = {
        "deployments": "SELECT deployment_id, service, environment, started_at, finished_at, status, change_ids, "
                       "is_rollback, is_hotfix, fixes_incident_id FROM deployments",
        "changes": "SELECT change_id, author, first_commit_at, created_at, merged_at, is_bot FROM changes",
        "services": "SELECT service, team FROM services",
        "incidents": "SELECT caused_by_deployment_id FROM incidents"}
    with warnings.catch_warnings():  # DuckDB's .df() uses an argument pandas 3 deprecates
        warnings.simplefilter("ignore")
        return {name: store.sql.execute(q).df() for name, q in queries.items()}


def _pandas_flags(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    d = frames["deployments"]
    d = d[d.environment.isin(["production"])].merge(frames["services"], on="service", how="left")
    d["team"] = d.team.fillna(NO_TEAM)
    d["ended_at"] = d.finished_at.fillna(d.started_at)
    ok = d[d.status == "success"].sort_values("started_at")
    back = ok.is_rollback.fillna(False).astype(bool)
    rb = pd.merge_asof(ok[back][["started_at", "service", "environment"]],
                       ok[~back][["started_at", "service", "environment", "deployment_id"]],
                       on="started_at", by=["service", "environment"], allow_exact_matches=False)
    caused = set(frames["incidents"].caused_by_deployment_id.dropna())
    rolled = set(rb.deployment_id.dropna())
    d["failed"] = (d.status == "success") & (d.deployment_id.isin(caused) | d.deployment_id.isin(rolled))
    return d


def run_pandas(frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    d = _pandas_flags(frames)
    in_period = (d.started_at >= pd.Timestamp(START)) & (d.started_at < pd.Timestamp(END))
    ok = d[d.status == "success"]
    okp = ok[in_period[ok.index]]
    counts = pd.DataFrame({
        "deployments": okp.groupby("team").size(),
        "deploy_days": okp.started_at.dt.tz_convert("UTC").dt.date.groupby(okp.team).nunique(),
        "failed": okp.failed.groupby(okp.team).sum(),
        "rework": (okp.fixes_incident_id.notna() | okp.is_hotfix.fillna(False).astype(bool)).groupby(okp.team).sum()})
    c = frames["changes"]
    c = c[c.merged_at.notna()]
    listed = ok[["deployment_id", "started_at", "change_ids"]].explode("change_ids").rename(
        columns={"change_ids": "change_id"})
    listed = listed[listed.change_id.isin(c.change_id)].sort_values(["started_at", "deployment_id"])
    first = listed.drop_duplicates("change_id")[["change_id", "deployment_id"]]
    j = first.merge(okp[["deployment_id", "team", "ended_at"]], on="deployment_id").merge(c, on="change_id")
    j = j[~j.is_bot.fillna(False).astype(bool)]
    j["hours"] = (j.ended_at - j.first_commit_at.fillna(j.created_at)).dt.total_seconds() / 3600.0
    j = j[j.hours >= 0]
    g = j.groupby("team")
    lead = pd.DataFrame({"n": g.size(), "p50": g.hours.quantile(0.5), "p90": g.hours.quantile(0.9),
                         "authors": g.author.nunique()})
    bad = d[(d.failed | (d.status == "failure")) & in_period].sort_values("started_at")
    nxt = ok.sort_values("started_at")[["started_at", "service", "environment", "ended_at"]].rename(
        columns={"ended_at": "next_end"})
    r = pd.merge_asof(bad[["started_at", "service", "environment", "ended_at", "team"]], nxt, on="started_at",
                      by=["service", "environment"], direction="forward", allow_exact_matches=False)
    r = r[r.next_end.notna()]
    r["hours"] = (r.next_end - r.ended_at).dt.total_seconds().clip(lower=0) / 3600.0
    recovery = pd.DataFrame({"opened": bad.groupby("team").size(), "n": r.groupby("team").size(),
                             "p50": r.groupby("team").hours.quantile(0.5)})
    return _assemble(*(frame.astype(object).where(frame.notna(), None).to_dict("index")
                       for frame in (counts, lead, recovery)))


# ---------------------------------------------------------------- checks, timing, report

def compare(name: str, ours: dict, theirs: dict) -> int:
    """Print up to five differences between the engine's numbers and a baseline's; return how many."""
    bad = []
    if set(ours) != set(theirs):
        bad.append(f"teams differ: {sorted(set(ours) ^ set(theirs))[:5]}")
    for team in sorted(set(ours) & set(theirs)):
        a, b = ours[team], theirs[team]
        bad += [f"{team} {f}: engmetrics {a[f]!r}, {name} {b[f]!r}" for f in FIELDS_EXACT if a[f] != b[f]]
        bad += [f"{team} {f}: engmetrics {a[f]!r}, {name} {b[f]!r}" for f in FIELDS_FLOAT if not close(a[f], b[f])]
    for line in bad[:5]:
        print(f"   MISMATCH {line}")
    return len(bad)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1_000_000, help="changes (default 1,000,000)")
    parser.add_argument("--deployments", type=int, default=300_000, help="deployments (default 300,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per leg, best taken (default 3)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached store")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas leg")
    args = parser.parse_args()
    if args.changes < 1 or args.deployments < 1000 or args.repeat < 1:
        parser.error("--changes and --repeat must be positive, --deployments at least 1000")

    store, generated = open_store(args.changes, args.deployments, args.fresh)
    if generated is not None:
        print(f"generated in {generated:.1f} s (not timed below)")
    print(f"{args.changes:,} changes, {args.deployments:,} deployments; period {START.date()} .. {END.date()}")
    print(f"load average before the legs: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    legs: list[tuple[str, float, list[float], float]] = []
    run_engmetrics(store)  # warm-up: the store's pages in memory, imports, Ibis compile paths
    ours_s, ours_times, ours = best_of(args.repeat, lambda: run_engmetrics(store))
    legs.append(("engmetrics dora_metrics", ours_s, ours_times, peak_rss_mib()))
    sql_s, sql_times, sql_result = best_of(args.repeat, lambda: run_sql(store))
    legs.append(("DuckDB SQL (3 queries)", sql_s, sql_times, peak_rss_mib()))
    mismatches = compare("SQL", ours, sql_result)
    pandas_s = load_s = None
    if not args.no_pandas:
        begin = time.perf_counter()
        frames = load_frames(store)
        load_s = time.perf_counter() - begin
        load_rss = peak_rss_mib()
        pandas_s, pandas_times, theirs = best_of(args.repeat, lambda: run_pandas(frames))
        legs.append(("pandas (loaded frames)", pandas_s, pandas_times, peak_rss_mib()))
        mismatches += compare("pandas", ours, theirs)
        del frames
    if mismatches:
        print(f"{mismatches} differences between the legs: timings not printed")
        return 2
    total = sum(v["deployments"] for v in ours.values())
    leads = sum(v["lead_n"] for v in ours.values())
    print(f"all legs agree for {len(ours)} teams (counts exact, rates and percentiles 1e-9): {total:,} deployments, "
          f"{leads:,} lead times, {sum(v['failed'] for v in ours.values()):,} failed")

    print(f"\n{'leg':<26} {'best s':>8} {'runs s':<26} {'peak RSS MiB':>12}")
    for name, best, times, rss in legs:
        print(f"{name:<26} {best:>8.3f} {' '.join(f'{t:.3f}' for t in times):<26} {rss:>12,.0f}")
    if load_s is not None:
        print(f"{'pandas: reading the frames':<26} {load_s:>8.3f} {'(once, not in its leg)':<26} {load_rss:>12,.0f}")
    print(f"load average after the legs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    full = args.changes >= 1_000_000 and args.deployments >= 300_000
    scope = "" if full else f" (targets are for 1M changes x 300k deployments; this is {args.changes:,} x " \
                            f"{args.deployments:,})"
    print(f"\ntargets{scope}:")
    met = ours_s / sql_s <= 2.0
    ok = met
    print(f"  {'engmetrics / SQL':<20} {ours_s / sql_s:>8.2f}x  {'met' if met else 'MISSED'} (<= 2x)")
    if pandas_s is not None:
        assert load_s is not None
        met = (load_s + pandas_s) / ours_s > 1
        ok &= met
        print(f"  {'pandas / engmetrics':<20} {(load_s + pandas_s) / ours_s:>8.2f}x  {'met' if met else 'MISSED'} "
              "(> 1x; both from the store: pandas reads the rows, then computes)")
        print(f"  {'':<20} {pandas_s / ours_s:>8.2f}x  pandas' computation alone, from frames already in memory")
    store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
