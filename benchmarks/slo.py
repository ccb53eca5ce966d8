"""`slo status` for many SLOs against one hand-written DuckDB query and a straightforward pandas version.

Generates `--slos` OpenSLO SLOs (services `svc-NNNN`, two indicators each: availability and latency; target
0.999, a rolling 30-day window, Occurrences, an inline `ratioMetric` over `sli_events`) as a few
multi-document YAML files, and `--days` of 1-minute `sli_events` buckets for each of them, made by DuckDB
with `range()` (1,000 SLOs x 30 days = 43.2 million rows). The store is cached in benchmarks/.data/
(`--fresh` rebuilds it); setting it up is not timed. Integer counts keep every sum exact, so the three
legs must agree to 1e-9 whatever their summation order. Every tenth SLO burns fast in the last hour (a
page fires), the next one slowly over the last day (tickets fire), the next one all month (budget spent).

Legs, each timed `--repeat` times in the same run (best taken), from a warm, already-open store:

- engmetrics: `engmetrics.slo.status.slo_status(store, specs, at)` with the specs already loaded (loading
  them, `check_files`, is timed once and printed on its own);
- SQL: one hand-written DuckDB query, in two forms (the faster one is the baseline): `FILTER` sums per
  (service, indicator) over 30d and the seven burn windows; or per-band sums (each event in the band of
  the shortest window holding it) with a running sum over the bands. SLI, budget, burn rates, alerts and
  state for each SLO follow in a small Python step, timed with the query;
- pandas: the same numbers from a DataFrame already read from the store (reading it is timed once and
  printed on its own): one boolean mask and `groupby(...).sum()` per window, then the same Python step.

Before any timing is printed, sli, error budget, burn rates, alerts and state of every SLO are checked
equal (1e-9) across the legs. Peak RSS (`getrusage`) is printed after each leg; legs run in the order
engmetrics, SQL, pandas, so the first two are not inflated by the DataFrame.

Targets (SLO issue): <= 3 s for 1,000 SLOs over 30 days, <= 1.5x the SQL query, >= 10x faster than pandas.
The pandas target counts pandas' read of the rows, as engmetrics' time counts its own scan of the store;
the computation alone, from a frame already in memory, is printed beside it.
Results are in docs/performance.md.

    python benchmarks/slo.py [--slos 1000] [--days 30] [--repeat 3] [--fresh] [--no-pandas]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from common import best_of, cached_store, close, leg_line, peak_rss_mib, print_legs

from engmetrics.durations import duration_seconds
from engmetrics.slo import check_files
from engmetrics.slo import status as status_module
from engmetrics.slo.alerting import DEFAULT_TABLE, STATUS_WINDOWS
from engmetrics.slo.status import slo_status
from engmetrics.store import Store

GENERATOR = 1  # bump when the generated rows change, so cached stores are rebuilt
AT = datetime(2026, 1, 31, tzinfo=UTC)
TARGET, PERIOD = 0.999, 30 * 86400
MIN_EVENTS, WARNING_REMAINING = 100, 0.25
INDICATORS = ("availability", "latency")
WINDOWS = ("30d", *STATUS_WINDOWS)  # the SLO window, then the burn-rate windows


def key_of(k: int) -> tuple[str, str]:
    """SLO number k -> (service, indicator): two indicators per service."""
    return f"svc-{k // 2:04d}", INDICATORS[k % 2]


def write_specs(directory: Path, slos: int, per_file: int = 100) -> list[Path]:
    """`slos` OpenSLO SLO documents, `per_file` to a multi-document YAML file."""
    paths = []
    for first in range(0, slos, per_file):
        docs = []
        for k in range(first, min(first + per_file, slos)):
            service, indicator = key_of(k)
            source = f"{{dataset: sli_events, service: {service}, indicator: {indicator}, column: COLUMN}}"
            docs.append(f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: {service}-{indicator}
spec:
  service: {service}
  indicator:
    metadata:
      name: {service}-{indicator}
    spec:
      ratioMetric:
        good:
          metricSource:
            type: engmetrics
            spec: {source.replace("COLUMN", "good")}
        total:
          metricSource:
            type: engmetrics
            spec: {source.replace("COLUMN", "total")}
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Good
      target: {TARGET}
""")
        path = directory / f"slos-{first // per_file:03d}.yaml"
        path.write_text("---\n".join(docs))
        paths.append(path)
    return paths


def _generate(store: Store, slos: int, days: int) -> None:
    """`slos` x `days` x 1440 rows of `sli_events`, ending at AT, made by DuckDB.

    total is 50..149 per minute; about 3 % of minutes have one bad event (burn rate ~0.3). SLO k % 10 == 0:
    2 % bad in the last hour (burn 20: both page tiers' windows); == 1: 0.5 % bad over the last day (burn
    5: tickets); == 2: ~0.15 % bad all along (burn ~1.5: budget exhausted).
    """
    minutes = days * 1440
    start = AT - timedelta(minutes=minutes)
    services = "'svc-' || lpad((k // 2)::VARCHAR, 4, '0')"
    store.sql.execute(f"""
        INSERT INTO sli_events
        WITH raw AS (
            SELECT k, m, hash(k, m) AS h
            FROM range({minutes}) AS ms(m), range({slos}) AS ks(k)
        ), counted AS (
            SELECT k, m, (50 + h % 100)::DOUBLE AS total,
                   CASE
                     WHEN k % 10 = 0 AND m >= {minutes - 60} THEN (50 + h % 100) // 50
                     WHEN k % 10 = 1 AND m >= {minutes - 1440} THEN ((h // 100) % 200 < 100)::INT
                     WHEN k % 10 = 2 THEN ((h // 100) % 100 < 15)::INT
                     ELSE ((h // 100) % 100 < 3)::INT
                   END::DOUBLE AS bad
            FROM raw
        )
        SELECT {services} AS service,
               CASE k % 2 WHEN 0 THEN '{INDICATORS[0]}' ELSE '{INDICATORS[1]}' END AS indicator,
               TIMESTAMPTZ '{start.isoformat()}' + to_minutes(m::BIGINT) AS ts,
               total - bad AS good, total
        FROM counted
    """)
    store.sql.execute("CHECKPOINT")


def open_store(slos: int, days: int, fresh: bool) -> tuple[Store, Path, float | None]:
    """The cached store for (slos, days); the seconds spent generating it (None when cached)."""
    return cached_store(f"slo-{slos}-{days}-v{GENERATOR}", lambda store: _generate(store, slos, days),
                        f"{slos * days * 1440:,} sli_events rows", fresh)


# ---------------------------------------------------------------- the shared Python step of the baselines

def finish(sums: dict[tuple[str, str], dict[str, tuple[float, float]]],
           keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """From (good, total) per window of each SLO to the numbers `slo status` reports (Occurrences)."""
    factors = [(t.severity, t.long_window, t.short_window,
                t.budget_share * PERIOD / duration_seconds(t.long_window)) for t in DEFAULT_TABLE.tiers]
    out = {}
    for key in keys:
        windows = sums.get(key, {})
        good, total = windows.get("30d", (0.0, 0.0))
        rates: dict[str, float | None] = {}
        for w in STATUS_WINDOWS:
            g, t = windows.get(w, (0.0, 0.0))
            rates[w] = (t - g) / ((1 - TARGET) * t) if t > 0 else None
        firing = [all(rates[w] is not None and rates[w] >= f - 1e-12 for w in (long, short))  # type: ignore[operator]
                  for _, long, short, f in factors]
        if total > 0:
            allowed, consumed = (1 - TARGET) * total, total - good
            sli, remaining, burn = good / total, 1 - consumed / allowed, consumed / allowed
        else:
            allowed, consumed, sli, remaining, burn = 0.0, None, None, None, None
        if total <= 0 or total < MIN_EVENTS:
            state = "insufficient_data"
        elif remaining is not None and remaining <= 0:
            state = "exhausted"
        elif any(firing) or (remaining is not None and remaining < WARNING_REMAINING):
            state = "warning"
        else:
            state = "ok"
        out[key] = {"good": good, "total": total, "sli": sli, "allowed": allowed, "consumed": consumed,
                    "remaining": remaining, "burn_rate": burn, "burn_rates": rates, "firing": firing,
                    "state": state}
    return out


def _since() -> dict[str, datetime]:
    return {w: AT - timedelta(seconds=duration_seconds(w)) for w in WINDOWS}


# ---------------------------------------------------------------- the three legs

def run_engmetrics(store: Store, specs: Any) -> dict[tuple[str, str], dict[str, Any]]:
    report = slo_status(store, specs, AT, min_events=MIN_EVENTS, warning_remaining=WARNING_REMAINING)
    if report.skipped:
        raise SystemExit(f"slo_status skipped SLOs: {report.skipped[:3]}")
    out = {}
    for item in report.items:
        budget = item["error_budget"]
        out[(item["service"], item["slo"].removeprefix(item["service"] + "-"))] = {
            "good": item["good"], "total": item["total"], "sli": item["sli"], "allowed": budget["allowed"],
            "consumed": budget["consumed"], "remaining": budget["remaining"], "burn_rate": item["burn_rate"],
            "burn_rates": item["burn_rates"], "firing": [a["firing"] for a in item["alerts"]],
            "state": item["state"]}
    return out


def sql_filter_query() -> str:
    """Per (service, indicator): sums over 30d and each burn window, one `FILTER` aggregate per window."""
    since = _since()
    sums = ",\n               ".join(
        f"sum(good) FILTER (WHERE ts >= TIMESTAMPTZ '{since[w].isoformat()}') AS \"g_{w}\", "
        f"sum(total) FILTER (WHERE ts >= TIMESTAMPTZ '{since[w].isoformat()}') AS \"t_{w}\""
        for w in STATUS_WINDOWS)
    return f"""
        SELECT service, indicator, sum(good) AS "g_30d", sum(total) AS "t_30d",
               {sums}
        FROM sli_events
        WHERE ts >= TIMESTAMPTZ '{since["30d"].isoformat()}' AND ts < TIMESTAMPTZ '{AT.isoformat()}'
        GROUP BY service, indicator
    """


def _by_length() -> list[str]:
    """The windows longest first: band i holds the events of window i that are not in window i + 1."""
    return sorted(WINDOWS, key=duration_seconds, reverse=True)


def sql_bands_query() -> str:
    """Per (service, indicator, band): each event in the band of the shortest window holding it, then a
    running sum over the bands from the shortest window out gives every window's sums."""
    since = _since()
    cases = " ".join(f"WHEN ts >= TIMESTAMPTZ '{since[w].isoformat()}' THEN {i}"
                     for i, w in reversed(list(enumerate(_by_length()))))
    return f"""
        SELECT service, indicator, band, sum(sum(good)) OVER w AS good, sum(sum(total)) OVER w AS total
        FROM (SELECT service, indicator, good, total, CASE {cases} END AS band
              FROM sli_events
              WHERE ts >= TIMESTAMPTZ '{since["30d"].isoformat()}' AND ts < TIMESTAMPTZ '{AT.isoformat()}')
        GROUP BY service, indicator, band
        WINDOW w AS (PARTITION BY service, indicator ORDER BY band DESC)
    """


def run_sql_filter(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    sums = {}
    for row in store.sql.execute(sql_filter_query()).fetchall():
        values = row[2:]
        sums[(row[0], row[1])] = {w: (values[2 * i] or 0.0, values[2 * i + 1] or 0.0)
                                  for i, w in enumerate(WINDOWS)}
    return finish(sums, keys)


def run_sql_bands(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    running: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    for service, indicator, band, good, total in store.sql.execute(sql_bands_query()).fetchall():
        running.setdefault((service, indicator), {})[band] = (good, total)
    order = _by_length()
    sums = {}
    for key, bands in running.items():
        windows, last = {}, (0.0, 0.0)
        for i in reversed(range(len(order))):  # shortest first; a window without its own band has the next one's
            last = bands.get(i, last)
            windows[order[i]] = last
        sums[key] = windows
    return finish(sums, keys)


def load_frame(store: Store) -> pd.DataFrame:
    since = _since()["30d"]
    with warnings.catch_warnings():  # DuckDB's .df() uses an argument pandas 3 deprecates
        warnings.simplefilter("ignore")
        return store.sql.execute("SELECT service, indicator, ts, good, total FROM sli_events "
                                 "WHERE ts >= ? AND ts < ?", [since, AT]).df()


def run_pandas(frame: pd.DataFrame, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    at = pd.Timestamp(AT)
    sums: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for w, since in _since().items():
        mask = (frame["ts"] >= pd.Timestamp(since)) & (frame["ts"] < at)
        grouped = frame[mask].groupby(["service", "indicator"])[["good", "total"]].sum()
        for (service, indicator), good, total in zip(grouped.index, grouped["good"], grouped["total"], strict=True):
            sums.setdefault((service, indicator), {})[w] = (float(good), float(total))
    return finish(sums, keys)


# ---------------------------------------------------------------- checks, timing, report

def compare(name: str, ours: dict, theirs: dict) -> int:
    """Print up to five differences between the engine's numbers and a baseline's; return how many."""
    bad = []
    if set(ours) != set(theirs):
        bad.append(f"SLOs differ: {len(set(ours) ^ set(theirs))} not in both")
    for key in sorted(set(ours) & set(theirs)):
        a, b = ours[key], theirs[key]
        for field in ("good", "total", "sli", "allowed", "consumed", "remaining", "burn_rate", "state"):
            if not close(a[field], b[field]):
                bad.append(f"{key} {field}: engmetrics {a[field]!r}, {name} {b[field]!r}")
        for w in STATUS_WINDOWS:
            if not close(a["burn_rates"][w], b["burn_rates"][w]):
                bad.append(f"{key} burn_rates[{w}]: engmetrics {a['burn_rates'][w]!r}, {name} {b['burn_rates'][w]!r}")
        if a["firing"] != b["firing"]:
            bad.append(f"{key} alerts firing: engmetrics {a['firing']}, {name} {b['firing']}")
    for line in bad[:5]:
        print(f"   MISMATCH {line}")
    return len(bad)


class QueryTimer:
    """Times `band_sums` (the engine's one aggregation query) inside `slo_status`, without touching src/."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __enter__(self) -> QueryTimer:
        self._original = original = status_module.band_sums

        def timed(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.times.append(time.perf_counter() - begin)

        status_module.band_sums = timed
        return self

    def __exit__(self, *exc: object) -> None:
        status_module.band_sums = self._original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000, help="SLOs, two per service (default 1000)")
    parser.add_argument("--days", type=int, default=30, help="days of 1-minute buckets, at most 30 (default 30)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per leg, best taken (default 3)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached store")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas leg")
    args = parser.parse_args()
    if args.slos < 1 or not 1 <= args.days <= 30 or args.repeat < 1:
        parser.error("--slos and --repeat must be positive, --days in 1..30")

    store, _, generated = open_store(args.slos, args.days, args.fresh)
    rows = store.sql.execute("SELECT count(*) FROM sli_events").fetchone()[0]
    if generated is not None:
        print(f"generated in {generated:.1f} s (not timed below)")
    with tempfile.TemporaryDirectory(prefix="engmetrics-bench-slo-") as tmp:
        files = write_specs(Path(tmp), args.slos)
        begin = time.perf_counter()
        loaded = check_files(files)
        spec_seconds = time.perf_counter() - begin
    errors = [i for i in loaded.issues if getattr(i, "level", "") == "ERROR"]
    if errors:
        raise SystemExit(f"the generated specs have errors: {errors[:3]}")
    keys = [key_of(k) for k in range(args.slos)]
    print(f"{args.slos:,} SLOs x {args.days} days of 1-minute buckets = {rows:,} sli_events rows; at {AT.isoformat()}; "
          f"{len(files)} spec files loaded (check_files) in {spec_seconds:.2f} s")

    sources = Path(status_module.__file__).parent
    digest = hashlib.sha256(b"".join((sources / n).read_bytes() for n in ("engine.py", "status.py"))).hexdigest()[:10]
    print(f"engine sources (slo/engine.py + slo/status.py) sha256 {digest}")
    print(f"load average before the legs: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    legs: list[tuple[str, float, list[float], float]] = []
    run_engmetrics(store, loaded.specs)  # warm-up: the store's pages in memory, imports, Ibis compile paths
    with QueryTimer() as query:
        ours_s, ours_times, ours = best_of(args.repeat, lambda: run_engmetrics(store, loaded.specs))
    legs.append(("engmetrics slo_status", ours_s, ours_times, peak_rss_mib()))
    mismatches = 0
    sql_s = math.inf
    for name, run in (("DuckDB SQL, FILTER sums", run_sql_filter), ("DuckDB SQL, bands", run_sql_bands)):
        best, times, result = best_of(args.repeat, lambda run=run: run(store, keys))
        legs.append((name, best, times, peak_rss_mib()))
        mismatches += compare(name, ours, result)
        sql_s = min(sql_s, best)
    pandas_s = load_s = None
    if not args.no_pandas:
        begin = time.perf_counter()
        frame = load_frame(store)
        load_s = time.perf_counter() - begin
        load_rss = peak_rss_mib()
        pandas_s, pandas_times, theirs = best_of(args.repeat, lambda: run_pandas(frame, keys))
        legs.append(("pandas (loaded frame)", pandas_s, pandas_times, peak_rss_mib()))
        mismatches += compare("pandas", ours, theirs)
        del frame
    if mismatches:
        print(f"{mismatches} differences between the legs: timings not printed")
        return 2
    states = pd.Series([v["state"] for v in ours.values()]).value_counts().to_dict()
    firing = sum(any(v["firing"]) for v in ours.values())
    print(f"all legs agree on every SLO (1e-9): sli, budget, burn rates, alerts, state; states {states}; "
          f"{firing} SLOs with an alert firing")

    print_legs(legs, None if load_s is None else ("pandas: reading the frame", load_s, load_rss))
    print(leg_line("  engmetrics: band_sums", min(query.times), " ".join(f"{t:.3f}" for t in query.times))
          + "  (its one DuckDB aggregation, to pandas; the rest is Python per SLO)")
    print(leg_line("loading specs", spec_seconds, "(once, not in any leg)"))
    print(f"load average after the legs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    full = args.slos >= 1000 and args.days >= 30
    scope = "" if full else f" (targets are for 1,000 SLOs x 30 days; this is {args.slos} x {args.days})"
    ok = True
    checks = [("engmetrics time", ours_s, 3.0, f"{ours_s:.2f} s", "<= 3 s"),
              ("engmetrics / SQL", ours_s / sql_s, 1.5, f"{ours_s / sql_s:.2f}x", "<= 1.5x the faster SQL")]
    print(f"\ntargets{scope}:")
    for name, value, limit, shown, wanted in checks:
        met = value <= limit
        ok &= met
        print(f"  {name:<18} {shown:>9}  {'met' if met else 'MISSED'} ({wanted})")
    if pandas_s is not None:  # like for like: engmetrics reads the store in its time, so pandas does too
        assert load_s is not None
        met = (load_s + pandas_s) / ours_s >= 10
        ok &= met
        print(f"  {'pandas / engmetrics':<18} {(load_s + pandas_s) / ours_s:>8.1f}x  {'met' if met else 'MISSED'} "
              "(>= 10x; both from the store: pandas reads the rows, then computes)")
        print(f"  {'':<18} {pandas_s / ours_s:>8.1f}x  pandas' computation alone, from a frame already in memory "
              f"(pandas / SQL: {pandas_s / sql_s:.1f}x)")
    store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
