"""DORA metrics: frequency, lead time, change fail rate (rollback, incident), recovery time, rework, several
production environments, team grouping, benchmark bands (2021, 2023, 2024) and the CLI contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engmetrics.delivery.benchmarks import available_benchmarks, band, load_benchmark
from engmetrics.delivery.dora import DoraScope, dora_metrics
from engmetrics.errors import InputError
from engmetrics.settings import DeliverySettings, load_settings
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)
START, END = T0 - 2 * D, T0 + 5 * D  # a 7-day period


def deploy(store: Store, deployment_id: str, started: datetime, *, finished: datetime | None = None,
           service: str = "api", environment: str = "production", status: str = "success",
           change_ids: list[str] | None = None, rollback: bool = False, hotfix: bool = False,
           fixes: str | None = None) -> None:
    store.sql.execute(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, finished_at, status, "
        "change_ids, is_rollback, is_hotfix, fixes_incident_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [deployment_id, service, environment, started, finished, status, change_ids, rollback, hotfix, fixes])


def change(store: Store, change_id: str, first_commit: datetime | None, *, author: str, merged: datetime,
           created: datetime | None = None) -> None:
    store.sql.execute(
        "INSERT INTO changes (change_id, repo, service, author, first_commit_at, created_at, merged_at) "
        "VALUES (?, 'shop', 'api', ?, ?, ?, ?)", [change_id, author, first_commit, created or merged - D, merged])


def incident(store: Store, incident_id: str, caused_by: str, declared: datetime) -> None:
    store.sql.execute("INSERT INTO incidents (incident_id, service, severity, declared_at, caused_by_deployment_id) "
                      "VALUES (?, 'api', 2, ?, ?)", [incident_id, declared, caused_by])


def metrics(store: Store, environments: tuple[str, ...] = ("production",), **options) -> list[dict]:
    settings = DeliverySettings(production_environments=list(environments))
    return [g.to_dict() for g in dora_metrics(store, settings, start=START, end=END, **options)]


def test_deployment_frequency_counts_successful_production_deploys(store):
    deploy(store, "d1", T0)
    deploy(store, "d2", T0 + 2 * H)  # same UTC day as d1
    deploy(store, "d3", T0 + D)
    deploy(store, "d-failed", T0 + 2 * D, status="failure")
    deploy(store, "d-staging", T0, environment="staging")
    deploy(store, "d-before", START - M)  # outside the period
    [g] = metrics(store)
    f = g["deployment_frequency"]
    assert g["group"] == "all" and g["deployments"] == 3
    assert f["per_day"] == pytest.approx(3 / 7)  # 3 deploys / 7 days
    assert f["deploy_days_per_week"] == pytest.approx(2.0)  # 2 distinct days / (7 / 7) weeks
    assert f["band"] == "high"  # 2024: 0.43/day inside [1/7, 1] (between once a week and once a day)
    # 2021: ln(1 / 0.4286) = 0.85 to elite's edge < ln(0.4286 / 0.1429) = 1.10 to high's edge
    assert metrics(store, benchmark="2021")[0]["deployment_frequency"]["band"] == "elite"


def test_two_production_environments_both_count(store):
    deploy(store, "d-eu", T0, environment="production-eu")
    deploy(store, "d-us", T0 + H, environment="production-us")
    assert metrics(store, ("production-eu", "production-us"))[0]["deployments"] == 2
    assert metrics(store, ("production-eu",))[0]["deployments"] == 1
    assert metrics(store) == []


def test_lead_time_p50_p90_from_first_commit_to_the_end_of_the_first_deploy(store):
    finished = T0 + H
    ids = [f"c{i}" for i in range(5)]
    for cid, hours in zip(ids[:4], (1, 2, 4, 10), strict=True):
        change(store, cid, finished - hours * H, author=f"p{cid}", merged=T0 - M)
    change(store, "c4", None, author="p4", merged=T0 - M, created=finished - 3 * H)  # falls back to created_at
    change(store, "c-bot", finished - 100 * H, author="bot", merged=T0 - M)
    store.sql.execute("UPDATE changes SET is_bot = true WHERE change_id = 'c-bot'")
    deploy(store, "d1", T0, finished=finished, change_ids=[*ids, "c-bot"])
    deploy(store, "d2", T0 + D, change_ids=["c0"])  # c0 already shipped by d1
    [g] = metrics(store, min_group_size=5)
    lt = g["lead_time"]
    # hours 1, 2, 3, 4, 10: p50 = 3; p90 at rank 0.9 x 4 = 3.6: 4 + 0.6 x (10 - 4) = 7.6
    assert (lt["n"], lt["p50_hours"], lt["p90_hours"]) == (5, 3.0, pytest.approx(7.6))
    assert lt["ci95_p50"][0] <= 3.0 <= lt["ci95_p50"][1]
    assert lt["band"] == "elite"  # 2024: 3 h < 1 day
    assert lt["links"] == {"change_ids": 5, "merge_commit": 0, "commit_range": 0}
    # 2021 has a gap between elite (< 1 h) and high (1 day - 1 week): 3 h is ln(3/1) = 1.10 from elite and
    # ln(24/3) = 2.08 from high: elite
    assert metrics(store, benchmark="2021", min_group_size=5)[0]["lead_time"]["band"] == "elite"
    suppressed = metrics(store, min_group_size=6)[0]["lead_time"]  # 5 authors < 6
    assert suppressed["suppressed"] and suppressed["n"] == 5 and suppressed["p50_hours"] is None


def _stability_history(store: Store) -> None:
    deploy(store, "d0", T0 - D, finished=T0 - D + 10 * M)
    deploy(store, "d1", T0, finished=T0 + 10 * M)  # rolled back by d2
    deploy(store, "d2", T0 + H, finished=T0 + H + 10 * M, rollback=True)
    deploy(store, "d3", T0 + 2 * D, finished=T0 + 2 * D + 10 * M)  # caused i1
    deploy(store, "d4", T0 + 2 * D + 3 * H, finished=T0 + 2 * D + 3 * H + 10 * M, hotfix=True, fixes="i1")
    deploy(store, "d5", T0 + 3 * D, finished=T0 + 3 * D + 5 * M, status="failure")
    deploy(store, "d6", T0 + 3 * D + 2 * H, finished=T0 + 3 * D + 2 * H + 5 * M, hotfix=True)
    deploy(store, "d7", T0 + 4 * D, finished=T0 + 4 * D + 10 * M)  # caused i2, nothing after it
    incident(store, "i1", "d3", T0 + 2 * D + H)
    incident(store, "i2", "d7", T0 + 4 * D + H)


def test_change_fail_rate_counts_rollbacks_and_incidents(store):
    _stability_history(store)
    [g] = metrics(store)
    # successful production deploys d0 d1 d2 d3 d4 d6 d7 = 7; failed: d1 (rolled back), d3, d7 (incidents) = 3
    assert g["change_fail_rate"]["failed"] == 3 and g["change_fail_rate"]["total"] == 7
    assert g["change_fail_rate"]["value"] == pytest.approx(3 / 7)
    # 0.43: 2024 closest to low 40 %; 2023 to low 64 % (0.21 vs medium 15 % at 0.28); 2021 above every range,
    # 0.13 from the shared 16-30 % of high, medium, low: the first, high
    assert [metrics(store, benchmark=b)[0]["change_fail_rate"]["band"] for b in ("2024", "2023", "2021")] == [
        "low", "low", "high"]


def test_recovery_time_runs_to_the_next_successful_deploy(store):
    _stability_history(store)
    rt = metrics(store)[0]["recovery_time"]
    # d1 -> d2: 0:10 -> 1:10 = 1 h; d3 -> d4: 3 h; d5 (status failure) -> d6: 2 h; d7 has no successor
    assert (rt["n"], rt["p50_hours"], rt["p90_hours"], rt["unrecovered"]) == (3, 2.0, pytest.approx(2.8), 1)
    assert rt["band"] == "high"  # 2024: < 1 day is both high and medium: the first listed, high


def test_deploys_started_in_the_same_instant_are_ordered_by_id(store):
    deploy(store, "a-ok", T0, finished=T0 + 10 * M)
    deploy(store, "b-fail", T0, finished=T0 + 20 * M, status="failure")  # same instant, after a-ok by id
    deploy(store, "c-ok", T0, finished=T0 + 50 * M)  # same instant again: the success next after b-fail
    deploy(store, "d-rollback", T0 + H, rollback=True)  # rolls back the latest earlier target: c-ok, not a-ok
    [g] = metrics(store)
    assert g["change_fail_rate"]["failed"] == 1  # c-ok (rolled back); b-fail has status failure, not success
    rt = g["recovery_time"]
    # b-fail ends 0:20 -> c-ok ends 0:50 = 0.5 h; c-ok (rolled back) ends 0:50 -> d-rollback starts 1:00 = 1/6 h
    assert (rt["n"], rt["p50_hours"], rt["unrecovered"]) == (2, pytest.approx((0.5 + 1 / 6) / 2), 0)


def test_hotfix_and_incident_fix_deploys_are_rework(store):
    _stability_history(store)
    rw = metrics(store)[0]["rework_rate"]
    assert rw["rework"] == 2 and rw["value"] == pytest.approx(2 / 7)  # d4 (fixes i1, hotfix) and d6 (hotfix)
    assert rw["band"] is None  # no published per-level rework value


def _previous_week(store: Store) -> None:
    """The week before the period: p1 ok; p2 caused ip, recovered by the hotfix p3 (2 h); p4 status failure,
    recovered by p5 (4 h); p6 ok. Lead times in both weeks, one author per change: 2, 4, 6 h before
    (shipped by p1), 1, 2, 3 h now (shipped by d1)."""
    p0 = START - 7 * D
    for i, (offset, options) in enumerate((
            (D, {}), (2 * D, {}), (2 * D + 2 * H, {"hotfix": True, "fixes": "ip"}),
            (3 * D, {"status": "failure"}), (3 * D + 4 * H, {}), (4 * D, {})), start=1):
        deploy(store, f"p{i}", p0 + offset, finished=p0 + offset + 10 * M, **options)  # type: ignore[arg-type]
    incident(store, "ip", "p2", p0 + 2 * D + H)
    for i, hours in enumerate((2, 4, 6)):
        change(store, f"q{i}", p0 + D + 10 * M - hours * H, author=f"q{i}", merged=p0 + D - M)
    for i, hours in enumerate((1, 2, 3)):
        change(store, f"n{i}", T0 + 10 * M - hours * H, author=f"n{i}", merged=T0 - M)
    store.sql.execute("UPDATE deployments SET change_ids = ['q0', 'q1', 'q2'] WHERE deployment_id = 'p1'")
    store.sql.execute("UPDATE deployments SET change_ids = ['n0', 'n1', 'n2'] WHERE deployment_id = 'd1'")


def test_period_over_period(store):
    _stability_history(store)
    _previous_week(store)
    [g] = metrics(store, min_group_size=3)
    p = g["previous"]
    assert (p["start"], p["end"]) == ((START - 7 * D).isoformat(), START.isoformat())
    # before: successful p1 p2 p3 p5 p6 = 5, failed p2, rework p3; now 7 deploys, 3 failed, 2 rework (above)
    assert p["deployments"] == 5 and p["deployment_frequency"]["per_day"] == pytest.approx(5 / 7)
    assert p["deployment_frequency"]["change"] == pytest.approx(7 / 7 - 5 / 7)
    assert (p["change_fail_rate"]["value"], p["change_fail_rate"]["change"]) == (
        pytest.approx(1 / 5), pytest.approx(3 / 7 - 1 / 5))
    assert (p["rework_rate"]["value"], p["rework_rate"]["change"]) == (
        pytest.approx(1 / 5), pytest.approx(2 / 7 - 1 / 5))
    lt = p["lead_time"]
    # p50 of 2, 4, 6 = 4 h before, of 1, 2, 3 = 2 h now: change -2 h
    assert (lt["p50_hours"], lt["n"], lt["change"], lt["suppressed"]) == (4.0, 3, -2.0, False)
    assert lt["ci95_change"][0] <= -2.0 <= lt["ci95_change"][1] and lt["mde"] > 0
    # a resampled median of 3 values is the largest one with chance 7/27 (two or three draws of it), the smallest
    # too: now 3 h against before 2 h (+1 h) has chance 7/27 x 7/27 = 6.7 % > 2.5 %: the interval holds 0
    assert lt["within_noise"] is True
    rt = p["recovery_time"]
    # recoveries 2, 4 h before (p50 3), 1, 3, 2 h now (p50 2): change -1 h. Bootstrap medians before are 2, 3, 4
    # with chances 1/4, 1/2, 1/4; now 1, 2, 3 with 7/27, 13/27, 7/27 (a median of 3 draws is 1 when two or three
    # are 1). The difference is -3 with chance 1/4 x 7/27 = 6.5 % and +1 with 6.5 %, both above 2.5 %: the 95 %
    # interval is [-3, 1], which holds 0: within noise.
    assert (rt["p50_hours"], rt["n"], rt["change"]) == (3.0, 2, -1.0)
    assert (rt["ci95_change"], rt["within_noise"]) == ([-3.0, 1.0], True)
    hidden = metrics(store, min_group_size=4)[0]["previous"]["lead_time"]  # 3 authors in each week < 4
    assert (hidden["p50_hours"], hidden["n"], hidden["change"], hidden["suppressed"]) == (None, 3, None, True)


def test_no_previous_data(store):
    deploy(store, "d1", T0)
    p = metrics(store)[0]["previous"]
    assert p["deployments"] == 0 and p["change_fail_rate"]["value"] is None and p["change_fail_rate"]["change"] is None
    assert p["deployment_frequency"]["change"] == pytest.approx(1 / 7)
    assert (p["lead_time"]["n"], p["lead_time"]["change"], p["recovery_time"]["p50_hours"]) == (0, None, None)


def test_large_samples_compare_by_order_statistics():
    from engmetrics.incidents.bootstrap import LARGE_SAMPLE, compare_medians

    n = 5001
    assert n > LARGE_SAMPLE
    previous, current = np.arange(n, dtype=float), np.arange(n, dtype=float) + 10
    c = compare_medians(previous, current)
    # medians 2500 and 2510; each median's 95 % order-statistic interval: ranks 2500.5 -/+ 1.96 sqrt(5001 / 4) =
    # -/+ 69.3: floor 2431, ceil 2570, values 2431..2570 (+10): width 139, se 139 / 3.92; both: se x sqrt(2)
    se = 139 / (2 * 1.959964) * np.sqrt(2)
    assert (c.change, c.n_previous) == (10.0, n)
    assert c.ci95_change == (pytest.approx(10 - 1.959964 * se), pytest.approx(10 + 1.959964 * se))
    assert c.mde == pytest.approx(2.801585 * se, rel=1e-5) and c.within_noise and not c.detectable


def test_group_by_team_and_scope(store):
    store.sql.execute("INSERT INTO services (service, team) VALUES ('api', 'payments'), ('web', 'frontend')")
    deploy(store, "d1", T0)
    deploy(store, "d2", T0, service="web")
    deploy(store, "d3", T0, service="orphan")
    assert [(g["group"], g["deployments"]) for g in metrics(store, by="team")] == [
        ("(no team)", 1), ("frontend", 1), ("payments", 1)]
    assert [g["group"] for g in metrics(store, by="service", scope=DoraScope(team="payments"))] == ["api"]


def test_bands_2021_2023_2024():
    t21, t23, t24 = (load_benchmark(b) for b in ("2021", "2023", "2024"))
    assert available_benchmarks() == ["2021", "2023", "2024"]
    # 2024 change fail rate as published: elite 5 %, high 20 %, medium 10 %, low 40 % (not monotonic)
    assert [band(t24, "change_fail_rate", v) for v in (0.04, 0.12, 0.15, 0.19, 0.31)] == [
        "elite", "medium", "high", "high", "low"]  # 0.15 is 0.05 from high and medium: high (listed first)
    assert [band(t21, "change_fail_rate", v) for v in (0.10, 0.2)] == ["elite", "high"]
    # lead time hours; 2021: 10 h is ln(10) = 2.30 from elite (< 1 h), ln(2.4) = 0.88 from high (1 day - 1 week)
    assert [band(t21, "lead_time", v) for v in (0.5, 10, 2000, 5000)] == ["elite", "high", "medium", "low"]
    assert band(t23, "lead_time", 300) == "medium"  # 1 week - 1 month, low repeats it: medium listed first
    assert band(t23, "deployment_frequency", 0.1) == "medium"
    assert band(t23, "recovery_time", 1000) == "low"  # 1 - 6 months
    # 2024 recovery: 100 h is ln(168/100) = 0.52 from low (1 week - 1 month), ln(100/24) = 1.43 from high
    assert [band(t24, "recovery_time", v) for v in (0.5, 5, 100)] == ["elite", "high", "low"]
    assert band(t24, "rework_rate", 0.1) is None and band(t24, "lead_time", None) is None
    with pytest.raises(InputError):
        load_benchmark("2019")


def test_cli_json_contract(workspace, cli):
    with Store.open(load_settings(workspace).store_url) as store:
        deploy(store, "d1", T0, change_ids=["c1"])
        change(store, "c1", T0 - 2 * H, author="p1", merged=T0 - H)
    result = cli("delivery", "dora", "--json", "--from", START.isoformat(), "--to", END.isoformat(),
                 "--benchmark", "2023")
    assert result.exit_code == 0, result.output
    [g] = json.loads(result.stdout)
    assert g["group"] == "all" and g["deployments"] == 1 and g["benchmark"] == "2023"
    assert set(g["deployment_frequency"]) >= {"per_day", "deploy_days_per_week", "band"}
    assert set(g["lead_time"]) >= {"p50_hours", "p90_hours", "n", "band"}
    assert set(g["change_fail_rate"]) >= {"value", "failed", "total", "band"}
    assert set(g["recovery_time"]) >= {"p50_hours", "p90_hours", "n", "band"}
    assert set(g["rework_rate"]) >= {"value", "band"}
    assert g["lead_time"]["n"] == 1 and g["lead_time"]["suppressed"]  # one author < min_group_size 5
    assert set(g["previous"]) == {"start", "end", "deployments", "deployment_frequency", "change_fail_rate",
                                  "rework_rate", "lead_time", "recovery_time"}
    assert set(g["previous"]["lead_time"]) >= {"p50_hours", "n", "change", "ci95_change", "mde", "within_noise"}
    assert cli("delivery", "dora", "--from", START.isoformat(), "--to", END.isoformat()).exit_code == 0
    bad = cli("delivery", "dora", "--benchmark", "2019")
    assert bad.exit_code == 1


def test_table_shows_the_change_from_the_previous_period(store):
    from rich.console import Console

    from engmetrics.cli.delivery_dora import _table

    _stability_history(store)
    _previous_week(store)
    console = Console(width=300, record=True)
    console.print(_table(dora_metrics(store, DeliverySettings(), start=START, end=END, min_group_size=3), None,
                         "2024"))
    text = console.export_text()
    # per day 1.00 (+0.29 = 7/7 - 5/7); lead p50 2 h (-2 h, within noise); fail rate 43 % (+23 pt = 3/7 - 1/5)
    assert "1.00 elite (+0.29)" in text and "2.0 elite (-2.0 h noise)" in text and "43% low (+23 pt)" in text


def test_path_prefix_scopes_a_monorepo(store):
    change(store, "c-pay", T0 - 3 * H, author="p1", merged=T0 - H)
    change(store, "c-web", T0 - 5 * H, author="p2", merged=T0 - H)
    store.sql.execute("UPDATE changes SET merge_commit_sha = 'sha-' || change_id")
    store.sql.execute("INSERT INTO commit_files (sha, path, repo, author, committed_at) VALUES "
                      "('sha-c-pay', 'services/payments/app.py', 'shop', 'p1', ?), "
                      "('sha-c-web', 'web/index.ts', 'shop', 'p2', ?)", [T0 - H, T0 - H])
    deploy(store, "d1", T0, change_ids=["c-pay", "c-web"])
    deploy(store, "d-web-only", T0 + D, change_ids=["c-unknown"])
    [g] = metrics(store, scope=DoraScope(path_prefix="services/payments/"), min_group_size=1)
    # only c-pay (3 h from first commit to d1) counts; d-web-only shipped nothing in scope
    assert (g["deployments"], g["lead_time"]["n"], g["lead_time"]["p50_hours"]) == (1, 1, 3.0)


@pytest.mark.spark
@pytest.mark.slow
def test_dora_is_the_same_on_pyspark(store, spark_session):
    import ibis
    from ibis.backends.pyspark.datatypes import PySparkSchema

    _stability_history(store)
    change(store, "c1", T0 - 5 * H, author="p1", merged=T0 - H)
    spark = ibis.pyspark.connect(spark_session)
    for name in ("incidents", "deployments", "services", "changes", "commit_files"):
        table = store.table(name)  # an explicit schema: columns that are all null cannot be inferred
        rows = [tuple(r.values()) for r in table.to_pyarrow().to_pylist()]
        spark_session.createDataFrame(rows, schema=PySparkSchema.from_ibis(table.schema())) \
            .createOrReplaceTempView(name)
    on_spark = Store(spark, url="pyspark://")
    assert metrics(on_spark, min_group_size=1) == metrics(store, min_group_size=1)


def test_several_production_environments_ingest_and_count(store, tmp_path):
    from engmetrics.ingest import ingest_files

    path = tmp_path / "deployments.csv"
    path.write_text("deployment_id,service,environment,started_at,status\n"
                    "d1,api,production-eu,2026-03-02T10:00:00Z,success\n"
                    "d2,api,production-us,2026-03-02T11:00:00Z,success\n"
                    "d3,api,staging,2026-03-02T12:00:00Z,success\n")
    assert ingest_files(store, "deployments", [path]).inserted == 3  # environment names are free text
    assert metrics(store, ("production-eu", "production-us"))[0]["deployments"] == 2
