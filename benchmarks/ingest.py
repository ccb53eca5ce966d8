"""Ingest speed against a bare DuckDB load of the same file, measured in the same run.

Generates N `deployments`-shaped rows and N FOCUS-shaped `cost` rows as CSV (ISO-8601 text) and Parquet
(typed columns, as real exports are), cached in benchmarks/.data/, then times `engmetrics ingest` (full
validation, quarantine, upsert, into a fresh file-backed store) against DuckDB's own
`CREATE TABLE AS SELECT * FROM read_csv/read_parquet`. Results are in docs/performance.md.

Targets (issue 2): >= 500k rows/s from CSV, >= 1.5M rows/s from Parquet, within 2.5x of the bare load.

    python benchmarks/ingest.py [--rows 5000000] [--datasets cost] [--formats parquet]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DATA = Path(__file__).parent / ".data"
ENGMETRICS = Path(sys.executable).with_name("engmetrics")


def _timestamps(rng: np.random.Generator, n: int) -> np.ndarray:
    start = np.datetime64("2025-01-01T00:00:00", "s")
    return start + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")


def _iso(values: np.ndarray) -> pa.Array:
    """Typed UTC timestamps: Parquet keeps the type, CSV gets ISO-8601 text ending in Z."""
    return pa.array(values, pa.timestamp("s", tz="UTC"))


def deployments(n: int, rng: np.random.Generator, offset: int = 0) -> pa.Table:
    started = _timestamps(rng, n)
    finished = started + rng.integers(30, 3600, n).astype("timedelta64[s]")
    services = np.array([f"service-{i:02d}" for i in range(30)])
    return pa.table({
        "deployment_id": pa.array(np.char.add("d", np.arange(offset, offset + n).astype(str))),  # unique
        "service": pa.array(services[rng.integers(0, 30, n)]),
        "environment": pa.array(np.array(["production", "staging"])[rng.integers(0, 2, n)]),
        "started_at": _iso(started), "finished_at": _iso(finished),
        "status": pa.array(np.array(["success", "success", "success", "failure"])[rng.integers(0, 4, n)]),
        "commit_sha": pa.array(np.char.mod("%040x", rng.integers(0, 2**62, n))),
        "is_rollback": pa.array(rng.random(n) < 0.02), "is_hotfix": pa.array(rng.random(n) < 0.05),
    })


def cost(n: int, rng: np.random.Generator, offset: int = 0) -> pa.Table:
    start = np.datetime64("2025-09-01T00:00:00", "s") + (rng.integers(0, 30 * 24, n) * 3600).astype("timedelta64[s]")
    end = start + np.timedelta64(3600, "s")
    billed = np.round(rng.lognormal(-2, 1.5, n), 6)
    services = np.array(["AmazonEC2", "AmazonS3", "AmazonRDS", "AWSLambda", "AmazonCloudWatch"])
    teams = np.array(['{"team": "payments"}', '{"Team": "search"}', '{"owner-team": "core"}', "{}"])
    columns = {
        "BillingAccountId": pa.array(np.char.mod("%012d", rng.integers(0, 50, n))),
        "BillingCurrency": pa.array(np.full(n, "USD")),
        "BillingPeriodStart": _iso(np.full(n, np.datetime64("2025-09-01T00:00:00", "s"))),
        "BillingPeriodEnd": _iso(np.full(n, np.datetime64("2025-10-01T00:00:00", "s"))),
        "ChargePeriodStart": _iso(start), "ChargePeriodEnd": _iso(end),
        "ChargeCategory": pa.array(np.array(["Usage", "usage", "Tax", "Credit"])[rng.integers(0, 4, n)]),
        "ChargeDescription": pa.array(np.char.add("Usage of ", services[rng.integers(0, 5, n)])),
        "BilledCost": pa.array(billed), "EffectiveCost": pa.array(billed * 0.9),
        "ListCost": pa.array(billed * 1.1), "ContractedCost": pa.array(billed),
        "ListUnitPrice": pa.array(np.round(rng.random(n), 6)), "PricingQuantity": pa.array(rng.integers(1, 100, n)),
        "PricingUnit": pa.array(np.full(n, "Hours")), "ProviderName": pa.array(np.full(n, "AWS")),
        "RegionId": pa.array(np.array(["us-east-1", "eu-west-1"])[rng.integers(0, 2, n)]),
        "ResourceId": pa.array(np.char.add("i-", np.char.mod("%08x", rng.integers(0, 10**6, n)))),
        "ServiceName": pa.array(services[rng.integers(0, 5, n)]),
        "SkuId": pa.array(np.char.mod("SKU%06d", rng.integers(0, 10**5, n))),
        "SubAccountId": pa.array(np.char.mod("%012d", rng.integers(0, 500, n))),
        "Tags": pa.array(teams[rng.integers(0, 4, n)]),
    }
    return pa.table(columns)


def _files(name: str, make, rows: int) -> dict[str, Path]:
    DATA.mkdir(exist_ok=True)
    csv_path, pq_path = DATA / f"{name}-{rows}.csv", DATA / f"{name}-{rows}.parquet"
    if not (csv_path.exists() and pq_path.exists()):
        rng = np.random.default_rng(42)
        chunk = 1_000_000
        with pacsv.CSVWriter(csv_path, make(min(rows, 1), rng).schema) as csv_out, \
                pq.ParquetWriter(pq_path, make(min(rows, 1), rng).schema) as pq_out:
            for offset in range(0, rows, chunk):
                table = make(min(chunk, rows - offset), rng, offset)
                csv_out.write_table(table)
                pq_out.write_table(table)
    return {"csv": csv_path, "parquet": pq_path}


def _bare(path: Path, kind: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bare.duckdb"))
        reader = "read_csv" if kind == "csv" else "read_parquet"
        begin = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
        elapsed = time.perf_counter() - begin
        con.close()
    return elapsed


def _engmetrics(path: Path, dataset: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([ENGMETRICS, "init", str(ws)], check=True, capture_output=True)
        subprocess.run([ENGMETRICS, "-w", str(ws), "datasets", "list", "--json"], check=True, capture_output=True)
        begin = time.perf_counter()
        done = subprocess.run([ENGMETRICS, "-w", str(ws), "ingest", dataset, str(path), "--json"],
                              check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - begin
        shutil.rmtree(ws)
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--datasets", default="deployments,cost", help="comma-separated: deployments, cost")
    parser.add_argument("--formats", default="csv,parquet", help="comma-separated: csv, parquet")
    args = parser.parse_args()
    datasets, formats = args.datasets.split(","), args.formats.split(",")
    targets = {"csv": 500_000, "parquet": 1_500_000}
    print(f"{'dataset':<12} {'format':<8} {'rows':>10} {'engmetrics s':>12} {'rows/s':>12} "
          f"{'bare s':>8} {'ratio':>6}  target")
    for dataset, make in (("deployments", deployments), ("cost", cost)):
        if dataset not in datasets:
            continue
        for kind, path in _files(dataset, make, args.rows).items():
            if kind not in formats:
                continue
            bare = _bare(path, kind)
            ours, summary = _engmetrics(path, dataset)
            rate = args.rows / ours
            ok = rate >= targets[kind] and ours / bare <= 2.5
            print(f"{dataset:<12} {kind:<8} {args.rows:>10,} {ours:>12.2f} {rate:>12,.0f} {bare:>8.2f} "
                  f"{ours / bare:>6.2f}  {'met' if ok else 'MISSED'} (>= {targets[kind]:,}/s, <= 2.5x)")
            if '"quarantined": 0' not in summary or f'"inserted": {args.rows}' not in summary:
                print("   unexpected accounting:", summary.replace("\n", " "))


if __name__ == "__main__":
    main()
