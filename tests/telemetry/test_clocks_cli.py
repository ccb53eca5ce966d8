"""`engmetrics telemetry clocks` over a workspace whose samples went through `engmetrics ingest`: a source 2 h
behind, one with samples from the future, one out of order, one on time, and samples without a receive time.
Every figure below is worked out by hand from the rows `_rows` writes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engmetrics.cli.common import console

B = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
FIELDS = ["source", "samples", "skew_median_seconds", "skew_p99_seconds", "future", "out_of_order",
          "timezone_offset_hours", "verdict", "without_received_at", "quarantined_skew"]


def _iso(t: dt.datetime | None) -> str:
    return "" if t is None else t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rows() -> list[tuple[str, str, dt.datetime, dt.datetime | None]]:
    """(source, series, ts, received_at)."""
    rows = []
    # behind (writes UTC-2 local time as UTC): ts every minute, received 2 h + i s later: skews 7200..7211 s.
    # median h = 11 * .5 = 5.5: 7205 + .5 = 7205.5 (2 h within 300 s: offset 2); p99 h = 10.89: 7210.89.
    rows += [("behind", "b", B + 60 * i * S, B + (60 * i + 7200 + i) * S) for i in range(12)]
    rows += [("behind", "b", B + 3 * 3600 * S, None)]  # no receive time: counted, not judged
    # future: one series per sample, received 5 s after ts, except three received 120 s *before* their ts
    # (beyond the 60 s tolerance). Sorted skews -120 x3, 5 x9: median (x5, x6) = 5, p99 (x10, x11) = 5.
    rows += [("future", f"f{i}", B + 60 * i * S, B + (60 * i + (-120 if i in (2, 5, 8) else 5)) * S)
             for i in range(12)]
    # late: ts every 10 s, received 5 s later, except ts 30 s received at 60 s, after ts 40 s (at 45) and 50 s
    # (at 55): 1 out of order. Skews 5 x9 and 30: median 5; p99 h = 9 * .99 = 8.91: 5 + .91 * 25 = 27.75.
    rows += [("late", "o", B + 10 * i * S, B + (60 if i == 3 else 10 * i + 5) * S) for i in range(10)]
    # steady: received 2 s after ts (12:00:00.900 -> 12:00:02.100 floors to 12:00:00 -> 12:00:02): ok
    rows += [("steady", "s", B + (60 * i + 0.9) * S, B + (60 * i + 2.1) * S) for i in range(10)]
    # files: loaded without receive times only
    rows += [("files", "x", B + i * S, None) for i in range(4)]
    return rows


@pytest.fixture
def loaded(workspace, write, cli):
    """The workspace with `_rows` ingested through the CLI; max_skew_seconds raised to 3 h so the source 2 h
    behind is stored (with the default 1 h it would be quarantined at ingest, see test_clocks_cli_quarantine)."""
    config = workspace / "engmetrics.yaml"
    config.write_text(config.read_text().replace("max_skew_seconds: 3600", "max_skew_seconds: 10800"))
    lines = ["series,ts,metric,labels,value,source,received_at"]
    lines += [f"{series},{_iso(ts)},{series},,1,{source},{_iso(received)}" for source, series, ts, received in _rows()]
    result = cli("ingest", "telemetry_samples", write("samples.csv", "\n".join(lines) + "\n"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["inserted"] == 49
    return workspace


EXPECTED = [
    ["behind", 12, 7205.5, 7210.89, 0, 0, 2, "timezone_offset", 1, 0],
    ["files", 0, None, None, 0, 0, None, "insufficient_data", 4, 0],
    ["future", 12, 5.0, 5.0, 3, 0, None, "future", 0, 0],
    ["late", 10, 5.0, 27.75, 0, 1, None, "out_of_order", 0, 0],
    ["steady", 10, 2.0, 2.0, 0, 0, None, "ok", 0, 0],
]


def _json(cli, *args: str) -> list[dict]:
    result = cli("telemetry", "clocks", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_clocks_json_by_hand(loaded, cli):
    got = _json(cli)
    assert [list(entry) for entry in got] == [FIELDS] * len(EXPECTED)
    assert [[pytest.approx(v) if isinstance(v, float) else v for v in row] for row in EXPECTED] == \
        [list(entry.values()) for entry in got]


def test_source_and_since_filter(loaded, cli):
    assert [e["source"] for e in _json(cli, "--source", "late")] == ["late"]
    assert _json(cli, "--source", "nobody") == []
    # received at or after 13:00: only behind's samples (received from 14:00), and its sample without a
    # receive time taken at 15:00; the other sources were received (or taken) before 13:00
    got = _json(cli, "--since", "2026-03-01T13:00:00Z")
    assert [(e["source"], e["samples"], e["without_received_at"], e["verdict"]) for e in got] == \
        [("behind", 12, 1, "timezone_offset")]
    # a date is its midnight (UTC): everything
    assert len(_json(cli, "--since", "2026-03-01")) == 5


def test_fail_on_exits_3_only_for_named_verdicts(loaded, cli):
    assert cli("telemetry", "clocks", "--fail-on", "timezone_offset,skewed").exit_code == 3
    assert cli("telemetry", "clocks", "--fail-on", "skewed").exit_code == 0
    assert cli("telemetry", "clocks").exit_code == 0
    bad = cli("telemetry", "clocks", "--fail-on", "late,ok")
    assert bad.exit_code == 2
    assert "unknown verdict(s) late" in bad.output


def test_thresholds_come_from_the_workspace_settings(loaded, cli):
    config = loaded / "engmetrics.yaml"
    # 7205.5 s is 5.5 s from 2 h: no offset with a 5 s tolerance, and within the 3 h maximum: ok;
    # 11 samples needed: late and steady (10) have too few
    config.write_text(config.read_text().replace("timezone_tolerance_seconds: 300", "timezone_tolerance_seconds: 5")
                      .replace("min_samples: 10", "min_samples: 11"))
    assert {e["source"]: e["verdict"] for e in _json(cli)} == {
        "behind": "ok", "files": "insufficient_data", "future": "future", "late": "insufficient_data",
        "steady": "insufficient_data"}


def test_human_table(loaded, cli, monkeypatch):
    monkeypatch.setattr(console, "width", 200)  # Rich reads COLUMNS once, when the console is made
    result = cli("telemetry", "clocks")
    assert result.exit_code == 0, result.output
    behind = next(line for line in result.output.splitlines() if "behind" in line)
    for cell in ("12", "7,205.5", "7,210.9", "+2", "timezone_offset"):
        assert cell in behind


def test_empty_store_and_bad_since(cli):
    assert _json(cli) == []
    assert "no telemetry samples" in cli("telemetry", "clocks").output
    bad = cli("telemetry", "clocks", "--since", "March")
    assert bad.exit_code == 1
    assert "--since: not an ISO date or datetime: 'March'" in bad.output
