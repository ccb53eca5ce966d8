"""`engmetrics telemetry scrape` writes through the dedup: a series both scraped and remote-written is kept once by
`telemetry.receivers.source_priority` and the overlap window, counted in the run's accounting and in
`telemetry overlaps`; while the store is held (as `engmetrics serve` holds it) the waiting rows are bounded."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from test_scrape import _targets, serving

from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.telemetry.batch import SCHEMA
from engmetrics.telemetry.config import ScrapeSettings
from engmetrics.telemetry.pull_write import write_samples
from engmetrics.telemetry.scrape import scrape_loop


def _pushed(workspace, series: str, ts: datetime, value: float) -> None:
    """One remote-written sample of `series` already in the store, written as the receivers write it."""
    row = pa.table({"series": [series], "ts": pa.array([ts], SCHEMA.field("ts").type), "metric": [series.split("{")[0]],
                    "labels": ["{}"], "value": [value], "source": ["remote_write:prom"],
                    "received_at": pa.array([ts], SCHEMA.field("ts").type)})
    with Store.open(load_settings(workspace).store_url) as store:
        assert write_samples(store, [("remote_write:prom", row)]).inserted == 1


def _priority(workspace, prefixes: str) -> None:
    config = workspace / "engmetrics.yaml"
    config.write_text(config.read_text().replace("source_priority: []", f"source_priority: {prefixes}"))


@pytest.mark.parametrize(("priority", "kept", "dropped", "evicted"), [
    ('["scrape:"]', "scrape:app", 0, 1),  # the scrape is better: the pushed sample 10 s earlier is evicted
    ('["remote_write:"]', "remote_write:prom", 1, 0),  # the push is better: the scraped queue_depth is dropped
])
def test_scrape_and_push_of_one_series_are_kept_once(cli, workspace, priority, kept, dropped, evicted):
    with serving(b"# TYPE queue_depth gauge\nqueue_depth 3.5\n") as url:
        series = f'queue_depth{{instance="{url.split("/")[2]}",job="app"}}'
        _pushed(workspace, series, datetime.now(UTC) - timedelta(seconds=10), 99.0)
        _targets(workspace, f"      - name: app\n        url: {url}\n")
        _priority(workspace, priority)
        out = cli("telemetry", "scrape", "--once", "--json")
    assert out.exit_code == 0, out.output
    ingest = json.loads(out.stdout)["ingest"]
    # 1 exposed sample + 3 health samples read; the health samples are the scrape's alone
    assert (ingest["read"], ingest["inserted"], ingest["dropped"], ingest["evicted"]) == (
        4, 4 - dropped, dropped, evicted)
    assert ingest["read"] == ingest["inserted"] + ingest["updated"] + ingest["unchanged"] + ingest["quarantined"]
    assert ingest["unchanged"] == dropped  # a sample dropped for the better source leaves the store unchanged
    with Store.open(load_settings(workspace).store_url) as store:
        stored = store.sql.execute("SELECT source, value FROM telemetry_samples WHERE series = ?", [series]).fetchall()
    assert stored == [(kept, 3.5 if kept == "scrape:app" else 99.0)]
    listed = json.loads(cli("telemetry", "overlaps", "--json").stdout)
    other = "remote_write:prom" if kept == "scrape:app" else "scrape:app"
    assert [(o["series"], o["kept_source"], o["dropped_source"], o["samples"]) for o in listed] == [
        (series, kept, other, 1)]


def test_waiting_rows_are_bounded_while_the_store_is_held(tmp_path):
    """5 exposed samples + 3 health samples = 8 rows a run; at most 20 wait. Runs 1-3 find the store locked:
    8, 16, then 24 waiting, of which the oldest 4 are dropped (20 kept). Run 4 writes 20 + its own 8 = 28."""
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    Store.open(url).close()
    holder = Store.open(url)

    @contextmanager
    def open_store():
        store = Store.open(url, lock_timeout=0.1)
        try:
            yield store
        finally:
            store.close()

    with serving(b"a 1\nb 2\nc 3\nd 4\ne 5\n") as target:
        settings = ScrapeSettings(interval="1s", timeout="1s", max_pending_samples=20,
                                  targets=[{"name": "app", "url": target}])
        runs = []
        began = time.monotonic()
        for run in scrape_loop(settings, open_store, max_runs=4):
            runs.append(run)
            if run.run == 3:
                holder.close()
    assert time.monotonic() - began < 10
    assert [(r.pending_rows, r.pending_dropped, r.ingest is None) for r in runs] == [
        (8, 0, True), (16, 0, True), (20, 4, True), (0, 0, False)]
    assert (runs[3].ingest.read, runs[3].ingest.inserted) == (28, 28)
    assert runs[3].to_dict()["pending_dropped"] == 0 and runs[2].to_dict()["pending_dropped"] == 4
