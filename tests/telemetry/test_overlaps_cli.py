"""`engmetrics telemetry overlaps` lists `_telemetry_overlaps` rows written here by hand."""

from __future__ import annotations

import json

import pytest

from engmetrics.cli.common import console
from engmetrics.settings import load_settings
from engmetrics.store import Store

ROWS = [  # series, kept_source, dropped_source, first_ts, last_ts, samples
    ('up{job="b"}', "scrape:b", "remote_write:prom2", "2026-03-01 10:00:00+00", "2026-03-01 11:00:00+00", 61),
    ('up{job="a"}', "scrape:a", "remote_write:prom", "2026-03-01 09:00:00+00", "2026-03-01 09:05:00+00", 6),
    ('up{job="a"}', "scrape:a", "otlp:collector", "2026-03-01 09:01:00+00", "2026-03-01 09:01:30+00", 2),
]


@pytest.fixture
def overlapping(workspace):
    with Store.open(load_settings(workspace).store_url) as store:
        store.sql.executemany("INSERT INTO _telemetry_overlaps VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?)",
                              ROWS)
    return workspace


def test_overlaps_json(overlapping, cli):
    result = cli("telemetry", "overlaps", "--json")
    assert result.exit_code == 0, result.output
    # by series, then kept and dropped source
    assert json.loads(result.output) == [
        {"series": 'up{job="a"}', "kept_source": "scrape:a", "dropped_source": "otlp:collector",
         "first_ts": "2026-03-01T09:01:00+00:00", "last_ts": "2026-03-01T09:01:30+00:00", "samples": 2},
        {"series": 'up{job="a"}', "kept_source": "scrape:a", "dropped_source": "remote_write:prom",
         "first_ts": "2026-03-01T09:00:00+00:00", "last_ts": "2026-03-01T09:05:00+00:00", "samples": 6},
        {"series": 'up{job="b"}', "kept_source": "scrape:b", "dropped_source": "remote_write:prom2",
         "first_ts": "2026-03-01T10:00:00+00:00", "last_ts": "2026-03-01T11:00:00+00:00", "samples": 61},
    ]


def test_overlaps_table(overlapping, cli, monkeypatch):
    monkeypatch.setattr(console, "width", 200)  # Rich reads COLUMNS once, when the console is made
    result = cli("telemetry", "overlaps")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "remote_write:prom2" in line)
    for cell in ('up{job="b"}', "scrape:b", "2026-03-01 10:00:00", "2026-03-01 11:00:00", "61"):
        assert cell in line


def test_no_overlaps(cli):
    assert json.loads(cli("telemetry", "overlaps", "--json").output) == []
    assert "no overlaps" in cli("telemetry", "overlaps").output
