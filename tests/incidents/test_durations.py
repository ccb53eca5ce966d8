"""Incident lifecycle durations, grouped statistics, bootstrap intervals, power check and `incidents stats`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.incidents.bootstrap import bootstrap, compare_medians
from engmetrics.incidents.durations import duration_counts, duration_stats, incident_durations, summarise
from engmetrics.store import Store

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
COLUMNS = ("incident_id", "severity", "service", "team", "impact_started_at", "detected_at", "declared_at",
           "acknowledged_at", "mitigated_at", "resolved_at")


def at(minutes: float | None) -> datetime | None:
    return None if minutes is None else T0 + timedelta(minutes=minutes)


def insert(store: Store, rows: list[dict]) -> None:
    """Rows: incident_id, severity, service, team and lifecycle instants in minutes after T0."""
    values = [(r["id"], r.get("severity", 2), r.get("service", "api"), r.get("team", "core"),
               *(at(r.get(c)) for c in COLUMNS[4:])) for r in rows]
    store.sql.executemany(f"INSERT INTO incidents ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * 10)})", values)


def per_incident(store: Store) -> dict[str, dict]:
    rows = incident_durations(store.table("incidents")).order_by("incident_id").execute()
    return {r["incident_id"]: r for r in rows.to_dict("records")}


def test_each_duration_from_its_own_columns(store):
    insert(store, [{"id": "a", "impact_started_at": 0, "detected_at": 5, "declared_at": 7, "acknowledged_at": 9,
                    "mitigated_at": 30, "resolved_at": 60}])
    a = per_incident(store)["a"]
    # ttd 0->5 min, tta 5->9 min, ttm 0->30 min, ttr 0->60 min
    assert (a["ttd"], a["tta"], a["ttm"], a["ttr"]) == (300, 240, 1800, 3600)
    assert {a[f"{d}_state"] for d in ("ttd", "tta", "ttm", "ttr")} == {"ok"}


def test_fallbacks_declared_for_impact_and_detection_resolved_for_mitigation(store):
    insert(store, [{"id": "b", "declared_at": 10, "acknowledged_at": 12, "resolved_at": 50},
                   {"id": "e", "declared_at": 10, "detected_at": 4, "resolved_at": 50}])
    b, e = per_incident(store)["b"], per_incident(store)["e"]
    # b: tta declared 10 -> ack 12: 2 min; ttm and ttr declared 10 -> resolved 50: 40 min
    assert (b["tta"], b["ttm"], b["ttr"]) == (120, 2400, 2400)
    # e: ttd declared 10 (no impact start) -> detected 4: a real measurement (-6 min: invalid), not a fallback
    assert (e["ttd_state"], e["tta_state"]) == ("invalid", "missing")


def test_ttd_is_missing_when_start_and_end_both_fall_back_to_declared(store):
    insert(store, [{"id": "b", "declared_at": 10, "resolved_at": 50}])
    b = per_incident(store)["b"]
    # no impact_started_at and no detected_at: ttd would be declared_at - declared_at = 0 by construction
    assert (b["ttd_state"], b["ttr_state"], b["ttr"]) == ("missing", "ok", 2400)
    assert np.isnan(b["ttd"])
    [group] = duration_stats(store, resamples=50)
    ttd, ttr = group.to_dict()["ttd"], group.to_dict()["ttr"]
    assert (ttd["n"], ttd["missing"], ttd["p50"]) == (0, 1, None)  # not counted as a 0 s detection
    assert (ttr["n"], ttr["p50"]) == (1, 2400)


def test_missing_end_and_negative_duration(store):
    insert(store, [{"id": "c", "declared_at": 10, "mitigated_at": 5},  # mitigated before declared: invalid
                   {"id": "d", "declared_at": 10}])  # open: no ack, no mitigation, no resolution
    rows = per_incident(store)
    assert (rows["c"]["ttm_state"], rows["c"]["ttr_state"], rows["c"]["tta_state"]) == ("invalid", "missing",
                                                                                         "missing")
    assert np.isnan(rows["c"]["ttm"])
    # d: ttd declared -> declared is no measurement either
    assert [rows["d"][f"{d}_state"] for d in ("ttd", "tta", "ttm", "ttr")] == ["missing"] * 4


TTR_MINUTES = [10, 20, 30, 40, 100]


def test_stats_on_a_hand_made_set(store):
    insert(store, [{"id": f"i{k}", "declared_at": 0, "resolved_at": m} for k, m in enumerate(TTR_MINUTES)]
           + [{"id": "neg", "declared_at": 50, "resolved_at": 20}])  # resolved before declared: excluded
    [group] = duration_stats(store, resamples=200)
    ttr = group.to_dict()["ttr"]
    # sorted 10 20 30 40 100: p50 30; mean 200/5 = 40; p90 at rank 0.9*4 = 3.6: 40 + 0.6*60 = 76;
    # p95 at rank 3.8: 40 + 0.8*60 = 88 (minutes)
    assert (ttr["p50"], ttr["mean"], ttr["p90"], ttr["p95"]) == (1800, 2400, pytest.approx(4560), pytest.approx(5280))
    assert (group.count, ttr["n"], ttr["invalid"], ttr["missing"]) == (6, 5, 1, 0)
    assert ttr["ci95"][0] <= 1800 <= ttr["ci95"][1]
    assert group.to_dict()["tta"] == {"p50": None, "p90": None, "p95": None, "mean": None, "ci95": None, "n": 0,
                                      "ci95_p90": None, "ci95_mean": None, "invalid": 0, "missing": 6}


def reference_intervals(values: list[float], resamples: int, seed: int) -> tuple[tuple, tuple, tuple]:
    """Written independently: one resample at a time, statistics by hand-written sorting arithmetic."""
    def linear(sorted_values, q):
        h = (len(sorted_values) - 1) * q
        lo = int(h)
        hi = min(lo + 1, len(sorted_values) - 1)
        return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])

    ordered = sorted(values)
    index = np.random.default_rng(seed).integers(0, len(ordered), size=(resamples, len(ordered)))
    medians, p90s, means = [], [], []
    for row in index.tolist():
        sample = sorted(ordered[i] for i in row)
        medians.append(linear(sample, 0.5))
        p90s.append(linear(sample, 0.9))
        means.append(sum(sample) / len(sample))
    return tuple(tuple(linear(sorted(s), q) for q in (0.025, 0.975)) for s in (medians, p90s, means))


def test_bootstrap_matches_an_independent_reference():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]
    got = bootstrap(values, resamples=600, seed=7)
    median, p90, mean = reference_intervals(values, 600, 7)
    assert got.median == pytest.approx(median)
    assert got.p90 == pytest.approx(p90)
    assert got.mean == pytest.approx(mean)


def test_bootstrap_is_reproducible_and_ignores_row_order():
    values = [float(v) for v in range(1, 40)]
    assert bootstrap(values) == bootstrap(list(reversed(values)))
    assert bootstrap(values, seed=1) != bootstrap(values, seed=2)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=30))
def test_point_estimates_match_numpy_and_lie_in_their_intervals(values):
    s = summarise(np.array(values), 0, 0, resamples=100)
    assert s.p50 == pytest.approx(float(np.quantile(values, 0.5)))
    assert s.p90 == pytest.approx(float(np.quantile(values, 0.9)))
    assert s.intervals.median[0] <= s.intervals.median[1]
    assert min(values) <= s.intervals.median[0] and s.intervals.median[1] <= max(values)


def test_power_check_on_two_small_samples():
    previous = [10.0, 12.0, 14.0, 16.0, 18.0]
    far = compare_medians(previous, [40.0, 42.0, 44.0, 46.0, 48.0], resamples=500)
    # medians 14 -> 44: a change of 30; every resampled median of the second set (>= 40) exceeds every one
    # of the first (<= 18), so the interval is above 0 and the change is not noise
    assert (far.previous_p50, far.current_p50, far.change) == (14, 44, 30)
    assert far.ci95_change[0] > 0 and far.within_noise is False and far.detectable is True
    near = compare_medians(previous, [11.0, 13.0, 15.0, 17.0, 19.0], resamples=500)
    # medians 14 -> 15: the spread of each sample (resampled medians 10..18) swamps a change of 1
    assert near.change == 1 and near.within_noise is True and near.detectable is False
    assert near.mde > 1


def test_mde_formula_uses_bootstrap_standard_errors():
    previous, current = [10.0, 12.0, 14.0, 16.0, 18.0], [11.0, 13.0, 15.0, 17.0, 19.0]
    c = compare_medians(previous, current, resamples=500, seed=3)
    rng = np.random.default_rng(3)
    se = [np.std(np.median(np.sort(x)[rng.integers(0, 5, size=(500, 5))], axis=1), ddof=1)
          for x in (previous, current)]
    # (z_0.975 + z_0.8) = 1.959964 + 0.841621 = 2.801585
    assert c.mde == pytest.approx(2.801585 * np.sqrt(se[0] ** 2 + se[1] ** 2), rel=1e-6)


def test_comparison_with_an_empty_previous_period_has_no_verdict():
    c = compare_medians([], [1.0, 2.0])
    assert (c.previous_p50, c.current_p50, c.change, c.within_noise, c.mde) == (None, 1.5, None, None, None)


def test_grouping_by_severity_week_and_month(store):
    insert(store, [{"id": "a", "severity": 1, "declared_at": 0, "resolved_at": 10},
                   {"id": "b", "severity": 2, "declared_at": 60 * 24 * 7, "resolved_at": 60 * 24 * 7 + 30},
                   {"id": "c", "severity": 2, "declared_at": 60 * 24 * 30, "resolved_at": 60 * 24 * 30 + 50,
                    "team": None}])
    by_severity = {g.group: g for g in duration_stats(store, by="severity", resamples=100)}
    assert {k: (g.count, g.durations["ttr"].p50) for k, g in by_severity.items()} == {"1": (1, 600), "2": (2, 2400)}
    # 5 Jan (Monday), 12 Jan, 4 Feb (week of Monday 2 Feb)
    assert [g.group for g in duration_stats(store, by="week", resamples=100)] == ["2026-01-05", "2026-01-12",
                                                                                  "2026-02-02"]
    assert [(g.group, g.count) for g in duration_stats(store, by="month", resamples=100)] == [("2026-01", 2),
                                                                                            ("2026-02", 1)]
    assert [(g.group, g.count) for g in duration_stats(store, by="team", resamples=100)] == [("(null)", 1),
                                                                                           ("core", 2)]


def test_window_is_half_open_on_declared_at(store):
    insert(store, [{"id": "a", "declared_at": 0, "resolved_at": 10}, {"id": "b", "declared_at": 60,
                                                                         "resolved_at": 70}])
    [g] = duration_stats(store, start=T0, end=T0 + timedelta(minutes=60), resamples=100)
    assert g.count == 1  # 'b' declared exactly at the end is outside


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.one_of(st.none(), st.integers(0, 100))), min_size=1, max_size=12))
def test_counts_add_up(pairs):
    with Store.open("duckdb://") as s:
        insert(s, [{"id": f"i{k}", "declared_at": d, "resolved_at": r} for k, (d, r) in enumerate(pairs)])
        rows = duration_counts(incident_durations(s.table("incidents"))).execute().to_dict("records")
    for row in rows:
        assert row["ttr_n"] + row["ttr_invalid"] + row["ttr_missing"] == row["count"]
    assert sum(r["ttr_invalid"] for r in rows) == sum(1 for d, r in pairs if r is not None and r < d)


def test_cli_stats_json_contract(workspace, workspace_store, cli):
    insert(workspace_store, [{"id": f"i{k}", "declared_at": 0, "resolved_at": m} for k, m in enumerate(TTR_MINUTES)])
    workspace_store.close()
    result = cli("incidents", "stats", "--json")
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    assert set(item) >= {"group", "count", "ttd", "tta", "ttm", "ttr"}
    assert set(item["ttr"]) >= {"p50", "p90", "p95", "mean", "ci95", "n"}
    assert (item["group"], item["count"], item["ttr"]["p50"], item["ttr"]["n"]) == ("all", 5, 1800, 5)
    assert item["tta"]["p50"] is None


def test_cli_stats_compare_previous_and_bad_input(workspace, workspace_store, cli):
    insert(workspace_store, [{"id": f"i{k}", "declared_at": 0, "resolved_at": m} for k, m in enumerate(TTR_MINUTES)]
           + [{"id": f"j{k}", "declared_at": 60 * 24 * 7, "resolved_at": 60 * 24 * 7 + m}
              for k, m in enumerate(TTR_MINUTES)])
    workspace_store.close()
    result = cli("incidents", "stats", "--compare-previous", "--from", "2026-01-12", "--to",
                 "2026-01-19", "--json")
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)[0]["compare_previous"]["ttr"]
    # same five durations in both weeks: no change, and it is within noise
    assert (compared["change"], compared["within_noise"], compared["n_previous"]) == (0, True, 5)
    assert cli("incidents", "stats", "--by", "colour").exit_code == 1
    assert cli("incidents", "stats", "--by", "severity").exit_code == 0


@pytest.mark.spark
@pytest.mark.slow
def test_durations_and_counts_are_the_same_on_pyspark(tmp_path, store, spark_session):
    import ibis

    insert(store, [{"id": "a", "impact_started_at": 0, "detected_at": 5, "declared_at": 7, "acknowledged_at": 9,
                    "mitigated_at": 30, "resolved_at": 60},
                   {"id": "b", "declared_at": 10, "acknowledged_at": 12, "resolved_at": 50, "severity": 1},
                   {"id": "c", "declared_at": 10, "mitigated_at": 5, "team": None}])
    path = tmp_path / "incidents.parquet"  # Parquet keeps the types and the nulls (a null team stays null)
    store.table("incidents").select(*COLUMNS).to_parquet(path)
    spark_session.read.parquet(str(path)).createOrReplaceTempView("incidents")
    spark = Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    cols = ["incident_id", "ttd", "tta", "ttm", "ttr", "ttd_state", "tta_state", "ttm_state", "ttr_state"]

    def rows(s):
        t = incident_durations(s.table("incidents"))
        return json.dumps(t.select(*cols).order_by("incident_id").execute().fillna(-1).to_dict("records"))

    assert rows(spark) == rows(store)
    for by in ("severity", "team", "week"):
        def counts(s, by=by):
            c = duration_counts(incident_durations(s.table("incidents")), by).execute()
            return sorted(map(str, c.to_dict("records")))
        assert counts(spark) == counts(store)


def test_large_samples_use_order_statistic_intervals():
    from engmetrics.incidents.bootstrap import LARGE_SAMPLE, bootstrap

    values = [float(v) for v in range(10_000)]  # 0..9999: median 4999.5
    assert len(values) > LARGE_SAMPLE
    b = bootstrap(values)
    # ranks 5000 -/+ 1.96 x sqrt(10000 x 0.25) = 5000 -/+ 98: order statistics 4902 and 5098
    assert b.median == (4902.0, 5098.0)
    # p90: 9000 -/+ 1.96 x sqrt(900) = 9000 -/+ 58.8: ranks 8941 and 9059
    assert b.p90 == (8941.0, 9059.0)
    # mean 4999.5 -/+ 1.96 x 2886.9 / 100
    assert b.mean[0] == pytest.approx(4999.5 - 1.959964 * 2886.8956 / 100, rel=1e-6)
