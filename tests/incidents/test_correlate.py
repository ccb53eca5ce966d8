"""Correlation evidence of one incident, and the change-point method it uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engmetrics.auth.roles import Principal, Role
from engmetrics.errors import InputError
from engmetrics.incidents.changepoints import change_points, shifts
from engmetrics.incidents.correlate import correlate_incident
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # impact start
MIN = timedelta(minutes=1)


def incident(store: Store, incident_id: str, service: str, start: datetime, title: str = "Checkout errors", *,
             caused_by: str | None = None, confidentiality: str | None = None, team: str | None = None) -> None:
    store.sql.execute(
        "INSERT INTO incidents (incident_id, service, severity, title, impact_started_at, declared_at, "
        "caused_by_deployment_id, confidentiality, team) VALUES (?, ?, 2, ?, ?, ?, ?, ?, ?)",
        [incident_id, service, title, start, start + 10 * MIN, caused_by, confidentiality, team])


def deploy(store: Store, deployment_id: str, service: str, started: datetime, *, status: str = "success",
           rollback: bool = False) -> None:
    store.sql.execute(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, status, is_rollback) "
        "VALUES (?, ?, 'production', ?, ?, ?)", [deployment_id, service, started, status, rollback])


def sli_step(store: Store, service: str, start: datetime, minutes: int, step_at: int) -> None:
    """Error ratio 0.1 % (999 good of 1000) before minute `step_at`, 5 % (950 of 1000) from it."""
    rows = [(service, "availability", start + i * MIN, 999.0 if i < step_at else 950.0, 1000.0)
            for i in range(minutes)]
    store.sql.executemany("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)", rows)


def scenario(store: Store) -> None:
    store.sql.execute("INSERT INTO services (service, team, tier, depends_on) "
                      "VALUES ('checkout', 'team-a', 1, ['payments'])")
    incident(store, "inc-1", "checkout", T0)
    deploy(store, "d-guilty", "checkout", T0 - 10 * MIN)
    deploy(store, "d-innocent", "payments", T0 - 90 * MIN)
    sli_step(store, "checkout", T0 - timedelta(hours=2), 240, 120)  # the step at T0
    store.sql.execute("INSERT INTO alerts (alert_id, rule, service, urgency, fired_at) VALUES "
                      "('al-2', 'latency', 'checkout', 'low', ?), ('al-1', 'errors', 'checkout', 'high', ?)",
                      [T0 + 5 * MIN, T0 + 3 * MIN])


def test_guilty_deploy_ranks_first(store):
    scenario(store)
    evidence = correlate_incident(store, "inc-1", window_hours=2.0)
    ranked = [(e.kind, e.detail.get("deployment_id") or e.detail.get("alert_id"), e.offset_seconds, e.score)
              for e in evidence]
    # tau = 120 / 2 = 60 min; deploys 0.5 + 0.45 x relation x (0.6 x failed + 0.4 x exp(-minutes / 60))
    assert ranked == [
        ("deployment", "d-guilty", -600.0, 0.6524),  # 0.5 + 0.45 x 1 x 0.4 x exp(-10/60) = 0.5 + 0.18 x 0.8465
        ("deployment", "d-innocent", -5400.0, 0.5201),  # 0.5 + 0.45 x 0.5 x 0.4 x exp(-1.5) = 0.5 + 0.09 x 0.2231
        ("change_point", None, 0.0, 0.441),  # 0.45 x (5 % - 0.1 %) / 5 % x exp(0)
        ("alert", "al-1", 180.0, 0.4),  # first alert 0.4 / 1
        ("alert", "al-2", 300.0, 0.2),  # second 0.4 / 2
    ]
    shift = evidence[2].detail
    assert (shift["source"], shift["series"], shift["at"]) == ("sli_events", "availability", T0.isoformat())
    assert (shift["before"], shift["after"]) == (pytest.approx(0.001), pytest.approx(0.05))
    assert evidence[1].detail["relation"] == "depends_on"


def test_deploys_to_the_configured_production_environments_count_case_ignored(store):
    incident(store, "inc-1", "checkout", T0)
    store.sql.execute("INSERT INTO deployments (deployment_id, service, environment, started_at, status) VALUES "
                      "('d-eu', 'checkout', 'Production-EU', ?, 'success'), "
                      "('d-stage', 'checkout', 'staging', ?, 'success')", [T0 - 10 * MIN, T0 - 5 * MIN])
    found = lambda envs: [e.detail["deployment_id"] for e in correlate_incident(  # noqa: E731
        store, "inc-1", window_hours=2.0, environments=envs) if e.kind == "deployment"]
    assert found(("production-eu", "production-us")) == ["d-eu"]
    assert found(("production",)) == []


def test_a_failed_deploy_outranks_a_later_successful_one_and_the_first_alert(store):
    incident(store, "inc-1", "checkout", T0)
    deploy(store, "guilty", "checkout", T0 - 90 * MIN, status="failure")
    deploy(store, "innocent", "checkout", T0 - 5 * MIN)
    store.sql.execute("INSERT INTO alerts (alert_id, rule, service, urgency, fired_at) VALUES "
                      "('al-1', 'errors', 'checkout', 'high', ?)", [T0 + 5 * MIN])
    ranked = [(e.detail.get("deployment_id") or e.detail.get("alert_id"), e.score)
              for e in correlate_incident(store, "inc-1", window_hours=2.0)]
    # (the old score gave innocent 0.7667, alert 0.5, guilty 0.25)
    # guilty: 0.5 + 0.45 x (0.6 + 0.4 x exp(-90/60) = 0.6 + 0.4 x 0.2231 = 0.6893) = 0.8102
    # innocent: 0.5 + 0.45 x 0.4 x exp(-5/60) = 0.5 + 0.18 x 0.9200 = 0.6656; alert 0.4 / 1
    assert ranked == [("guilty", 0.8102), ("innocent", 0.6656), ("al-1", 0.4)]


def test_blips_on_a_near_zero_error_ratio_are_not_change_points(store):
    incident(store, "inc-1", "checkout", T0)
    # 30 minutes of 10000 requests, all good but for 10 errors at minutes 10-11 and 5 at 25-26
    bad = {10: 10.0, 11: 10.0, 25: 5.0, 26: 5.0}
    rows = [("checkout", "availability", T0 + (i - 15) * MIN, 10000.0 - bad.get(i, 0.0), 10000.0) for i in range(30)]
    store.sql.executemany("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)", rows)
    assert correlate_incident(store, "inc-1", window_hours=2.0) == []
    ratio = [b / 10000 for b in (bad.get(i, 0.0) for i in range(30))]
    assert [s.magnitude for s in shifts(ratio, max_points=3)] == [1.0, 1.0, 1.0]  # without the floors
    # the noise floor sigma 0.001: penalty 2 ln 30 x 1e-6 = 6.8e-6 > any gain here (< 2 x 0.001² = 2e-6)
    assert shifts(ratio, max_points=3, min_sigma=0.001, floor=0.01) == []
    # were one found, its magnitude is judged against 0.01: 0 -> 0.001 is 0.1, not 1.0
    (s,) = shifts([0.0] * 20 + [0.001] * 20, floor=0.01)
    assert s.magnitude == pytest.approx(0.1)


def test_failed_or_rolled_back_deploys_and_explicit_cause(store):
    incident(store, "inc-1", "checkout", T0, caused_by="d-explicit")
    deploy(store, "d-explicit", "checkout", T0 - timedelta(days=2))  # outside the window but explicit
    deploy(store, "d-failed", "checkout", T0 - 60 * MIN, status="failure")
    deploy(store, "d-rolled", "checkout", T0 - 30 * MIN)
    deploy(store, "d-rollback", "checkout", T0 + 20 * MIN, rollback=True)  # rolls d-rolled back, after impact
    deploy(store, "d-later", "checkout", T0 + 40 * MIN)
    deploy(store, "d-other", "search", T0 - 5 * MIN)  # unrelated service: not evidence
    scores = {e.detail["deployment_id"]: e.score for e in correlate_incident(store, "inc-1", window_hours=2.0)}
    # explicit 1.0; rolled back 0.5 + 0.45 x (0.6 + 0.4 x exp(-30/60) = 0.8426) = 0.8792;
    # failed 0.5 + 0.45 x (0.6 + 0.4 x exp(-60/60) = 0.7472) = 0.8362
    assert scores == {"d-explicit": 1.0, "d-rolled": 0.8792, "d-failed": 0.8362}


def test_telemetry_gauge_and_counter_shifts(store):
    incident(store, "inc-1", "checkout", T0)
    labels = json.dumps({"service": "checkout"})
    gauge = [("lat", T0 + (i - 60) * MIN, "latency_ms", labels, 100.0 if i < 80 else 300.0, None) for i in range(120)]
    # a counter growing by 10 a minute, then 40 a minute from minute 60 (T0)
    count, counter = 0.0, []
    for i in range(120):
        count += 10 if i < 60 else 40
        counter.append(("req", T0 + (i - 60) * MIN, "requests_total", labels, count, None))
    other = [("x", T0 + i * MIN, "latency_ms", json.dumps({"service": "search"}), float(i % 2 * 500), None)
             for i in range(20)]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", gauge + counter + other)
    found = {e.detail["series"]: e for e in correlate_incident(store, "inc-1", window_hours=2.0)
             if e.kind == "change_point"}
    assert set(found) == {"lat", "req"}
    # gauge: 100 -> 300 at minute 80 = T0 + 20 min; floor = median 100 < 300:
    # 0.45 x (200/300) x exp(-20/60) = 0.3 x 0.7165 = 0.215
    assert (found["lat"].offset_seconds, found["lat"].score) == (1200.0, 0.215)
    # counter increases 10 -> 40 from T0 (the increase recorded at T0 is the first of 40; 59 of 10, 60 of 40:
    # median 40): 0.45 x 30/40 x 1 = 0.3375
    assert (found["req"].offset_seconds, found["req"].score) == (0.0, 0.3375)


def _change_points(store: Store, window_hours: float) -> list[tuple]:
    """inc-1's change points: series, offset, score, before, after and the bucket width (None: per sample)."""
    found = correlate_incident(store, "inc-1", window_hours=window_hours)
    return sorted((e.detail["series"], e.offset_seconds, e.score, e.detail["before"], e.detail["after"],
                   e.detail.get("bucket_seconds")) for e in found if e.kind == "change_point")


def test_telemetry_is_read_across_retention_tiers(store):
    """Minute samples from T0 - 60 min to T0 + 59 min; retention rolled those before T0 - 30 min up into
    5-minute buckets (rows as `retention apply` writes them), the rest is raw. The gauge `lat` and the counter
    `err` step at T0 - 45 min, inside the rolled-up part: found only if the buckets (and their stored counter
    increases) are read. With buckets in the window, every series is read in 5-minute buckets."""
    incident(store, "inc-1", "checkout", T0)
    labels = json.dumps({"service": "checkout"})
    gauge = [100.0 if i < 15 else 300.0 for i in range(120)]  # minute i is T0 - 60 min + i
    requests = list(np.cumsum([10.0 if i < 60 else 40.0 for i in range(120)]) + 1000)  # began long before
    errors = list(np.cumsum([2.0 if i < 15 else 6.0 for i in range(120)]) + 100)
    series = (("lat", "latency_ms", gauge), ("req", "requests_total", requests), ("err", "errors_total", errors))
    raw = [(name, T0 + (i - 60) * MIN, metric, labels, values[i], None) for i in range(30, 120)
           for name, metric, values in series]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", raw)
    buckets = []
    for b in range(6):
        minutes = range(5 * b, 5 * b + 5)
        for name, metric, values in series:
            part = [values[i] for i in minutes]
            # a counter bucket's increase: its samples' increases, the first from the previous bucket's last
            increase = None if name == "lat" else part[-1] - values[5 * b - 1] if b else 5 * (part[1] - part[0])
            buckets.append((name, "5m", T0 + (5 * b - 60) * MIN, metric, labels, sum(part), 5, min(part), max(part),
                            increase, part[-1]))
    store.sql.executemany("INSERT INTO _telemetry_rollups (series, resolution, ts, metric, labels, sum, count, min, "
                          "max, increase, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", buckets)
    assert _change_points(store, 2.0) == [
        # 24 buckets: 3 of 5 x 2, then 5 x 6 from T0 - 45 min (median 30): 0.45 x 20/30 x exp(-45/60) = 0.1417
        ("err", -2700.0, 0.1417, 10.0, 30.0, 300),
        # gauge means: 3 of 100, then 300 from T0 - 45 min (median 300): 0.45 x 200/300 x exp(-45/60) = 0.1417
        ("lat", -2700.0, 0.1417, 100.0, 300.0, 300),
        # 12 buckets of 5 x 10, then 12 of 5 x 40 from T0 (the first raw sample's increase is counted from the
        # last bucket's `last`); median 125: 0.45 x 150/200 x 1 = 0.3375
        ("req", 0.0, 0.3375, 50.0, 200.0, 300)]


def test_tiered_window_leaves_out_buckets_it_holds_in_part(store):
    """A steady counter (10 a minute) over the whole window and one 5-minute bucket of another series: the
    counter is read in 5-minute buckets, and none may look like a shift. A window of 2 h starts on a bucket
    boundary, so the first bucket's first sample has no increase (its previous sample is outside): that
    bucket would sum to 40. A window of 1.96 h ends 2.4 min into a bucket, whose three samples would sum to 30.
    Both are left out."""
    incident(store, "inc-1", "checkout", T0)
    labels = json.dumps({"service": "checkout"})
    raw = [("req", T0 + i * MIN, "requests_total", labels, 1000.0 + 10 * i, None) for i in range(-130, 131)]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", raw)
    store.sql.execute("INSERT INTO _telemetry_rollups (series, resolution, ts, metric, labels, sum, count, min, max, "
                      "increase, last) VALUES ('lat', '5m', ?, 'latency_ms', ?, 500, 5, 100, 100, NULL, 100)",
                      [T0 - 100 * MIN, labels])
    assert _change_points(store, 2.0) == []
    assert _change_points(store, 1.96) == []


def test_similar_past_incidents_only(store):
    incident(store, "old", "checkout", T0 - timedelta(days=30), "Checkout database connection pool exhausted")
    incident(store, "inc-1", "checkout", T0, "Checkout database connection pool exhausted")
    incident(store, "new", "checkout", T0 + timedelta(days=3), "Checkout database connection pool exhausted")
    incident(store, "dns", "edge", T0 - timedelta(days=3), "DNS resolution failing")
    (e,) = correlate_incident(store, "inc-1", window_hours=2.0)
    assert (e.kind, e.detail["incident_id"], e.detail["similarity"], e.score) == ("similar_incident", "old", 1.0, 0.4)
    assert e.offset_seconds == -30 * 86400


SECRET = "Acquirer Zeta pool exhausted"


def leak_case(store: Store) -> None:
    """A readable incident with a confidential look-alike of team-a before it."""
    incident(store, "old", "checkout", T0 - timedelta(days=30), SECRET, confidentiality="confidential",
             team="team-a")
    incident(store, "inc-1", "checkout", T0, SECRET)


def test_similar_incident_the_reader_may_not_read_shows_id_and_score_only(store):
    leak_case(store)
    (owner,) = correlate_incident(store, "inc-1", window_hours=2.0)
    assert owner.detail["title"] == SECRET
    (viewer,) = correlate_incident(store, "inc-1", window_hours=2.0, reader=Principal("t", Role.viewer))
    assert (viewer.detail, viewer.score) == ({"incident_id": "old", "redacted": True}, 0.4)  # 0.4 x similarity 1
    member = Principal("t", Role.team_member, ("team-a",))
    assert correlate_incident(store, "inc-1", window_hours=2.0, reader=member)[0].detail["title"] == SECRET


def test_cli_correlate_as_role_does_not_leak_and_escapes_markup(workspace, workspace_store, cli):
    leak_case(workspace_store)
    incident(workspace_store, "older", "checkout", T0 - timedelta(days=40), "Pool exhausted [/x] [bold]")
    workspace_store.close()
    for args in (("--json",), ()):
        shown = cli("incidents", "correlate", "inc-1", "--as-role", "viewer", *args)
        assert shown.exit_code == 0, shown.output
        assert "Zeta" not in shown.stdout and "old" in shown.stdout and "[/x]" in shown.stdout
    owner = cli("incidents", "correlate", "inc-1")  # crashed with MarkupError on "[/x]"
    assert owner.exit_code == 0, owner.output
    assert "[/x]" in owner.stdout
    bad = cli("incidents", "correlate", "inc-1", "--as-role", "boss")
    assert bad.exit_code == 1 and "unknown role" in bad.output


def test_unknown_incident_is_an_input_error(store):
    with pytest.raises(InputError, match="no incident 'nope'"):
        correlate_incident(store, "nope", window_hours=2.0)


def test_cli_correlate(workspace, workspace_store, cli):
    scenario(workspace_store)
    workspace_store.close()
    result = cli("incidents", "correlate", "inc-1", "--json")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)[0]
    assert (first["kind"], first["detail"]["deployment_id"], first["score"]) == ("deployment", "d-guilty", 0.6524)
    assert cli("incidents", "correlate", "inc-1").exit_code == 0
    missing = cli("incidents", "correlate", "nope")
    assert missing.exit_code == 1 and "no incident" in missing.output


def test_change_point_of_an_error_ratio_step_is_at_minute_120():
    ratio = [0.001] * 120 + [0.05] * 120
    assert change_points(ratio) == [120]
    noisy = np.clip(np.array(ratio) + np.random.default_rng(7).normal(0, 0.002, 240), 0, 1)
    assert change_points(noisy) == [120]
    (s,) = shifts(ratio)
    assert (s.index, s.magnitude) == (120, pytest.approx(0.98))


def test_two_steps_and_minimum_segment():
    assert change_points([0.0] * 50 + [3.0] * 30 + [0.0] * 50) == [50, 80]
    # the step at 1 would leave 1 value: the best split keeping 2 per segment is 2 ([1, 9] | [9, 9])
    assert change_points([1.0, 9.0, 9.0, 9.0], min_size=2) == [2]
    assert change_points([1.0, 9.0, 9.0, 9.0], min_size=1) == [1]
    assert change_points([1.0, 1.0, 1.0]) == []


@given(st.floats(-1000, 1000), st.floats(-1000, 1000), st.integers(2, 40), st.integers(2, 40))
def test_a_noiseless_step_is_found_exactly(a, b, before, after):
    assume(abs(a - b) > 1e-3 * max(1.0, abs(a), abs(b)))
    assert change_points([a] * before + [b] * after) == [before]
