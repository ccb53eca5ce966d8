"""`engmetrics telemetry sample`: the workspace policy, the kept rows and their weights, then ingest and an
indicator's estimate with its interval, end to end through the CLI; bad input named."""

from __future__ import annotations

import json
import stat

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

N, ERROR_EVERY = 6_000, 25  # 240 errors


def _events_csv(path, n=N, weight=None):
    """n request events in the ISO week 2026-03-02..08, every 25th an error."""
    header = "event_id,ts,service,outcome,duration_ms" + (",weight" if weight else "")
    lines = [f"ev-{i},2026-03-{2 + i % 7:02d}T{i % 24:02d}:00:00Z,api,{'error' if i % ERROR_EVERY == 0 else 'ok'},"
             f"{i % 100}" + (f",{weight(i)}" if weight else "") for i in range(n)]
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return path


def _fixed_key(workspace):
    """A fixed sampling key: the draw, and so whether its 95 % interval holds the truth, is the same every run
    (with the fresh random key of each workspace, about 1 run in 20 would miss)."""
    (workspace / ".engmetrics").mkdir(exist_ok=True)
    (workspace / ".engmetrics" / "sampling.key").write_text("ab" * 32 + "\n")


METRICS = """indicators:
  - id: requests
    name: Requests
    kind: leading
    unit: requests
    direction: higher_is_better
    cadence: weekly
    calculation: {dataset: request_events, measure: {type: count}}
    thresholds: {green: {min: 100}, red: {max: 100}}
  - id: errors
    name: Errors
    kind: lagging
    unit: requests
    direction: lower_is_better
    cadence: weekly
    calculation: {dataset: request_events, measure: {type: count, filters: [{column: outcome, value: error}]}}
    thresholds: {green: {max: 100}, red: {min: 100}}
"""


def test_sample_ingest_evaluate(cli, workspace, tmp_path):
    """The template policy keeps every error (weight 1) and 10 % of the rest (weight 10)."""
    _fixed_key(workspace)
    source = _events_csv(tmp_path / "events.csv")
    out = tmp_path / "kept.parquet"
    done = cli("telemetry", "sample", "request_events", source, "--out", out, "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    kept = pq.read_table(out)
    outcome, weight = np.array(kept.column("outcome").to_pylist()), kept.column("weight").to_numpy()
    assert (outcome == "error").sum() == N // ERROR_EVERY and (weight[outcome == "error"] == 1).all()
    assert (weight[outcome == "ok"] == 10).all()
    n_ok = int((outcome == "ok").sum())
    assert 5760 * 0.1 * 0.8 < n_ok < 5760 * 0.1 * 1.2  # 5,760 successes, about 10 % kept
    assert (report["read"], report["kept"], report["weight_sum"]) == (N, 240 + n_ok, 240 + 10 * n_ok)
    assert report["storage_saved"] == pytest.approx(1 - (240 + n_ok) / N)
    assert report["bytes_in"] == source.stat().st_size and report["bytes_out"] == out.stat().st_size
    assert report["estimated_rows_low"] < N < report["estimated_rows_high"]
    assert report["policy"]["type"] == "stratified"

    ingested = cli("ingest", "request_events", out, "--json")
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.output)["inserted"] == 240 + n_ok

    (workspace / "metrics" / "requests.yaml").write_text(METRICS)
    evaluated = cli("metrics", "evaluate", "--as-of", "2026-03-08", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    results = {r["metric"]: r for r in json.loads(evaluated.output)}
    requests, errors = results["requests"], results["errors"]
    # Var = sum (w^2 - w) = 90 per kept success: the interval is 240 + 10 n_ok +- 1.96 sqrt(90 n_ok)
    assert requests["value"] == 240 + 10 * n_ok and requests["sample_size"] == 240 + n_ok
    assert requests["high"] - requests["value"] == pytest.approx(1.959963984540054 * (90 * n_ok) ** 0.5)
    assert requests["low"] <= N <= requests["high"]
    assert (requests["estimated"], requests["note"], requests["interval_reliable"]) == (
        True, "estimate from sampled data", True)
    assert (errors["value"], errors["low"], errors["high"]) == (240, 240, 240)  # every error kept: exact


def test_the_same_file_keeps_the_same_rows_as_csv_too(cli, tmp_path):
    source = _events_csv(tmp_path / "events.csv", n=500)
    first, second = tmp_path / "a.csv", tmp_path / "b.parquet"
    assert cli("telemetry", "sample", "request_events", source, "--out", first).exit_code == 0
    assert cli("telemetry", "sample", "request_events", source, "--out", second).exit_code == 0
    a, b = pacsv.read_csv(first), pq.read_table(second)
    assert a.column("event_id").to_pylist() == b.column("event_id").to_pylist()
    # ev-0 is an error, always kept; its CSV text is written back as it was read
    assert first.read_text().splitlines()[1] == '"ev-0","2026-03-02T00:00:00Z","api","error","0",1'



def test_upstream_weights_multiply(cli, tmp_path):
    # upstream weights: 2 for even rows, empty (= 1) for odd ones; errors kept with certainty by the policy
    source = _events_csv(tmp_path / "events.csv", n=200, weight=lambda i: "2" if i % 2 == 0 else "")
    out = tmp_path / "kept.parquet"
    report = json.loads(cli("telemetry", "sample", "request_events", source, "--out", out, "--json").output)
    assert report["upstream_weighted"] == 100
    kept = pq.read_table(out).to_pylist()
    for row in kept:
        i = int(row["event_id"].removeprefix("ev-"))
        assert row["weight"] == (2 if i % 2 == 0 else 1) * (1 if row["outcome"] == "error" else 10)


def test_sampling_the_output_again_is_an_independent_stage(cli, workspace, tmp_path):
    """The template policy twice, the second time on the first's CSV output, with one fixed workspace key: the
    errors (weight 1) stay; each success kept at 10 % (weight 10) is kept again at 10 %, now weight 100. Had the
    second stage reused the first one's hash, it would keep every success again (m = n_ok) and the estimate
    would be 240 + 100 n_ok, about 10 times the truth."""
    _fixed_key(workspace)
    source = _events_csv(tmp_path / "events.csv")
    once, twice = tmp_path / "once.csv", tmp_path / "twice.csv"
    first = json.loads(cli("telemetry", "sample", "request_events", source, "--out", once, "--json").output)
    done = cli("telemetry", "sample", "request_events", once, "--out", twice, "--json")
    assert done.exit_code == 0, done.output
    second = json.loads(done.output)
    n_ok, m = first["kept"] - 240, second["kept"] - 240
    assert second["upstream_weighted"] == first["kept"]
    kept = pacsv.read_csv(twice)
    weight = dict(zip(kept.column("outcome").to_pylist(), kept.column("weight").to_pylist(), strict=True))
    assert weight == {"error": 1, "ok": 100}
    # m ~ Binomial(n_ok ~ 576, 0.1): mean 57.6, SD 7.2; the reused hash gave m = n_ok
    assert 20 <= m <= 100 < n_ok
    assert second["weight_sum"] == 240 + 100 * m
    # Var = sum (w^2 - w) = 9,900 per kept success; this key's interval holds the 6,000 events
    assert second["estimated_rows_high"] - second["weight_sum"] == pytest.approx(1.959963984540054 * (9_900 * m) ** 0.5)
    assert second["estimated_rows_low"] <= N <= second["estimated_rows_high"]


def test_bad_input_is_named(cli, workspace, tmp_path):
    source = _events_csv(tmp_path / "events.csv", n=10)
    usage = cli("telemetry", "sample", "request_events", source, "--out", tmp_path / "kept.txt")
    assert usage.exit_code == 2 and "--out must end in .parquet" in usage.output

    none = cli("telemetry", "sample", "deployments", source, "--out", tmp_path / "k.csv")
    assert none.exit_code == 1 and "no sampling policy for dataset 'deployments'" in none.output

    no_key = tmp_path / "nokey.csv"
    no_key.write_text("id,outcome\n1,ok\n")
    missing = cli("telemetry", "sample", "request_events", no_key, "--out", tmp_path / "k.csv")
    assert missing.exit_code == 1 and "nokey.csv:1: no column 'event_id'" in missing.output

    empty_key = tmp_path / "empty.csv"
    empty_key.write_text("event_id,outcome\ne1,ok\n,error\n")
    empty = cli("telemetry", "sample", "request_events", empty_key, "--out", tmp_path / "k.csv")
    assert empty.exit_code == 1 and "empty.csv:3: sampling key 'event_id' is empty" in empty.output

    bad_weight = tmp_path / "weights.csv"
    bad_weight.write_text("event_id,outcome,weight\ne1,ok,2\ne2,ok,\ne3,ok,0.5\n")
    below = cli("telemetry", "sample", "request_events", bad_weight, "--out", tmp_path / "k.csv")
    assert below.exit_code == 1 and "weights.csv:4: weight 0.5 is below 1" in below.output
    bad_weight.write_text("event_id,outcome,weight\ne1,ok,two\n")
    text = cli("telemetry", "sample", "request_events", bad_weight, "--out", tmp_path / "k.csv")
    assert text.exit_code == 1 and "weights.csv:2: weight 'two' is not a number" in text.output

    (workspace / "policies" / "sampling.yaml").write_text(
        "datasets:\n  request_events:\n    type: head\n    key: event_id\n    probability: 2\n")
    bad = cli("telemetry", "sample", "request_events", source, "--out", tmp_path / "k.csv")
    assert bad.exit_code == 1 and "policies/sampling.yaml:5" in bad.output


def test_help_shows_an_example(cli):
    assert "Example: engmetrics telemetry sample request_events" in cli("telemetry", "sample", "--help").output


def test_the_hash_key_is_a_private_workspace_secret_kept_across_runs(cli, workspace, tmp_path):
    source = _events_csv(tmp_path / "events.csv", n=300)
    done = cli("telemetry", "sample", "request_events", source, "--out", tmp_path / "a.csv")
    assert done.exit_code == 0 and "read 300 rows" in done.output and "next: engmetrics ingest" in done.output
    key = workspace / ".engmetrics" / "sampling.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_text()
    assert cli("telemetry", "sample", "request_events", source, "--out", tmp_path / "b.csv").exit_code == 0
    assert key.read_text() == before
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_json_lines_and_parquet_inputs(cli, tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(f'{{"event_id": "e{i}", "outcome": "{"error" if i % 4 == 0 else "ok"}"}}\n'
                             for i in range(40)))
    report = json.loads(cli("telemetry", "sample", "request_events", lines, "--out", tmp_path / "a.parquet",
                            "--json").output)
    assert report["read"] == 40 and report["kept"] >= 10  # the 10 errors are always kept
    broken = tmp_path / "broken.parquet"
    pq.write_table(pa.table({"event_id": ["e1", None], "outcome": ["ok", "ok"]}), broken)
    bad = cli("telemetry", "sample", "request_events", broken, "--out", tmp_path / "b.parquet")
    assert bad.exit_code == 1 and "broken.parquet:row 2: sampling key 'event_id' is empty" in bad.output
