"""Retention keeps counter increases exact (rollup `increase` and `last`, hand-checked), and raises the
dataset's horizon so that a resent file is quarantined instead of being counted twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from engmetrics.governance.holds import place_hold, release_hold
from engmetrics.telemetry.horizon import horizon
from engmetrics.telemetry.retention import read_series, run_retention
from engmetrics.telemetry.retention_policy import DatasetRetention, RetentionPolicy, Rollup

AS_OF = datetime(2026, 1, 20, tzinfo=UTC)
POLICY = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="1d", rollups=[
    Rollup(resolution="5m", keep="3d"), Rollup(resolution="1h", keep="10d")])})
T0 = datetime(2026, 1, 18, 10, tzinfo=UTC)
# a counter sampled each minute from 10:00; it restarts at minute 7 (6 -> 2)
VALUES = [0, 1, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 7, 8, 9]


def insert(store, rows):
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES ('c', ?, 'c_total', ?)",
                          [[ts, float(v)] for ts, v in rows])


def rollups(store):
    return store.sql.execute("SELECT resolution, ts, sum, count, increase, last FROM _telemetry_rollups "
                             "ORDER BY ts").fetchall()


def test_counter_rollups_by_hand(store):
    insert(store, [(T0 + timedelta(minutes=i), v) for i, v in enumerate(VALUES)])
    insert(store, [(datetime(2026, 1, 19, 23, tzinfo=UTC), 20), (datetime(2026, 1, 19, 23, 1, tzinfo=UTC), 21)])
    run_retention(store, POLICY, AS_OF, apply=True)
    # 5m buckets: 10:00 minutes 1-4 rise 1 each = 4, last 4; 10:05: 1 + 1 + 2 (reset: the new value) + 1 + 1
    # = 6, last 4; 10:10: five rises of 1 = 5, last 9. Sums 0+..+4 = 10, 5+6+2+3+4 = 20, 5+..+9 = 35
    assert rollups(store) == [("5m", T0, 10.0, 5, 4.0, 4.0), ("5m", T0 + timedelta(minutes=5), 20.0, 5, 6.0, 4.0),
                              ("5m", T0 + timedelta(minutes=10), 35.0, 5, 5.0, 9.0)]
    # the raw samples left read their increase from the last rolled value: 20 - 9 = 11, then 1
    rows = read_series(store, "c", T0, AS_OF).to_pyarrow().to_pylist()
    assert [(r["resolution"], r["increase"]) for r in rows] == [("5m", 4.0), ("5m", 6.0), ("5m", 5.0),
                                                                 ("raw", 11.0), ("raw", 1.0)]
    # five days on: the two raw samples become a 5m bucket (11 + 1 = 12, last 21), and every 5m bucket (older
    # than Jan 22) a 1h bucket: 10:00 takes 4 + 6 + 5 = 15 (last 9), 23:00 takes 12 (last 21)
    run_retention(store, POLICY, AS_OF + timedelta(days=5), apply=True)
    assert rollups(store) == [("1h", T0, 65.0, 15, 15.0, 9.0),
                              ("1h", datetime(2026, 1, 19, 23, tzinfo=UTC), 41.0, 2, 12.0, 21.0)]
    # the truth: 0 -> 6 (+6), reset to 2 (+2), 2 -> 9 (+7), 9 -> 20 (+11), 20 -> 21 (+1) = 27
    assert sum(r["increase"] for r in read_series(store, "c", T0, AS_OF).to_pyarrow().to_pylist()) == 27


def test_a_resent_file_is_quarantined_behind_the_horizon(store, ingest, write, quarantined):
    lines = "\n".join(f"c_total,{(T0 + timedelta(minutes=i)).isoformat()},c_total,{v}" for i, v in enumerate(VALUES))
    path = write("samples.csv", "series,ts,metric,value\n" + lines + "\n")
    assert ingest("telemetry_samples", path).inserted == 15
    plan = run_retention(store, POLICY, AS_OF)
    assert plan.datasets[0].horizon == datetime(2026, 1, 19, tzinfo=UTC) and horizon(store, "telemetry_samples") is None
    first = run_retention(store, POLICY, AS_OF, apply=True)
    assert first.datasets[0].horizon == horizon(store, "telemetry_samples") == datetime(2026, 1, 19, tzinfo=UTC)
    rolled = rollups(store)
    again = ingest("telemetry_samples", path)
    assert (again.inserted, again.quarantined) == (0, 15)
    reasons = {(q["column"], q["reason"]) for q in quarantined("telemetry_samples")}
    assert reasons == {("ts", "ts: dated before the retention horizon 2026-01-19T00:00:00+00:00: that period is "
                              "already rolled up")}
    second = run_retention(store, POLICY, AS_OF, apply=True)
    assert all(s.rows == 0 and s.buckets == 0 for s in second.datasets[0].steps)
    assert rollups(store) == rolled and store.count("telemetry_samples") == 0
    assert store.sql.execute("SELECT count(*) FROM _audit WHERE action = 'retention.apply'").fetchone() == (1,)


def test_sli_events_and_delete_only_datasets_get_a_horizon(store):
    store.sql.execute("INSERT INTO sli_events VALUES ('shop', 'ok', '2026-01-10 10:01:00+00', 9, 10), "
                      "('shop', 'ok', '2026-01-10 10:02:00+00', 5, 5)")
    store.sql.execute("INSERT INTO alerts (alert_id, rule, fired_at) VALUES ('old', 'r', '2025-12-01 10:00:00+00')")
    policy = RetentionPolicy({"sli_events": DatasetRetention(raw="2d", rollups=[Rollup(resolution="1h", keep="30d")]),
                              "alerts": DatasetRetention(raw="30d"), "incidents": DatasetRetention(raw="30d")})
    report = run_retention(store, policy, AS_OF, apply=True)
    # sli_events: Jan 18 (floored to the hour); alerts: Jan 20 - 30 days; incidents had nothing to delete
    assert [(r.dataset, r.horizon) for r in report.datasets] == [
        ("sli_events", datetime(2026, 1, 18, tzinfo=UTC)), ("alerts", datetime(2025, 12, 21, tzinfo=UTC)),
        ("incidents", None)]


def test_cli_reports_the_horizon(workspace, workspace_store, cli):
    insert(workspace_store, [(T0 + timedelta(minutes=i), v) for i, v in enumerate(VALUES)])
    workspace_store.close()
    (workspace / "policies").mkdir(exist_ok=True)
    (workspace / "policies" / "retention.yaml").write_text(
        "datasets:\n  telemetry_samples:\n    raw: 1d\n    rollups: [{resolution: 5m, keep: 3d}]\n")
    applied = cli("retention", "apply", "--as-of", "2026-01-20", "--json")
    assert applied.exit_code == 0, applied.output
    run = json.loads(applied.output)["datasets"][0]
    assert (run["steps"][0]["rows"], run["steps"][0]["buckets"], run["horizon"]) == (15, 3, "2026-01-19T00:00:00+00:00")
    shown = cli("retention", "plan", "--as-of", "2026-01-20")
    assert shown.exit_code == 0 and "telemetry_samples: retention horizon 2026-01-19T00:00:00+00:00" in shown.output


def test_a_held_day_between_rolled_days_keeps_the_increase_exact(store):
    # one sample an hour for three days; the counter rises 1 an hour, and 10 at noon on the middle day
    days = [datetime(2026, 1, 10, tzinfo=UTC) + timedelta(hours=h) for h in range(72)]
    values = [h + (9 if h >= 36 else 0) for h in range(72)]
    insert(store, list(zip(days, values, strict=True)))
    place_hold(store, "dataset", "telemetry_samples", from_date=date(2026, 1, 11), to_date=date(2026, 1, 11),
               reason="review", actor="legal")
    run_retention(store, POLICY, AS_OF, apply=True)
    assert store.count("telemetry_samples") == 24  # the held day stays raw between rolled days
    # truth: 71 rises of 1, one of them 10: 80
    assert sum(r["increase"] or 0 for r in read_series(store, "c", days[0], AS_OF).to_pyarrow().to_pylist()) == 80
    release_hold(store, "hold-1", actor="legal")
    run_retention(store, POLICY, AS_OF, apply=True)
    assert store.count("telemetry_samples") == 0
    assert sum(r["increase"] or 0 for r in read_series(store, "c", days[0], AS_OF).to_pyarrow().to_pylist()) == 80
