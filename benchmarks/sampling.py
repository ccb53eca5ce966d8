"""Estimate error, interval coverage and storage saved against the sampling rate, on a synthetic stream.

A seeded stream of `--events` request events (default 1M) with an `--error-rate` share of errors (default
1 %) and a log-normal latency is sampled with engmetrics.telemetry.sampling at each rate of `--rates`:

- head: every event kept with probability = rate;
- stratified: every error kept, successes with probability = rate.

Per policy and rate it prints, for one draw, the Horvitz-Thompson estimates of the event count, the error
count, the error ratio and the latency sum beside the truth (relative error, 95 % interval half-width as a
share of the estimate, and the `reliable` flag), and the storage kept (rows, Arrow bytes and Snappy Parquet
bytes, as a share of the whole stream). Then, over `--draws` draws with different hash keys, the share of
95 % intervals that hold the truth (nominal 0.95) and the share of draws flagged reliable. It also prints
the keyed hash's throughput on integer and string keys. Last, the path an indicator takes: the whole stream
and each rate's stratified sample stored as `request_events` in an in-memory DuckDB store and the event count
and error ratio computed by the catalog (`engmetrics.catalog.compute`: HT terms in the engine), with the
seconds per calculation. The engine's estimates must equal the Arrow estimator's (else it prints the
mismatch and exits 1); otherwise it only prints.

    python benchmarks/sampling.py [--events 1000000] [--error-rate 0.01] [--draws 100] [--rates 0.5 0.1 ...]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from common import best_of

from engmetrics.catalog.compute import compute
from engmetrics.catalog.model import Calculation
from engmetrics.catalog.periods import Period
from engmetrics.store import Store
from engmetrics.telemetry.sampling import HeadSampling, StratifiedSampling, Stratum, key_uniforms, sample
from engmetrics.telemetry.sampling_estimate import Estimate, estimate_count, estimate_ratio, estimate_sum

RATES = (0.5, 0.1, 0.05, 0.01, 0.005, 0.001)


def stream(events: int, error_rate: float, seed: int) -> pa.Table:
    """The synthetic stream: event_id, trace_id (text), service, error, latency_ms."""
    rng = np.random.default_rng(seed)
    ids = pa.array(np.arange(events, dtype=np.int64))
    return pa.table({
        "event_id": ids,
        "trace_id": pc.binary_join_element_wise("trace-", pc.cast(ids, pa.string()), ""),
        "service": pa.DictionaryArray.from_arrays(rng.integers(0, 5, events).astype(np.int32),
                                                   ["api", "auth", "billing", "search", "web"]),
        "error": rng.random(events) < error_rate,
        "latency_ms": rng.lognormal(4.0, 1.0, events),
    })


def policies(rate: float) -> list[tuple[str, HeadSampling | StratifiedSampling]]:
    return [("head", HeadSampling(key="event_id", probability=rate)),
            ("stratified", StratifiedSampling(key="event_id", column="error", default=rate,
                                              strata=[Stratum(value=True, probability=1.0)]))]


def estimates(kept: pa.Table) -> list[Estimate]:
    """count, errors, error ratio, latency sum."""
    return [estimate_count(kept), estimate_sum(kept, "error"), estimate_ratio(kept, "error"),
            estimate_sum(kept, "latency_ms")]


def parquet_bytes(table: pa.Table) -> int:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().size


def _cell(est: Estimate, truth: float) -> str:
    rel = (est.value - truth) / truth
    half = (est.upper - est.value) / abs(est.value) if est.value else float("inf")
    return f"{rel:>+8.2%} ±{half:>7.2%}{'' if est.reliable else '*'}"


WEEK = Period(date(2026, 3, 2), date(2026, 3, 8))
ENGINE_MEASURES = {
    "count": {"type": "count"},
    "error ratio": {"type": "ratio", "denominator": {"type": "count"},
                    "numerator": {"type": "count", "filters": [{"column": "outcome", "value": "error"}]}},
}


def _store_events(table: pa.Table) -> Store:
    """An in-memory store whose request_events hold `table` (the stream's columns; weight null when absent)."""
    n = table.num_rows
    weight = table["weight"] if "weight" in table.column_names else pa.nulls(n, pa.float64())
    noon = np.full(n, np.datetime64("2026-03-04T12:00:00", "us"))
    events = pa.table({"event_id": pc.cast(table["event_id"], pa.string()),
                       "ts": pa.array(noon, pa.timestamp("us", "UTC")),
                       "service": table["service"], "outcome": pc.if_else(table["error"], "error", "ok"),
                       "duration_ms": table["latency_ms"], "weight": weight})
    store = Store.open("duckdb://")
    store.sql.register("_events", events)
    store.sql.execute("INSERT INTO request_events (event_id, ts, service, outcome, duration_ms, weight) "
                      "SELECT event_id, ts, service, outcome, duration_ms, weight FROM _events")
    store.sql.unregister("_events")
    return store


def engine(data: pa.Table, rates: list[float], truth: list[float]) -> int:
    """Print the catalog's estimates and timings over the stored stream and samples; 1 if they disagree with
    the Arrow estimator."""
    print("\nthrough the engine: catalog calculations over request_events in DuckDB (stratified samples)")
    print(f"{'stored':<16} {'rows':>10} {'count [95 % interval]':>29} {'error ratio [95 % interval]':>29} "
          f"{'s/calc':>8}")
    status = 0
    for rate in [1.0, *rates]:
        kept = data if rate == 1.0 else sample(data, policies(rate)[1][1], b"bench")
        expected = [truth[0], truth[2]] if rate == 1.0 else [estimate_count(kept).value,
                                                             estimate_ratio(kept, "error").value]
        with _store_events(kept) as store:
            cells, seconds = [], []
            for (name, measure), want in zip(ENGINE_MEASURES.items(), expected, strict=True):
                calc = Calculation.model_validate({"dataset": "request_events", "measure": measure})
                best, _, got = best_of(3, lambda c=calc, s=store: compute(s, c, WEEK)[None])
                seconds.append(best)
                if abs(got.value - want) > 1e-9 * max(1.0, abs(want)):
                    print(f"MISMATCH {name} at rate {rate}: engine {got.value} != arrow {want}")
                    status = 1
                spec = ",.0f" if name == "count" else ".5f"
                cells.append(f"{got.value:{spec}} [{got.low:{spec}}, {got.high:{spec}}]")
        label = "whole stream" if rate == 1.0 else f"stratified {rate:g}"
        print(f"{label:<16} {kept.num_rows:>10,} {cells[0]:>29} {cells[1]:>29} {np.mean(seconds):>8.4f}")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--error-rate", type=float, default=0.01)
    parser.add_argument("--draws", type=int, default=100, help="draws per policy and rate for the coverage")
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--seed", type=int, default=20260301)
    args = parser.parse_args()

    data = stream(args.events, args.error_rate, args.seed)
    truth = [float(data.num_rows), float(pc.sum(data["error"]).as_py()),
             pc.sum(data["error"]).as_py() / data.num_rows, pc.sum(data["latency_ms"]).as_py()]
    print(f"stream: {data.num_rows:,} events, {truth[1]:,.0f} errors (ratio {truth[2]:.4%}), "
          f"latency sum {truth[3]:,.0f} ms; Arrow {data.nbytes / 2**20:,.1f} MiB")
    for column in ("event_id", "trace_id"):
        best, _, _ = best_of(3, lambda c=column: key_uniforms(data, [c], b"bench"))
        print(f"keyed hash of {column}: {data.num_rows / best / 1e6:,.1f} M keys/s")
    all_arrow, all_parquet = data.nbytes, parquet_bytes(data)

    print("\none draw: relative error ± 95 % half-width as a share of the estimate (* = not reliable)")
    print(f"{'policy':<11} {'rate':>6} {'rows kept':>10} {'Arrow':>7} {'Parquet':>8}  {'count':<18} "
          f"{'errors':<18} {'error ratio':<18} {'latency sum':<18}")
    for rate in args.rates:
        for name, policy in policies(rate):
            kept = sample(data, policy, b"bench")
            cells = " ".join(f"{_cell(e, t):<18}" for e, t in zip(estimates(kept), truth, strict=True))
            print(f"{name:<11} {rate:>6g} {kept.num_rows / data.num_rows:>10.2%} {kept.nbytes / all_arrow:>7.2%} "
                  f"{parquet_bytes(kept) / all_parquet:>8.2%}  {cells}")

    print(f"\ncoverage of the 95 % intervals over {args.draws} draws (and the share of draws flagged reliable)")
    print(f"{'policy':<11} {'rate':>6} {'count':>14} {'errors':>14} {'error ratio':>14} {'latency sum':>14}"
          f" {'s/draw':>7}")
    for rate in args.rates:
        for name, policy in policies(rate):
            hits, reliable = np.zeros(4), np.zeros(4)
            begin = time.perf_counter()
            for draw in range(args.draws):
                for i, (est, true) in enumerate(zip(estimates(sample(data, policy, f"draw-{draw}".encode())),
                                                    truth, strict=True)):
                    hits[i] += est.lower <= true <= est.upper
                    reliable[i] += est.reliable
            per_draw = (time.perf_counter() - begin) / args.draws
            cells = " ".join(f"{h / args.draws:>6.2f} ({r / args.draws:>4.2f})" for h, r in zip(hits, reliable,
                                                                                               strict=True))
            print(f"{name:<11} {rate:>6g} {cells} {per_draw:>7.3f}")
    return engine(data, args.rates, truth)


if __name__ == "__main__":
    raise SystemExit(main())
