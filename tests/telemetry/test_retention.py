"""Retention: hand-checked plan numbers, apply twice = apply once, legal holds, the policy file's errors, the
finest-resolution read and the CLI."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engmetrics.errors import ValidationFailed
from engmetrics.governance.holds import place_hold
from engmetrics.store import Store
from engmetrics.telemetry import counters, retention_points, retention_policy
from engmetrics.telemetry.retention import read_series, run_retention
from engmetrics.telemetry.retention_policy import DatasetRetention, RetentionPolicy, Rollup, load_retention_policy

AS_OF = datetime(2026, 1, 20, tzinfo=UTC)
POLICY = RetentionPolicy({"telemetry_samples": DatasetRetention(raw="1d", rollups=[
    Rollup(resolution="5m", keep="3d"), Rollup(resolution="1h", keep="10d")])}, storage_cost_per_gb_month=0.1)


def ten_minutes(store: Store, start: str, values: str) -> None:
    """Samples of series `a` at each minute of [start, start + 10 min) with value `values` (SQL over i)."""
    store.sql.execute(f"""INSERT INTO telemetry_samples (series, ts, metric, value)
        SELECT 'a', TIMESTAMPTZ '{start}' + to_minutes(i::BIGINT), 'm', {values} FROM range(0, 10) t(i)""")


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        ten_minutes(s, "2026-01-19 23:00:00+00", "i")   # younger than 1 day: stays raw
        ten_minutes(s, "2026-01-18 10:00:00+00", "i")   # 5m buckets 10:00 (0..4) and 10:05 (5..9)
        ten_minutes(s, "2026-01-15 12:00:00+00", "1")   # 5m, then one 1h bucket at 12:00
        ten_minutes(s, "2026-01-05 08:00:00+00", "2")   # through 5m and 1h, then deleted (older than 10 days)
        yield s


def steps(report) -> list[tuple]:
    return [(s.tier, s.action, s.into, s.rows, s.buckets) for s in report.datasets[0].steps]


def table(store: Store, name: str) -> list[tuple]:
    return store.sql.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()


def test_plan_numbers_by_hand(store):
    report = run_retention(store, POLICY, AS_OF)
    assert steps(report) == [("raw", "rollup", "5m", 30, 6), ("5m", "rollup", "1h", 4, 2), ("1h", "delete", None, 1, 0)]
    raw, five, hour = report.datasets[0].steps
    assert raw.before == datetime(2026, 1, 19, tzinfo=UTC) and five.before == datetime(2026, 1, 17, tzinfo=UTC)
    assert hour.before == datetime(2026, 1, 10, tzinfo=UTC)
    assert raw.first_ts == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert raw.last_ts == datetime(2026, 1, 18, 10, 9, tzinfo=UTC)
    assert (hour.first_ts, hour.last_ts) == (datetime(2026, 1, 5, 8, tzinfo=UTC),) * 2
    run = report.datasets[0]
    # bytes: telemetry_samples 3 fixed x 8 + 4 texts x 4 + 'a' + 'm' = 42 a row;
    # rollups 7 fixed (ts, sum, count, min, max, increase, last) x 8 + 4 texts x 4 + 'a' + 'm' + '5m' (or '1h') = 76
    assert (run.before.rows, run.before.bytes) == (40, 40 * 42)
    assert (run.after.rows, run.after.bytes) == (13, 10 * 42 + 3 * 76)
    assert run.before.cost_per_month == pytest.approx(1680 / 1e9 * 0.1)
    assert store.count("telemetry_samples") == 40 and store.count("_telemetry_rollups") == 0  # a dry run


def test_apply_keeps_sums_and_twice_is_once(store):
    first = run_retention(store, POLICY, AS_OF, apply=True, actor="ops")
    assert steps(first)[0] == ("raw", "rollup", "5m", 30, 6)
    rolled = "SELECT resolution, ts, sum, count, min, max FROM _telemetry_rollups ORDER BY ts"
    assert store.sql.execute(rolled).fetchall() == [
        ("1h", datetime(2026, 1, 15, 12, tzinfo=UTC), 10.0, 10, 1.0, 1.0),
        ("5m", datetime(2026, 1, 18, 10, tzinfo=UTC), 10.0, 5, 0.0, 4.0),
        ("5m", datetime(2026, 1, 18, 10, 5, tzinfo=UTC), 35.0, 5, 5.0, 9.0)]
    assert store.count("telemetry_samples") == 10
    snapshot = (table(store, "telemetry_samples"), table(store, "_telemetry_rollups"), store.count("_audit"))
    second = run_retention(store, POLICY, AS_OF, apply=True, actor="ops")
    assert all(s.rows == 0 and s.buckets == 0 for s in second.datasets[0].steps)
    assert (table(store, "telemetry_samples"), table(store, "_telemetry_rollups"), store.count("_audit")) == snapshot
    action, target, details = store.sql.execute("SELECT action, target, details FROM _audit").fetchone()
    assert (action, target, json.loads(details)["steps"][2]["rows"]) == ("retention.apply", "telemetry_samples", 1)


def test_late_data_merges_into_existing_bucket(store):
    run_retention(store, POLICY, AS_OF, apply=True)
    ten_minutes(store, "2026-01-18 10:00:00+00", "100")  # late samples of the same minutes
    run_retention(store, POLICY, AS_OF, apply=True)
    assert store.sql.execute("SELECT sum, count, min, max FROM _telemetry_rollups WHERE ts = "
                             "'2026-01-18 10:00:00+00'").fetchone() == (510.0, 10, 0.0, 100.0)


def test_a_hold_keeps_its_days(store):
    place_hold(store, "dataset", "telemetry_samples", from_date=date(2026, 1, 15), to_date=date(2026, 1, 15),
               reason="incident review", actor="legal")
    report = run_retention(store, POLICY, AS_OF, apply=True)
    assert steps(report) == [("raw", "rollup", "5m", 20, 4), ("5m", "rollup", "1h", 2, 1), ("1h", "delete", None, 1, 0)]
    held = report.datasets[0].steps[0].blocked
    assert [(b.hold_id, b.rows, b.first_ts, b.last_ts) for b in held] == [
        ("hold-1", 10, datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 1, 15, 12, 9, tzinfo=UTC))]
    assert store.sql.execute("SELECT count(*) FROM telemetry_samples WHERE ts < '2026-01-16'").fetchone() == (10,)
    assert store.count("_telemetry_rollups") == 2  # the two 5m buckets of Jan 18; Jan 15 stays raw


def test_a_period_hold_blocks_the_last_tier_delete(store):
    place_hold(store, "period", from_date=date(2026, 1, 1), to_date=date(2026, 1, 6), reason="audit", actor="legal")
    report = run_retention(store, POLICY, AS_OF, apply=True)
    assert steps(report) == [("raw", "rollup", "5m", 20, 4), ("5m", "rollup", "1h", 2, 1), ("1h", "delete", None, 0, 0)]
    assert store.sql.execute("SELECT count(*) FROM telemetry_samples WHERE ts < '2026-01-06'").fetchone() == (10,)


def test_read_series_reads_every_tier(store):
    run_retention(store, POLICY, AS_OF, apply=True)
    rows = read_series(store, "a", datetime(2026, 1, 15, tzinfo=UTC), AS_OF).to_pyarrow().to_pylist()
    assert [(r["resolution"], r["sum"], r["count"]) for r in rows] == [
        ("1h", 10.0, 10), ("5m", 10.0, 5), ("5m", 35.0, 5)] + [("raw", float(i), 1) for i in range(10)]
    # a late sample stored straight into a rolled-up period (behind the horizon's back) is a value of its own:
    # read beside its bucket, hiding neither, and merged into that bucket by the next apply
    store.sql.execute("INSERT INTO telemetry_samples (series, ts, metric, value) VALUES "
                      "('a', '2026-01-18 10:02:30+00', 'm', 100)")
    window = (datetime(2026, 1, 18, 10, tzinfo=UTC), datetime(2026, 1, 18, 11, tzinfo=UTC))
    late = read_series(store, "a", *window).to_pyarrow().to_pylist()
    assert [(r["resolution"], r["sum"]) for r in late] == [("5m", 10.0), ("raw", 100.0), ("5m", 35.0)]
    run_retention(store, POLICY, AS_OF, apply=True)
    merged = read_series(store, "a", *window).to_pyarrow().to_pylist()
    assert [(r["resolution"], r["sum"], r["count"]) for r in merged] == [("5m", 110.0, 6), ("5m", 35.0, 5)]


def write(root: Path, text: str) -> Path:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "retention.yaml").write_text(text)
    return root


@pytest.mark.parametrize(("text", "expected"), [
    ("datasets:\n  teams: {raw: 30d}\n",
     ["policies/retention.yaml:2: ERROR [retention] dataset 'teams' has no time column"]),
    ("datasets:\n  bills: {raw: 30d}\n", ["policies/retention.yaml:2: ERROR [retention] unknown dataset 'bills'"]),
    ("datasets:\n  alerts:\n    raw: 30d\n    rollups: [{resolution: 1h, keep: 60d}]\n",
     ["policies/retention.yaml:4: ERROR [retention] rollups are supported for telemetry_samples, sli_events only"]),
    ("datasets:\n  sli_events:\n    raw: 30d\n    rollups:\n      - {resolution: 5m, keep: 60d}\n"
     "      - {resolution: 7m, keep: 90d}\n",
     ["policies/retention.yaml:6: ERROR [retention] resolution 7m must divide a day",
      "policies/retention.yaml:6: ERROR [retention] resolution 7m must be a larger whole multiple"]),
    ("datasets:\n  sli_events:\n    raw: 30d\n    rollups: [{resolution: 1h, keep: 7d}]\n",
     ["policies/retention.yaml:4: ERROR [retention] keep 7d must be longer than raw 30d"]),
    ("datasets:\n  sli_events: {raw: 2 weeks}\n", ["policies/retention.yaml:2: ERROR [model] datasets.sli_events.raw"]),
    ("storage_cost_per_gb_month: -1\n", ["policies/retention.yaml:1: ERROR [model] storage_cost_per_gb_month"]),
])
def test_policy_errors_name_file_and_line(tmp_path, text, expected):
    with pytest.raises(ValidationFailed) as caught:
        load_retention_policy(write(tmp_path, text))
    found = [str(i) for i in caught.value.issues]
    assert len(found) == len(expected) and all(f.startswith(e) for f, e in zip(found, expected, strict=True)), found


def test_policy_file_loads(tmp_path):
    policy = load_retention_policy(write(tmp_path, "storage_cost_per_gb_month: 0.02\ndatasets:\n  telemetry_samples:"
                                               "\n    raw: 14d\n    rollups: [{resolution: 5m, keep: 90d}, "
                                               "{resolution: 1h, keep: 2y}]\n  sli_events: {raw: 30d}\n"))
    assert policy.storage_cost_per_gb_month == 0.02 and list(policy.datasets) == ["telemetry_samples", "sli_events"]
    assert load_retention_policy(tmp_path / "none").datasets == {}


def test_cli_plan_and_apply(workspace, workspace_store, cli):
    ten_minutes(workspace_store, "2026-01-05 08:00:00+00", "2")
    place_hold(workspace_store, "dataset", "telemetry_samples", from_date=date(2026, 1, 5), reason="dispute",
               actor="legal")
    workspace_store.close()
    write(workspace, "datasets:\n  telemetry_samples: {raw: 1d}\n")
    plan = cli("retention", "plan", "--as-of", "2026-01-20", "--json")
    assert plan.exit_code == 0, plan.output
    body = json.loads(plan.output)
    step = body["datasets"][0]["steps"][0]
    assert (body["applied"], step["action"], step["rows"]) == (False, "delete", 0)
    assert step["blocked"][0]["hold_id"] == "hold-1"
    assert step["blocked"][0]["rows"] == 10
    shown = cli("retention", "apply", "--as-of", "2026-01-20")
    assert shown.exit_code == 0 and "hold-1" in shown.output and "dispute)" in shown.output, shown.output
    write(workspace, "datasets:\n  teams: {raw: 1d}\n")
    bad = cli("retention", "plan")
    assert bad.exit_code == 1 and "retention.yaml:2" in bad.output


def test_other_datasets_lose_rows_older_than_raw(store):
    store.sql.execute("""INSERT INTO alerts (alert_id, rule, fired_at) VALUES ('old', 'r', '2025-12-01 10:00:00+00'),
        ('new', 'r', '2026-01-10 10:00:00+00')""")
    store.sql.execute("""INSERT INTO decisions (decision_id, date, title) VALUES ('d1', '2025-06-30', 'a'),
        ('d2', '2025-07-01', 'b')""")
    policy = RetentionPolicy({"alerts": DatasetRetention(raw="30d"), "decisions": DatasetRetention(raw="203d")})
    report = run_retention(store, policy, AS_OF, apply=True)  # decisions: cutoff 2025-07-01 00:00
    assert [(r.dataset, r.steps[0].rows, r.steps[0].first_ts) for r in report.datasets] == [
        ("alerts", 1, datetime(2025, 12, 1, 10, tzinfo=UTC)), ("decisions", 1, datetime(2025, 6, 30, tzinfo=UTC))]
    assert store.sql.execute("SELECT alert_id FROM alerts UNION ALL SELECT decision_id FROM decisions "
                             "ORDER BY 1").fetchall() == [("d2",), ("new",)]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_help_has_an_example(cli, command):
    shown = cli("retention", command, "--help")
    assert shown.exit_code == 0 and f"Example: engmetrics retention {command}" in shown.output


@pytest.mark.parametrize("module", [retention_points, retention_policy, counters])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0
