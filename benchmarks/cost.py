"""FOCUS ingest speed, and `allocated_daily(..., by="team")` with shared-cost rules against hand-written DuckDB
SQL and a straightforward pandas version, all in the same run.

Generates, inside DuckDB with `range()`, `--rows` FOCUS-shaped hourly usage lines (cached as Parquet in
benchmarks/.data/): R = rows / 720 resources, row i is resource i % R in hour i // R of a 30-day month (January
2026), so every resource has one line per hour. Per resource (by a hash): a service `svc-000`..`svc-199`
(owned by `Team-SS % 20` in `services`), one of 50 sub-accounts (`acct-045`..`acct-049` bill in EUR, the rest
in USD), and a kind: 3 % S3 log buckets (`arn:aws:s3:::logs-*`, an owner rule gives them to observability),
1 % AWS Support (shared, proportional to direct cost), 2 % CloudWatch (shared, evenly), 8 % untagged, 2 % only a
`service` tag (team through the `services` dataset), 2 % tagged `team: shared` (shared, fixed 40/30/20/10 %),
the rest tagged with team, service and environment in four styles (`team`, `Team` with upper-case values,
`owner-team`, `user:Team`). Sub-account `acct-000` belongs to platform by an owner rule. EffectiveCost is
0.9 x BilledCost, BilledCost 0..100 with 4 decimals.

Legs:

- ingest: `engmetrics.ingest.ingest_files(store, "cost", [parquet])` into a fresh file-backed store (validation,
  row hashes, quarantine accounting, upsert), timed once; rows/s against the 1.5M rows/s target (issue 7).
  `--no-ingest` reuses the store of an earlier run instead (made untimed when missing).
- engmetrics: `allocated_daily(store, rules, "team", START, END).to_pyarrow()` (building and compiling the Ibis
  expression included);
- SQL: one hand-written DuckDB query, tuned as a careful analyst would: rows summed by day, currency, `Tags` and
  the rule columns first, the JSON keys read once per distinct `Tags` text with one `json_extract_string` list
  call, window functions for the splits (the first version read the JSON on every row: 187 s at 10M rows);
- pandas: the same numbers from a frame already read from the store (reading it is timed once and printed
  on its own): JSON parsed once per distinct `Tags` text, vectorised string rules, `groupby`.

Checked equal before any timing is printed, per (day, team, currency): direct and shared cost to a relative
1e-9 (sums of millions of floats in different orders). Each allocation leg runs `--repeat` times (best taken)
after a warm-up. Targets (issue 7): ingest >= 1.5M rows/s; engmetrics <= 2x the SQL and faster than pandas
(pandas' read counts, as engmetrics' time counts its own scan of the store). Results are in docs/performance.md.

    python benchmarks/cost.py [--rows 10000000] [--repeat 3] [--fresh] [--no-ingest] [--no-pandas]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from common import DATA, best_of, peak_rss_mib, print_legs

from engmetrics.cost.allocation import UNALLOCATED, UNTAGGED, allocated_daily
from engmetrics.cost.allocation_rules import AllocationRules
from engmetrics.ingest import ingest_files
from engmetrics.store import Store

GENERATOR = 1  # bump when the generated rows change, so cached files are rebuilt
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
HOURS, SERVICES, TEAMS, ACCOUNTS = 720, 200, 20, 50
FIXED = {"Team-00": 40.0, "Team-01": 30.0, "Team-02": 20.0, "Team-03": 10.0}
RULES = AllocationRules.model_validate({
    "owners": [{"match": {"SubAccountId": "acct-000"}, "team": "platform"},
               {"match": {"ResourceId": "arn:aws:s3:::logs-*"}, "team": "observability"}],
    "shared": [{"name": "support", "match": {"ServiceName": "AWS Support*"}, "split": "proportional"},
               {"name": "platform", "match": {"tags": {"team": "shared"}}, "split": "fixed",
                "percentages": {k.lower(): v for k, v in FIXED.items()}},
               {"name": "monitoring", "match": {"ServiceName": "Amazon CloudWatch"}, "split": "even"}]})
TEAM_KEYS = ["team", "owner-team", "owner_team", "team-name", "team_name"]
SERVICE_KEYS = ["service", "service-name", "service_name", "app", "application"]
REL = 1e-9


def _parquet(rows: int) -> Path:
    """The generated bill (module doc), written by DuckDB; cached."""
    path = DATA / f"cost-alloc-{rows}-v{GENERATOR}.parquet"
    if path.exists():
        return path
    import duckdb

    DATA.mkdir(exist_ok=True)
    resources = max(1, rows // HOURS)
    tt, ss = "lpad((svc % 20)::VARCHAR, 2, '0')", "lpad(svc::VARCHAR, 3, '0')"
    partial = path.with_name(path.name + ".partial")
    print(f"generating {rows:,} FOCUS rows into {path} ...", flush=True)
    duckdb.connect().execute(f"""COPY (
        WITH r AS (SELECT i, i % {resources} AS res, i // {resources} AS hour FROM range({rows}) AS t(i)),
        a AS (SELECT i, res, hour, hash(res, 1) % 1000 AS kind, hash(res, 2) % {SERVICES} AS svc,
                     hash(res, 3) % 4 AS style, hash(res, 4) % {ACCOUNTS} AS acct,
                     (hash(i, 6) % 1000000) / 10000.0 AS billed FROM r)
        SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_hours(hour) AS ChargePeriodStart,
               TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_hours(hour + 1) AS ChargePeriodEnd,
               TIMESTAMPTZ '2026-01-01 00:00:00+00' AS BillingPeriodStart,
               TIMESTAMPTZ '2026-02-01 00:00:00+00' AS BillingPeriodEnd,
               'Usage' AS ChargeCategory, 'Usage-Based' AS ChargeFrequency, billed AS BilledCost,
               round(billed * 0.9, 6) AS EffectiveCost, billed * 1.1 AS ListCost, billed AS ContractedCost,
               CASE WHEN acct >= 45 THEN 'EUR' ELSE 'USD' END AS BillingCurrency, 'AWS' AS ProviderName,
               'billing-1' AS BillingAccountId, 'acct-' || lpad(acct::VARCHAR, 3, '0') AS SubAccountId,
               CASE WHEN kind < 30 THEN 'arn:aws:s3:::logs-' || res
                    ELSE 'arn:aws:ec2:us-east-1:' || acct || ':instance/i-' || res END AS ResourceId,
               CASE WHEN kind >= 30 AND kind < 40 THEN 'AWS Support (Business)'
                    WHEN kind >= 40 AND kind < 60 THEN 'Amazon CloudWatch'
                    ELSE 'Amazon Elastic Compute Cloud' END AS ServiceName,
               'us-east-1' AS RegionId, 1.0 AS PricingQuantity, 'Hours' AS PricingUnit,
               CASE WHEN kind >= 60 AND kind < 140 THEN NULL
                    WHEN kind < 160 THEN '{{"service": "svc-' || {ss} || '"}}'
                    WHEN kind < 180 THEN '{{"team": "shared", "env": "prod"}}'
                    WHEN style = 0 THEN '{{"team": "team-' || {tt} || '", "service": "svc-' || {ss}
                                        || '", "env": "prod"}}'
                    WHEN style = 1 THEN '{{"Team": "TEAM-' || {tt} || '", "Service": "SVC-' || {ss}
                                        || '", "Env": "Prod"}}'
                    WHEN style = 2 THEN '{{"owner-team": "team-' || {tt} || '", "app": "svc-' || {ss}
                                        || '", "environment": "dev"}}'
                    ELSE '{{"user:Team": "Team-' || {tt} || '", "user:Service": "svc-' || {ss} || '"}}' END AS Tags
        FROM a) TO '{partial}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    partial.rename(path)
    return path


def _org(store: Store) -> None:
    """Teams `Team-00`..`Team-19` (tags say team-00, TEAM-00, ...) and services `svc-000`..`svc-199`."""
    store.sql.execute("DELETE FROM teams")
    store.sql.execute("DELETE FROM services")
    store.sql.execute(f"INSERT INTO teams (team) SELECT 'Team-' || lpad(t::VARCHAR, 2, '0') FROM range({TEAMS}) x(t)")
    store.sql.execute(f"""INSERT INTO services (service, team)
        SELECT 'svc-' || lpad(s::VARCHAR, 3, '0'), 'Team-' || lpad((s % {TEAMS})::VARCHAR, 2, '0')
        FROM range({SERVICES}) x(s)""")
    store.sql.execute("CHECKPOINT")


def ingest(rows: int, parquet: Path, timed: bool) -> tuple[Store, float | None]:
    """The store holding the bill: ingested now (timed) or, with `timed` False, the one of an earlier run."""
    path = DATA / f"cost-alloc-{rows}-v{GENERATOR}.duckdb"
    took = None
    if timed or not path.exists():
        for stale in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".lock")):
            stale.unlink(missing_ok=True)
        with Store.open(f"duckdb:///{path}") as store:
            begin = time.perf_counter()
            result = ingest_files(store, "cost", [parquet], fmt="parquet", pseudonym_key=bytes(32))
            took = time.perf_counter() - begin
            if (result.inserted, result.quarantined) != (rows, 0):
                print(f"   unexpected accounting: {result.as_dict()}")
            _org(store)
        if not timed:
            took = None
    return Store.open(f"duckdb:///{path}"), took


# ---------------------------------------------------------------- the three legs

Result = dict[tuple[str, str, str], tuple[float, float]]


def run_engmetrics(store: Store) -> Result:
    rows = allocated_daily(store, RULES, "team", START, END).to_pyarrow().to_pylist()
    return {(str(r["day"]), r["group"], r["currency"]): (r["direct"], r["shared"]) for r in rows}


def _paths(keys: list[str]) -> list[str]:
    """JSON paths of each key, plain and with the `user:` prefix (the order the allocation tries them)."""
    return [p for k in keys for p in (f'$."{k}"', f'$."user:{k}"')]


def _first(n: int, offset: int) -> str:
    return "coalesce(" + ", ".join(f"nullif(trim(v[{offset + i + 1}]), '')" for i in range(n)) + ")"


def sql_query() -> str:
    paths = ", ".join(f"'{p}'" for p in _paths(TEAM_KEYS) + _paths(SERVICE_KEYS))
    nt = 2 * len(TEAM_KEYS)
    fixed = ", ".join(f"('{k}', {v})" for k, v in FIXED.items())
    return f"""
    WITH summed AS (
        SELECT CAST(ChargePeriodStart AS DATE) AS day,
               coalesce(nullif(upper(trim(BillingCurrency)), ''), '(unknown)') AS currency, Tags,
               starts_with(lower(ServiceName), 'aws support') AS support,
               lower(ServiceName) = 'amazon cloudwatch' AS cloudwatch,
               CASE WHEN lower(SubAccountId) = 'acct-000' THEN 'platform'
                    WHEN starts_with(lower(ResourceId), 'arn:aws:s3:::logs-') THEN 'observability' END AS rule_team,
               sum(EffectiveCost) AS amount
        FROM cost
        WHERE ChargePeriodStart >= TIMESTAMPTZ '{START.isoformat()}'
          AND ChargePeriodStart < TIMESTAMPTZ '{END.isoformat()}'
        GROUP BY ALL),
    keys AS (SELECT Tags, json_extract_string(lower(Tags), [{paths}]) AS v
             FROM (SELECT DISTINCT Tags FROM summed WHERE Tags IS NOT NULL)),
    tagged AS (
        SELECT s.*, {_first(nt, 0)} AS team_tag, {_first(2 * len(SERVICE_KEYS), nt)} AS service_tag
        FROM summed s LEFT JOIN keys USING (Tags)),
    svc AS (SELECT lower(service) AS k, min(team) AS team FROM services WHERE service IS NOT NULL GROUP BY 1),
    tm AS (SELECT lower(team) AS k, min(team) AS name FROM teams WHERE team IS NOT NULL GROUP BY 1),
    owned AS (
        SELECT t.day, t.currency, t.amount,
               CASE WHEN t.support THEN 0 WHEN t.team_tag = 'shared' THEN 1 WHEN t.cloudwatch THEN 2 END AS rule,
               coalesce(t.rule_team, t.team_tag, svc.team) AS raw_team
        FROM tagged t LEFT JOIN svc ON svc.k = lower(t.service_tag)),
    grouped AS (
        SELECT o.day, o.currency, o.rule, coalesce(tm.name, lower(o.raw_team), '{UNTAGGED}') AS grp,
               sum(o.amount) AS amount
        FROM owned o LEFT JOIN tm ON tm.k = lower(o.raw_team) GROUP BY ALL),
    direct AS (SELECT day, currency, grp, sum(amount) AS direct FROM grouped WHERE rule IS NULL GROUP BY ALL),
    pools AS (SELECT rule, day, currency, sum(amount) AS pool FROM grouped WHERE rule IS NOT NULL GROUP BY ALL),
    owners AS (SELECT * FROM direct WHERE grp NOT IN ('{UNTAGGED}', '{UNALLOCATED}') AND direct > 0),
    shares AS (
        SELECT p.day, p.currency, o.grp,
               CASE p.rule WHEN 0 THEN p.pool * o.direct / sum(o.direct) OVER w
                           ELSE p.pool / count(*) OVER w END AS shared
        FROM pools p JOIN owners o USING (day, currency) WHERE p.rule IN (0, 2)
        WINDOW w AS (PARTITION BY p.rule, p.day, p.currency)
        UNION ALL
        SELECT p.day, p.currency, f.grp, p.pool * f.pct / 100 FROM pools p, (VALUES {fixed}) f(grp, pct)
        WHERE p.rule = 1
        UNION ALL
        SELECT day, currency, '{UNALLOCATED}', pool FROM pools p WHERE rule IN (0, 2)
          AND NOT EXISTS (SELECT 1 FROM owners o WHERE o.day = p.day AND o.currency = p.currency)),
    parts AS (SELECT day, grp, currency, direct, 0.0 AS shared FROM direct
              UNION ALL SELECT day, grp, currency, 0.0, shared FROM shares)
    SELECT day, grp, currency, sum(direct), sum(shared) FROM parts GROUP BY ALL"""


def run_sql(store: Store) -> Result:
    return {(str(d), g, c): (a, b) for d, g, c, a, b in store.sql.execute(sql_query()).fetchall()}


def load_frame(store: Store) -> pd.DataFrame:
    """The columns the pandas leg needs, read from the store (timed once, on its own)."""
    with warnings.catch_warnings():  # DuckDB's .df() uses an argument pandas 3 deprecates
        warnings.simplefilter("ignore")
        return store.sql.execute(
            "SELECT ChargePeriodStart, BillingCurrency, EffectiveCost, SubAccountId, ResourceId, ServiceName, Tags "
            f"FROM cost WHERE ChargePeriodStart >= TIMESTAMPTZ '{START.isoformat()}' "
            f"AND ChargePeriodStart < TIMESTAMPTZ '{END.isoformat()}'").df()


def _tag_values(tags: pd.Series, keys: list[str]) -> np.ndarray:
    """Per row, the first of `keys` (plain or `user:`) in the lower-cased JSON, parsed once per distinct text."""
    codes, uniques = pd.factorize(tags)
    values = []
    for text in uniques:
        try:
            obj = json.loads(text.lower())
        except ValueError:
            obj = {}
        found = None
        for key in keys:
            for name in (key, f"user:{key}"):
                value = str(obj.get(name, "")).strip() if isinstance(obj, dict) else ""
                if value and found is None:
                    found = value
        values.append(found)
    return np.array([*values, None], dtype=object)[codes]  # code -1 (missing Tags) takes the last


def run_pandas(frame: pd.DataFrame, teams: pd.Series, services: pd.DataFrame) -> Result:
    f = pd.DataFrame({"day": frame.ChargePeriodStart.dt.tz_convert("UTC").dt.date.astype(str),
                      "currency": frame.BillingCurrency.str.strip().str.upper().fillna("(unknown)"),
                      "amount": frame.EffectiveCost})
    team_tag, service_tag = _tag_values(frame.Tags, TEAM_KEYS), _tag_values(frame.Tags, SERVICE_KEYS)
    sname, rid = frame.ServiceName.str.lower(), frame.ResourceId.str.lower()
    f["rule"] = np.select([sname.str.startswith("aws support").fillna(False).to_numpy(bool), team_tag == "shared",
                           (sname == "amazon cloudwatch").fillna(False).to_numpy(bool)], [0, 1, 2], -1)
    owner = np.select([(frame.SubAccountId.str.lower() == "acct-000").fillna(False).to_numpy(bool),
                       rid.str.startswith("arn:aws:s3:::logs-").fillna(False).to_numpy(bool)],
                      ["platform", "observability"], None)
    svc_team = dict(zip(services.service.str.lower(), services.team, strict=True))
    via_service = pd.Series(service_tag).str.lower().map(svc_team).to_numpy(object)
    raw = pd.Series(owner).fillna(pd.Series(team_tag)).fillna(pd.Series(via_service)).str.lower()
    f["grp"] = raw.map(dict(zip(teams.str.lower(), teams, strict=True))).fillna(raw).fillna(UNTAGGED).to_numpy()
    g = f.groupby(["rule", "day", "currency", "grp"], sort=False).amount.sum().reset_index()
    direct = g[g.rule == -1].groupby(["day", "currency", "grp"]).amount.sum().rename("direct").reset_index()
    pools = g[g.rule != -1].groupby(["rule", "day", "currency"]).amount.sum().rename("pool").reset_index()
    owners = direct[~direct.grp.isin([UNTAGGED, UNALLOCATED]) & (direct.direct > 0)]
    split = pools[pools.rule != 1].merge(owners, on=["day", "currency"])
    keys = split.groupby(["rule", "day", "currency"])
    split["shared"] = np.where(split.rule == 0, split.pool * split.direct / keys.direct.transform("sum"),
                               split.pool / keys.direct.transform("size"))
    fixed = pools[pools.rule == 1].merge(pd.DataFrame({"grp": list(FIXED), "pct": list(FIXED.values())}),
                                         how="cross")
    fixed["shared"] = fixed.pool * fixed.pct / 100
    left = pools[pools.rule != 1].merge(owners[["day", "currency"]].drop_duplicates(), how="left",
                                        on=["day", "currency"], indicator=True)
    left = left[left._merge == "left_only"].assign(grp=UNALLOCATED, shared=left.pool)
    parts = pd.concat([direct.assign(shared=0.0), *(p[["day", "currency", "grp", "shared"]].assign(direct=0.0)
                                                    for p in (split, fixed, left))])
    out = parts.groupby(["day", "grp", "currency"])[["direct", "shared"]].sum()
    return {k: (float(d), float(s)) for k, d, s in zip(out.index, out.direct, out.shared, strict=True)}


# ---------------------------------------------------------------- checks, timing, report

def compare(name: str, ours: Result, theirs: Result) -> int:
    """Print up to five differences between the engine's numbers and a baseline's; return how many."""
    bad = [f"groups only in one: {sorted(set(ours) ^ set(theirs))[:5]}"] if set(ours) != set(theirs) else []
    for key in sorted(set(ours) & set(theirs)):
        for field, a, b in zip(("direct", "shared"), ours[key], theirs[key], strict=True):
            if not math.isclose(a, b, rel_tol=REL, abs_tol=1e-6):
                bad.append(f"{key} {field}: engmetrics {a!r}, {name} {b!r}")
    for line in bad[:5]:
        print(f"   MISMATCH {line}")
    return len(bad)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="FOCUS rows (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per allocation leg, best taken (default 3)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached Parquet file")
    parser.add_argument("--no-ingest", action="store_true", help="reuse the store of an earlier run (no ingest leg)")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas leg")
    args = parser.parse_args()
    if args.rows < HOURS or args.repeat < 1:
        parser.error(f"--rows must be at least {HOURS} and --repeat positive")
    if args.fresh:
        DATA.joinpath(f"cost-alloc-{args.rows}-v{GENERATOR}.parquet").unlink(missing_ok=True)
    parquet = _parquet(args.rows)
    print(f"{args.rows:,} FOCUS rows ({parquet.stat().st_size / 2**20:,.0f} MiB Parquet); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    store, ingest_s = ingest(args.rows, parquet, timed=not args.no_ingest)
    ok = True
    if ingest_s is not None:
        rate = args.rows / ingest_s
        ok = rate >= 1_500_000
        print(f"ingest: {ingest_s:.2f} s, {rate:,.0f} rows/s  {'met' if ok else 'MISSED'} (>= 1,500,000 rows/s; "
              f"peak RSS {peak_rss_mib():,.0f} MiB)")

    legs: list[tuple[str, float, list[float], float]] = []
    run_engmetrics(store)  # warm-up: the store's pages in memory, imports, Ibis compile paths
    ours_s, ours_times, ours = best_of(args.repeat, lambda: run_engmetrics(store))
    legs.append(("engmetrics allocated_daily", ours_s, ours_times, peak_rss_mib()))
    sql_s, sql_times, sql_result = best_of(args.repeat, lambda: run_sql(store))
    legs.append(("DuckDB SQL (1 query)", sql_s, sql_times, peak_rss_mib()))
    mismatches = compare("SQL", ours, sql_result)
    pandas_s = load_s = None
    if not args.no_pandas:
        begin = time.perf_counter()
        frame = load_frame(store)
        teams, services = store.table("teams").team.to_pandas(), store.table("services").to_pandas()
        load_s = time.perf_counter() - begin
        load_rss = peak_rss_mib()
        pandas_s, pandas_times, theirs = best_of(args.repeat, lambda: run_pandas(frame, teams, services))
        legs.append(("pandas (loaded frame)", pandas_s, pandas_times, peak_rss_mib()))
        mismatches += compare("pandas", ours, theirs)
        del frame
    if mismatches:
        print(f"{mismatches} differences between the legs: timings not printed")
        return 2
    total = sum(d + s for d, s in ours.values())
    print(f"all legs agree on {len(ours):,} (day, team, currency) rows (relative 1e-9): "
          f"{sum(s for _, s in ours.values()):,.2f} shared of {total:,.2f} (USD and EUR together, for scale only)")

    print_legs(legs, None if load_s is None else ("pandas: reading the frame", load_s, load_rss))
    print(f"load average after the legs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    scope = "" if args.rows >= 10_000_000 else f" (targets are for 10M rows; this is {args.rows:,})"
    print(f"\ntargets{scope}:")
    met = ours_s / sql_s <= 2.0
    ok &= met
    print(f"  {'engmetrics / SQL':<20} {ours_s / sql_s:>8.2f}x  {'met' if met else 'MISSED'} (<= 2x)")
    if pandas_s is not None:
        assert load_s is not None
        met = (load_s + pandas_s) / ours_s > 1
        ok &= met
        print(f"  {'pandas / engmetrics':<20} {(load_s + pandas_s) / ours_s:>8.2f}x  {'met' if met else 'MISSED'} "
              "(> 1x; both from the store: pandas reads the rows, then computes)")
        print(f"  {'':<20} {pandas_s / ours_s:>8.2f}x  pandas' computation alone, from a frame already in memory")
    store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
