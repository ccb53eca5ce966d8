"""`engmetrics telemetry clocks` counts the samples the write paths quarantined for clock skew: a source whose
samples are mostly or all refused is `skewed`, not clean and not missing. The samples go through the real write
path of the pull commands and receivers (`pull_write.write_samples`: admit, quarantine, dedup)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.telemetry.batch import SCHEMA
from engmetrics.telemetry.clocks import ClockPolicy, quarantined_skew, stored_clocks
from engmetrics.telemetry.pull_write import write_samples

B = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
_TS = SCHEMA.field("ts").type


def _part(source: str, rows: list[tuple[dt.datetime, dt.datetime, float]]) -> tuple[str, pa.Table]:
    """(source, samples of one series `m{source}`: (ts, received_at, value) each)."""
    n = len(rows)
    return source, pa.table({
        "series": [f'm{{s="{source}"}}'] * n, "ts": pa.array([r[0] for r in rows], _TS), "metric": ["m"] * n,
        "labels": [json.dumps({"s": source})] * n, "value": pa.array([r[2] for r in rows], pa.float64()),
        "source": [source] * n, "received_at": pa.array([r[1] for r in rows], _TS)})


@pytest.fixture
def skewed(workspace):
    """Written with the default policy (max_skew_seconds 3600):
    - remote_write:eu: 20 samples a minute apart; 12 received 2 h after ts (skew 7200: quarantined), 8 received
      2 s after (stored). Judged 8 + 12 = 20 >= 10; beyond the maximum 12 > 0.01 * 20: skewed. Its stored
      skews are all 2 s: median and p99 2, no timezone offset (2 s is no whole hour).
    - otlp:ahead: 15 samples received 2 h *before* ts (skew -7200): all quarantined; 0 stored, 15 judged: skewed.
    - scrape:fine: 10 samples received 1 s after ts, and one NaN (quarantined for its value, not its clock): ok.
    """
    eu = [(B + 60 * i * S, B + (60 * i + (7200 if i < 12 else 2)) * S, float(i)) for i in range(20)]
    ahead = [(B + 60 * i * S, B + (60 * i - 7200) * S, 1.0) for i in range(15)]
    fine = [(B + 60 * i * S, B + (60 * i + 1) * S, float("nan") if i == 10 else 1.0) for i in range(11)]
    with Store.open(load_settings(workspace).store_url) as store:
        result = write_samples(store, [_part("remote_write:eu", eu), _part("otlp:ahead", ahead),
                                       _part("scrape:fine", fine)], clocks=ClockPolicy())
    # 46 read = 18 inserted + 28 quarantined (12 + 15 skew, 1 NaN)
    assert (result.read, result.inserted, result.quarantined) == (46, 18, 28)
    return workspace


def _clocks(cli, *args: str) -> list[dict]:
    out = cli("telemetry", "clocks", "--json", *args)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_quarantined_skew_counts_and_verdicts(skewed, cli):
    got = {e["source"]: e for e in _clocks(cli)}
    assert {s: (e["samples"], e["quarantined_skew"], e["skew_median_seconds"], e["timezone_offset_hours"],
                e["verdict"]) for s, e in got.items()} == {
        "otlp:ahead": (0, 15, None, None, "skewed"),
        "remote_write:eu": (8, 12, 2.0, None, "skewed"),
        "scrape:fine": (10, 0, 1.0, None, "ok"),
    }


def test_fail_on_skewed_fails_for_quarantined_sources_and_filters_apply(skewed, cli):
    assert cli("telemetry", "clocks", "--fail-on", "skewed").exit_code == 3
    assert cli("telemetry", "clocks", "--source", "scrape:fine", "--fail-on", "skewed").exit_code == 0
    assert [(e["source"], e["quarantined_skew"]) for e in _clocks(cli, "--source", "otlp:ahead")] == [
        ("otlp:ahead", 15)]
    # --since filters quarantine entries by when they were quarantined (the write, today), stored samples by their
    # receive time (1 March): 2 March keeps only the quarantined counts
    got = {e["source"]: (e["samples"], e["quarantined_skew"], e["verdict"]) for e in _clocks(cli, "--since",
                                                                                           "2026-03-02")}
    assert got == {"otlp:ahead": (0, 15, "skewed"), "remote_write:eu": (0, 12, "skewed")}


def test_human_table_shows_the_quarantined_column(skewed, cli, monkeypatch):
    from engmetrics.cli.common import console

    monkeypatch.setattr(console, "width", 220)
    out = cli("telemetry", "clocks")
    assert "quarantined skew" in out.output
    line = next(line for line in out.output.splitlines() if "otlp:ahead" in line)
    assert "15" in line and "skewed" in line


def test_without_the_quarantine_table_the_report_is_as_before(skewed):
    with Store.open(load_settings(skewed).store_url, read_only=True) as store:
        plain = {c.clock.source: c.clock.verdict for c in stored_clocks(store.table("telemetry_samples"))}
        counted = quarantined_skew(store.table("_quarantine")).to_pyarrow().to_pylist()
    assert plain == {"remote_write:eu": "insufficient_data", "scrape:fine": "ok"}  # 8 < min_samples 10
    assert sorted((r["source"], r["n"]) for r in counted) == [("otlp:ahead", 15), ("remote_write:eu", 12)]
