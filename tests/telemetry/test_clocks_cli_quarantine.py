"""Skew quarantine at ingest: `telemetry.clocks.skew_rule` (from `settings.telemetry.clocks`) through the real
ingestion engine, and its agreement with `split_skewed`, the pushed batches' quarantine."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.telemetry.clocks import ClockPolicy, ingest_rules, skew_rule, split_skewed

# line: series, ts, received_at (line 1 is the header); skew = received_at - ts, each floored to the second
CSV = """series,ts,metric,value,source,received_at
a,2026-03-01T10:00:00Z,a,1,p,2026-03-01T10:00:05Z
b,2026-03-01T10:00:00Z,b,1,p,2026-03-01T11:00:00Z
c,2026-03-01T10:00:00.900Z,c,1,p,2026-03-01T11:00:01.100Z
d,2026-03-01T12:00:00Z,d,1,p,2026-03-01T10:00:00Z
e,2026-03-01T10:00:00Z,e,1,p,
f,2026-03-01T10:00:00Z,f,1,p,2026-03-01T12:00:05Z
"""
# skews: a 5, b 3600 (not beyond 3600), c 11:00:01 - 10:00:00 = 3601 (3600.2 exactly, floored as split_skewed
# does), d -7200, e none (no receive time: passes), f 7205


def _reason(limit: str) -> str:
    return f"received_at: clock skew (received_at - ts) beyond the maximum of {limit} s"


@pytest.mark.parametrize(("limit", "kept", "refused"), [
    (3600, ["a", "b", "e"], [(4, "c"), (5, "d"), (7, "f")]),
    (7200, ["a", "b", "c", "d", "e"], [(7, "f")]),
])
def test_skew_rule_quarantines_through_the_ingest_engine(ingest, write, rows, quarantined, limit, kept,
                                                         refused):
    rules = ingest_rules("telemetry_samples", ClockPolicy(max_skew_seconds=limit))
    result = ingest("telemetry_samples", write("samples.csv", CSV), rules=rules).as_dict()
    assert (result["read"], result["inserted"], result["quarantined"]) == (6, len(kept), len(refused))
    assert [r[0] for r in rows("SELECT series FROM telemetry_samples ORDER BY series")] == kept
    got = quarantined("telemetry_samples")
    assert [(q["line"], json.loads(q["record"])["series"]) for q in got] == refused
    assert {(q["column"], q["reason"]) for q in got} == {("received_at", _reason(str(limit)))}


def test_other_datasets_get_no_rule():
    assert ingest_rules("sli_events", ClockPolicy()) == ()
    assert skew_rule(ClockPolicy(max_skew_seconds=90.5)).check.endswith("<= 90.5")


_INSTANTS = st.datetimes(min_value=dt.datetime(1960, 1, 1), max_value=dt.datetime(2080, 1, 1),
                         timezones=st.just(dt.UTC))


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(_INSTANTS, st.integers(-20_000_000_000, 20_000_000_000)), min_size=1, max_size=30),
       limit=st.sampled_from([1.0, 59.5, 3600.0, 7200.0]))
def test_skew_rule_agrees_with_split_skewed(pairs, limit):
    """The SQL rule (as the engine applies it: refused when NOT check is true) and the pyarrow split quarantine
    the same samples: both floor each instant to the second, before 1970 too."""
    stamp = pa.timestamp("us", tz="UTC")
    table = pa.table({"n": list(range(len(pairs))), "ts": pa.array([t for t, _ in pairs], stamp),
                      "received_at": pa.array([t + dt.timedelta(microseconds=d) for t, d in pairs], stamp)})
    policy = ClockPolicy(max_skew_seconds=limit)
    _, bad = split_skewed(table, policy)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("t", table)
    refused = con.execute(f"SELECT n FROM t WHERE coalesce(NOT ({skew_rule(policy).check}), FALSE) ORDER BY n")
    assert [r[0] for r in refused.fetchall()] == bad.column("n").to_pylist()


def test_ingest_cli_quarantines_skewed_samples(cli, write):
    result = cli("ingest", "telemetry_samples", write("samples.csv", CSV), "--json")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.output)["inserted"], json.loads(result.output)["quarantined"]) == (3, 3)
    listed = cli("quarantine", "list", "telemetry_samples", "--json")
    assert sorted(q["line"] for q in json.loads(listed.output)) == [4, 5, 7]
