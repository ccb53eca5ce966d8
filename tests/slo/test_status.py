"""`slo_status`: hand-checked scenarios for each budgeting method, rolling and calendar windows, exclusions,
versions, zero traffic, and every alert tier firing and resetting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engmetrics.slo import check_files
from engmetrics.slo.status import slo_status, status_series
from engmetrics.store import Store


def _sli(service: str, indicator: str) -> str:
    return f"""
      ratioMetric:
        good: {{metricSource: {{type: engmetrics, spec: {{dataset: sli_events, service: {service},
                indicator: {indicator}, column: good}}}}}}
        total: {{metricSource: {{type: engmetrics, spec: {{dataset: sli_events, service: {service},
                 indicator: {indicator}, column: total}}}}}}"""


def slo_doc(name: str, service: str, indicator: str, *, target: float = 0.999, window: str = "30d",
            rolling: bool = True, method: str = "Occurrences", extra_objective: str = "", extra_spec: str = "",
            annotations: str = "") -> str:
    calendar = "" if rolling else "\n      calendar: {startTime: '2026-01-01 00:00:00', timeZone: UTC}"
    return f"""
apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}{annotations}
spec:
  service: {service}
  indicator:
    metadata: {{name: {name}-sli}}
    spec:{_sli(service, indicator)}
  timeWindow:
    - duration: {window}
      isRolling: {str(rolling).lower()}{calendar}
  budgetingMethod: {method}
  objectives:
    - displayName: main
      target: {target}{extra_objective}{extra_spec}
---"""


def specs_of(tmp_path: Path, *docs: str):
    path = tmp_path / "slos.yaml"
    path.write_text("\n".join(docs))
    report = check_files([path])
    assert report.errors == []
    return report.specs


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        yield s


def minutes(store: Store, service: str, indicator: str, start: datetime, count: int, per_minute: int,
            bad_from: int | None = None, bad_until: int | None = None, bad: float = 0) -> None:
    """`count` one-minute buckets of `per_minute` events from `start`; minutes [bad_from, bad_until) have
    `bad` bad events each (in the engine, one INSERT)."""
    lo, hi = (bad_from, bad_until) if bad_from is not None else (0, 0)
    store.sql.execute(f"""
        INSERT INTO sli_events SELECT '{service}', '{indicator}',
            TIMESTAMPTZ '{start.isoformat()}' + to_minutes(i::BIGINT),
            {per_minute} - CASE WHEN i >= {lo} AND i < {hi} THEN {bad} ELSE 0 END, {per_minute}
        FROM range(0, {count}) t(i)""")


def by_slo(report) -> dict[str, dict]:
    return {i["slo"]: i for i in report.items}


AT = datetime(2026, 1, 4, tzinfo=UTC)  # three days of history before it
DAY3 = 3 * 24 * 60


def test_each_alert_tier_fires_alone_and_the_short_window_resets_it(tmp_path, store):
    start = AT - timedelta(minutes=DAY3)
    # target 0.999, 30-day period: factors 14.4 (1h/5m), 6 (6h/30m), 3 (1d/2h), 1 (3d/6h); 1000 events/min
    # fast: the last hour at 2 % -> 1h and 5m burn 20 >= 14.4; 6h burn 20 x 60/360 = 3.33 < 6: page 1h/5m only
    minutes(store, "a", "fast", start, DAY3, 1000, DAY3 - 60, DAY3, 20)
    # slow: the last 6 h at 0.7 % -> burn 7 on 6h and 30m (>= 6), 1h 7 < 14.4; 1d 7 x 6/24 = 1.75 < 3;
    # 3d 7 x 6/72 = 0.58 < 1: page 6h/30m only
    minutes(store, "a", "slow", start, DAY3, 1000, DAY3 - 360, DAY3, 7)
    # day: the last day at 0.32 % -> 1d and 2h burn 3.2 >= 3 (6h 3.2 < 6); 3d 3.2/3 = 1.067 >= 1 and
    # 6h 3.2 >= 1: both tickets
    minutes(store, "a", "day", start, DAY3, 1000, DAY3 - 1440, DAY3, 3.2)
    # drip: three days at 0.12 % -> burn 1.2 everywhere: only ticket 3d/6h (1d 1.2 < 3)
    minutes(store, "a", "drip", start, DAY3, 1000, 0, DAY3, 1.2)
    specs = specs_of(tmp_path, *(slo_doc(n, "a", n) for n in ("fast", "slow", "day", "drip")))
    items = by_slo(slo_status(store, specs, AT))

    def firing(name: str) -> list[tuple[str, str, str]]:
        return [(a["severity"], a["long_window"], a["short_window"]) for a in items[name]["alerts"] if a["firing"]]

    assert firing("fast") == [("page", "1h", "5m")]
    assert items["fast"]["burn_rates"]["1h"] == pytest.approx(20)
    assert items["fast"]["burn_rates"]["6h"] == pytest.approx(20 / 6)
    assert firing("slow") == [("page", "6h", "30m")]
    assert items["slow"]["burn_rates"]["1d"] == pytest.approx(1.75)
    assert firing("day") == [("ticket", "1d", "2h"), ("ticket", "3d", "6h")]
    assert firing("drip") == [("ticket", "3d", "6h")]
    assert [a["factor"] for a in items["fast"]["alerts"]] == [14.4, 6.0, 3.0, 1.0]
    # the window holds 3 days (4,320 allowed bad events): day (4,608 bad) and drip (5,184) have overspent
    assert {n: i["state"] for n, i in items.items()} == {
        "fast": "warning", "slow": "warning", "day": "exhausted", "drip": "exhausted"}

    # Six minutes after the errors stop, the 5m window is clean: the fast page resets though 1h burns 18.
    minutes(store, "a", "fast", AT, 6, 1000)
    later = by_slo(slo_status(store, specs, AT + timedelta(minutes=6)))
    assert later["fast"]["burn_rates"]["5m"] == 0
    assert later["fast"]["burn_rates"]["1h"] == pytest.approx(20 * 54 / 60)
    assert not any(a["firing"] for a in later["fast"]["alerts"])


def test_occurrences_budget_numbers_and_time_to_exhaustion(tmp_path, store):
    # 3 days x 1440 min x 1000 = 4,320,000 events; the last hour has 20 bad per minute: 1,200 bad
    minutes(store, "a", "fast", AT - timedelta(minutes=DAY3), DAY3, 1000, DAY3 - 60, DAY3, 20)
    item = slo_status(store, specs_of(tmp_path, slo_doc("fast", "a", "fast")), AT).items[0]
    assert (item["good"], item["total"]) == (4_318_800, 4_320_000)
    assert item["error_budget"] == {"allowed": pytest.approx(4320), "consumed": 1200,
                                    "remaining": pytest.approx(1 - 1200 / 4320)}
    assert item["burn_rate"] == pytest.approx(1200 / 4320)
    # 1-day burn rate 1200 / 1440 / 1000 / 0.001 = 0.8333; 0.7222 of a 720 h budget lasts 0.7222 x 720 / 0.8333 h
    assert item["time_to_exhaustion_hours"] == pytest.approx((1 - 1200 / 4320) * 720 / (1200 / 1440), abs=1e-3)
    assert item["window"] == "30d" and item["window_start"] == "2025-12-05T00:00:00+00:00"


def _hours(store: Store, service: str, indicator: str, start: datetime, hours: int, per_hour: int,
           bad_by_day: dict[int, float]) -> None:
    """Hourly buckets; bad events are put in the first hour of the listed days (day 0 = `start`'s day)."""
    cases = " ".join(f"WHEN i = {day * 24} THEN {n}" for day, n in bad_by_day.items())
    store.sql.execute(f"""
        INSERT INTO sli_events SELECT '{service}', '{indicator}',
            TIMESTAMPTZ '{start.isoformat()}' + to_hours(i::BIGINT),
            {per_hour} - CASE {cases} ELSE 0 END, {per_hour} FROM range(0, {hours}) t(i)""")


def test_calendar_month_resets_at_the_boundary_and_rolling_does_not(tmp_path, store):
    # 100 events per hour from 2026-01-13; 50 bad on 31 January, 10 bad on 5 February
    start = datetime(2026, 1, 13, tzinfo=UTC)
    _hours(store, "a", "x", start, 28 * 24, 100, {18: 50, 23: 10})
    specs = specs_of(tmp_path, slo_doc("month", "a", "x", target=0.99, window="1M", rolling=False),
                     slo_doc("rolling", "a", "x", target=0.99, window="28d"))
    items = by_slo(slo_status(store, specs, datetime(2026, 2, 10, tzinfo=UTC)))
    month = items["month"]
    # February so far: 9 days x 24 h x 100 = 21,600 events, 10 bad; allowed 216
    assert month["window"] == "1M calendar" and month["window_start"] == "2026-02-01T00:00:00+00:00"
    assert (month["total"], month["error_budget"]["consumed"]) == (21_600, 10)
    assert month["error_budget"]["remaining"] == pytest.approx(1 - 10 / 216)
    # the February period is 28 days: the fast page factor is 0.02 x 672 h / 1 h
    assert month["alerts"][0]["factor"] == pytest.approx(13.44)
    rolling = items["rolling"]  # 13 January to 10 February: 67,200 events, 60 bad, allowed 672
    assert (rolling["total"], rolling["error_budget"]["consumed"]) == (67_200, 60)
    assert rolling["error_budget"]["remaining"] == pytest.approx(1 - 60 / 672)


SLICE_EXTRA = "\n      timeSliceTarget: 0.95\n      timeSliceWindow: 1m"


def test_timeslices_and_ratio_timeslices(tmp_path, store):
    at = datetime(2026, 1, 1, 1, tzinfo=UTC)
    # 60 minutes of 100 events; minutes 0-2 at 90 good (bad slices), minute 3 at 95 (exactly the slice target)
    minutes(store, "a", "x", at - timedelta(hours=1), 60, 100, 0, 3, 10)
    store.sql.execute("UPDATE sli_events SET good = 95 WHERE ts = TIMESTAMPTZ '2026-01-01 00:03:00+00'")
    specs = specs_of(tmp_path, slo_doc("slices", "a", "x", target=0.9, window="1h", method="Timeslices",
                                       extra_objective=SLICE_EXTRA),
                     slo_doc("ratios", "a", "x", target=0.9, window="1h", method="RatioTimeslices",
                             extra_objective="\n      timeSliceWindow: 1m"))
    items = by_slo(slo_status(store, specs, at, min_events=1))
    s = items["slices"]
    # 60 slices, 57 good (the 95 % minute is good); allowed 0.1 x 60 = 6; consumed 3
    assert (s["slices"], s["good_slices"], s["sli"]) == (60, 57, pytest.approx(0.95))
    assert s["error_budget"] == {"allowed": pytest.approx(6), "consumed": 3, "remaining": pytest.approx(0.5)}
    r = items["ratios"]
    # mean ratio (56 x 1 + 3 x 0.9 + 0.95) / 60 = 0.99417; consumed 60 x (1 - 0.99417) = 0.35; remaining 1 - 0.35/6
    assert r["sli"] == pytest.approx((56 + 2.7 + 0.95) / 60)
    assert r["error_budget"]["consumed"] == pytest.approx(0.35)
    assert r["error_budget"]["remaining"] == pytest.approx(1 - 0.35 / 6)
    # 5m window: slices 55-59, all good
    assert s["burn_rates"]["5m"] == 0


def test_maintenance_window_removes_events_and_reports_what_it_removed(tmp_path, store):
    start = AT - timedelta(days=1)
    # one day at 1000/min; minutes 600-629 are maintenance at 50 % errors; minutes 900-904 have 100 bad
    minutes(store, "a", "x", start, 1440, 1000, 600, 630, 500)
    store.sql.execute("UPDATE sli_events SET good = 900 WHERE ts >= TIMESTAMPTZ '2026-01-03 15:00:00+00' "
                      "AND ts < TIMESTAMPTZ '2026-01-03 15:05:00+00'")
    store.sql.execute("""INSERT INTO maintenance_windows VALUES
        ('mw-1', 'a', '2026-01-03 10:00:00+00', '2026-01-03 10:30:00+00', NULL, 'database upgrade', 'sre-lead'),
        ('mw-2', 'other', '2026-01-03 15:00:00+00', '2026-01-03 15:05:00+00', NULL, 'not ours', NULL)""")
    item = slo_status(store, specs_of(tmp_path, slo_doc("x", "a", "x", window="1d")), AT).items[0]
    # kept: 1,410,000 events, 500 bad; allowed 1,410; removed: 30,000 events of which 15,000 bad
    assert (item["total"], item["error_budget"]["consumed"]) == (1_410_000, 500)
    assert item["error_budget"]["remaining"] == pytest.approx(1 - 500 / 1410)
    assert item["excluded_events"] == 30_000
    [removed] = item["exclusions"]
    assert removed["source"] == "maintenance_windows:mw-1" and removed["reason"] == "database upgrade"
    assert (removed["total"], removed["bad"]) == (30_000, 15_000)
    assert removed["budget_removed"] == pytest.approx(15_000 / 1410)


def test_recurring_correction_in_the_spec(tmp_path, store):
    start = AT - timedelta(days=3)
    minutes(store, "a", "x", start, DAY3, 10, 0, DAY3, 1)  # 10 % bad everywhere
    correction = """
  corrections:
    - start: 2026-01-01 02:00:00
      duration: 1h
      rrule: FREQ=DAILY
      timeZone: Europe/Berlin
      reason: nightly batch"""
    item = slo_status(store, specs_of(tmp_path, slo_doc("x", "a", "x", window="3d", extra_spec=correction)),
                      AT).items[0]
    # 02:00-03:00 Berlin = 01:00-02:00 UTC on 1, 2 and 3 January: 180 minutes x 10 events removed
    assert item["excluded_events"] == 1800
    assert [(e["start"], e["total"]) for e in item["exclusions"]] == [
        ("2026-01-01T01:00:00+00:00", 600), ("2026-01-02T01:00:00+00:00", 600), ("2026-01-03T01:00:00+00:00", 600)]
    assert item["total"] == DAY3 * 10 - 1800


def test_version_change_judges_history_with_the_version_in_force(tmp_path, store):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _hours(store, "a", "x", start, 7 * 24, 1000, {d: 20 for d in range(7)})
    new = slo_doc("x", "a", "x", window="7d", target=0.999,
                  annotations="\n  annotations: {engmetrics.dev/effective-from: '2026-01-05'}")
    specs = specs_of(tmp_path, slo_doc("x", "a", "x", window="7d", target=0.99), new)
    item = slo_status(store, specs, datetime(2026, 1, 8, tzinfo=UTC)).items[0]
    # 1-4 Jan at 0.99: 96,000 events, 80 bad, allowed 960; 5-7 Jan at 0.999: 72,000 events, 60 bad, allowed 72
    assert item["target"] == 0.999 and item["version_since"] == "2026-01-05T00:00:00+00:00"
    assert item["error_budget"]["allowed"] == pytest.approx(1032)
    assert item["error_budget"]["consumed"] == 140
    assert item["error_budget"]["remaining"] == pytest.approx(1 - 140 / 1032)
    assert item["sli"] == pytest.approx(1 - 140 / 168_000)


def test_zero_and_low_traffic_are_insufficient_data_without_nan(tmp_path, store):
    minutes(store, "a", "low", AT - timedelta(minutes=50), 50, 1)  # 50 events < min_events 100
    specs = specs_of(tmp_path, slo_doc("empty", "a", "none"), slo_doc("low", "a", "low"))
    report = slo_status(store, specs, AT)
    items = by_slo(report)
    empty = items["empty"]
    assert empty["state"] == "insufficient_data"
    assert (empty["sli"], empty["burn_rate"], empty["error_budget"]["remaining"]) == (None, None, None)
    assert set(empty["burn_rates"].values()) == {None}
    assert not any(a["firing"] for a in empty["alerts"])
    assert items["low"]["state"] == "insufficient_data" and items["low"]["sli"] == 1.0
    json.dumps(report.items, allow_nan=False)  # no NaN or infinity anywhere


def test_sloth_and_prometheus_slos_are_listed_as_not_computed(tmp_path, store):
    sloth = """
version: prometheus/v1
service: api
slos:
  - name: availability
    objective: 99.9
    sli: {events: {error_query: 'e[{{.window}}]', total_query: 't[{{.window}}]'}}
---"""
    report = slo_status(store, specs_of(tmp_path, sloth), AT)
    assert report.items == []
    assert report.skipped == [("api-availability",
                               "a Sloth spec with Prometheus queries (see `engmetrics slo rules`)")]


def test_composite_journey_is_the_weighted_mean_of_its_objectives(tmp_path, store):
    at = datetime(2026, 1, 1, 1, tzinfo=UTC)
    minutes(store, "cart", "availability", at - timedelta(hours=1), 60, 1000, 0, 60, 1)  # SLI 0.999
    minutes(store, "pay", "availability", at - timedelta(hours=1), 60, 100, 0, 60, 1)  # SLI 0.99
    journey = f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: checkout-journey}}
spec:
  service: checkout
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - displayName: cart
      target: 0.999
      compositeWeight: 2
      indicator:
        metadata: {{name: cart-sli}}
        spec:{_sli("cart", "availability").replace(chr(10) + "  ", chr(10) + "      ")}
    - displayName: pay
      target: 0.995
      indicator:
        metadata: {{name: pay-sli}}
        spec:{_sli("pay", "availability").replace(chr(10) + "  ", chr(10) + "      ")}
"""
    items = slo_status(store, specs_of(tmp_path, journey), at, min_events=1).items
    assert [i["objective"] for i in items] == ["cart", "pay", "composite"]
    composite = items[2]
    # target (2 x 0.999 + 0.995) / 3 = 0.997667; SLI (2 x 0.999 + 0.99) / 3 = 0.996;
    # remaining 1 - 0.004 / 0.002333 = -0.714286
    assert composite["target"] == pytest.approx(2.993 / 3)
    assert composite["sli"] == pytest.approx(0.996)
    assert composite["error_budget"]["remaining"] == pytest.approx(1 - 0.004 / (1 - 2.993 / 3))
    assert composite["burn_rates"]["5m"] == pytest.approx(0.004 / (1 - 2.993 / 3))
    assert composite["state"] == "exhausted"
    assert [c["weight"] for c in composite["components"]] == [2.0, 1.0]


@pytest.mark.spark
@pytest.mark.slow
def test_status_is_the_same_on_pyspark(tmp_path, store, spark_session):
    import ibis

    start = AT - timedelta(days=1)
    minutes(store, "a", "x", start, 1440, 1000, 600, 630, 500)
    store.sql.execute("UPDATE sli_events SET good = 900 WHERE ts >= TIMESTAMPTZ '2026-01-03 15:00:00+00' "
                      "AND ts < TIMESTAMPTZ '2026-01-03 15:05:00+00'")
    store.sql.execute("""INSERT INTO maintenance_windows VALUES
        ('mw-1', 'a', '2026-01-03 10:00:00+00', '2026-01-03 10:30:00+00', NULL, 'database upgrade', 'sre-lead')""")
    new = slo_doc("x", "a", "x", window="1d", target=0.99,
                  annotations="\n  annotations: {engmetrics.dev/effective-from: '2026-01-03 12:00'}")
    specs = specs_of(tmp_path, slo_doc("x", "a", "x", window="1d"), new,
                     slo_doc("s", "a", "x", window="1d", method="Timeslices", extra_objective=SLICE_EXTRA),
                     slo_doc("r", "a", "x", window="1d", method="RatioTimeslices",
                             extra_objective="\n      timeSliceWindow: 5m"))
    spark = ibis.pyspark.connect(spark_session)
    for name in ("sli_events", "maintenance_windows"):
        spark_session.createDataFrame(store.table(name).to_pyarrow().to_pandas()).createOrReplaceTempView(name)
    on_duckdb = slo_status(store, specs, AT).items
    on_spark = slo_status(Store(spark, url="pyspark://"), specs, AT).items
    # 500 bad events after 15:00; five bad 1-minute slices; one 5-minute slice at 90 % (consumes 0.1)
    assert [i["error_budget"]["consumed"] for i in on_duckdb] == [500, 5, pytest.approx(0.1)]
    assert json.dumps(on_spark, sort_keys=True) == json.dumps(on_duckdb, sort_keys=True)


def test_a_correction_applies_only_while_its_version_is_in_force(tmp_path, store):
    minutes(store, "a", "x", AT - timedelta(days=1), 1440, 100, 600, 660, 10)  # 10:00-11:00 on 3 Jan, 600 bad
    correction = "\n  corrections:\n    - {start: 2026-01-03 10:00:00, duration: 1h, reason: load test}"
    old = slo_doc("x", "a", "x", window="1d", extra_spec=correction)
    new = slo_doc("x", "a", "x", window="1d", annotations="\n  annotations: {engmetrics.dev/effective-from: "
                  "'2026-01-03 10:30'}")
    item = slo_status(store, specs_of(tmp_path, old, new), AT).items[0]
    # the old version excludes 10:00-10:30 only (3,000 events, 300 bad); from 10:30 the new one counts all
    assert item["excluded_events"] == 3000
    assert item["error_budget"]["consumed"] == 300
    assert [(e["start"], e["end"]) for e in item["exclusions"]] == [
        ("2026-01-03T10:00:00+00:00", "2026-01-03T10:30:00+00:00")]


def test_a_correction_does_not_touch_another_slo_on_the_same_data(tmp_path, store):
    minutes(store, "a", "x", AT - timedelta(days=1), 1440, 100, 600, 660, 10)
    correction = "\n  corrections:\n    - {start: 2026-01-03 10:00:00, duration: 1h, reason: load test}"
    items = by_slo(slo_status(store, specs_of(tmp_path, slo_doc("corrected", "a", "x", window="1d",
                                                                  extra_spec=correction),
                                              slo_doc("plain", "a", "x", window="1d")), AT))
    assert (items["corrected"]["excluded_events"], items["corrected"]["error_budget"]["consumed"]) == (6000, 0)
    assert (items["plain"]["excluded_events"], items["plain"]["error_budget"]["consumed"]) == (0, 600)


def test_status_series_equals_status_at_each_instant(tmp_path, store):
    minutes(store, "a", "fast", AT - timedelta(minutes=DAY3), DAY3, 1000, DAY3 - 60, DAY3, 20)
    specs = specs_of(tmp_path, slo_doc("fast", "a", "fast", window="1d"),
                     slo_doc("slices", "a", "fast", window="1d", method="Timeslices", extra_objective=SLICE_EXTRA))
    instants = [AT - timedelta(hours=h) for h in (30, 12, 0.5, 0)]
    series = status_series(store, specs, instants)
    assert [r.items for r in series] == [slo_status(store, specs, t).items for t in instants]
    assert [r.items[0]["error_budget"]["consumed"] for r in series] == [0, 0, 600, 1200]


def _counter(store: Store, series: str, metric: str, labels: dict, start: datetime, values: list[float]) -> None:
    rows = [(series, start + timedelta(minutes=i), metric, json.dumps(labels), float(v), None)
            for i, v in enumerate(values)]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", rows)


def _telemetry(part: str, metric: str, selector: str, le: str = "") -> str:
    return (f"{part}: {{metricSource: {{type: engmetrics, spec: {{dataset: telemetry_samples, metric: {metric}, "
            f"selector: {selector}{le}}}}}}}")


def test_counter_and_histogram_indicators_from_telemetry(tmp_path, store):
    start = AT - timedelta(minutes=10)
    # request counters sampled each minute; the 5xx series resets at minute 6 (a restart)
    _counter(store, "ok", "http_requests_total", {"code": "200"}, start, [0, 100, 200, 300, 400, 500, 600])
    _counter(store, "err", "http_requests_total", {"code": "503"}, start, [0, 1, 2, 3, 10, 12, 1])
    # a latency histogram: buckets le="0.5", le="1.0" (written as 1 in the spec) and +Inf
    for le, values in (("0.5", [0, 50, 100]), ("1.0", [0, 90, 180]), ("+Inf", [0, 100, 200])):
        _counter(store, f"lat{le}", "latency_seconds_bucket", {"le": le}, start, values)
    errors = f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: errors}}
spec:
  service: api
  indicator:
    metadata: {{name: errors-sli}}
    spec:
      ratioMetric:
        counter: true
        {_telemetry("bad", "http_requests_total", '{code: "5.."}')}
        {_telemetry("total", "http_requests_total", "{}")}
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{target: 0.99}}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: latency}}
spec:
  service: api
  indicator:
    metadata: {{name: latency-sli}}
    spec:
      ratioMetric:
        counter: true
        {_telemetry("good", "latency_seconds_bucket", "{}", ", le: 1")}
        {_telemetry("total", "latency_seconds_bucket", "{}", ", le: .inf")}
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{target: 0.9}}]
"""
    items = by_slo(slo_status(store, specs_of(tmp_path, errors), AT, min_events=1))
    # ok increases 6 x 100 = 600; 5xx increases 1+1+1+7+2 then a reset to 1 (counts 1): 13; total 613
    assert (items["errors"]["total"], items["errors"]["error_budget"]["consumed"]) == (613, 13)
    # le=1.0 increases 90 + 90 = 180 of 200
    assert (items["latency"]["good"], items["latency"]["total"]) == (180, 200)
    assert items["latency"]["sli"] == pytest.approx(0.9)


def test_a_star_window_applies_to_every_service(tmp_path, store):
    minutes(store, "a", "x", AT - timedelta(hours=1), 60, 100, 0, 10, 50)
    minutes(store, "b", "x", AT - timedelta(hours=1), 60, 100, 0, 10, 50)
    store.sql.execute("""INSERT INTO maintenance_windows VALUES
        ('mw-all', '*', '2026-01-03 23:00:00+00', '2026-01-03 23:10:00+00', NULL, 'network change', NULL)""")
    items = by_slo(slo_status(store, specs_of(tmp_path, slo_doc("a", "a", "x", window="1h"),
                                              slo_doc("b", "b", "x", window="1h")), AT))
    # both services lose minutes 0-9 (1,000 events, 500 bad) and keep 5,000 perfect events
    assert [(i["total"], i["error_budget"]["consumed"], i["excluded_events"]) for i in items.values()] == [
        (5000, 0, 1000), (5000, 0, 1000)]


SEVEN_DAY_WINDOWS = """
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec:
  sloPeriod: 7d
  page:
    quick: {errorBudgetPercent: 8, shortWindow: 5m, longWindow: 1h}
    slow: {errorBudgetPercent: 12.5, shortWindow: 30m, longWindow: 6h}
  ticket:
    quick: {errorBudgetPercent: 20, shortWindow: 2h, longWindow: 1d}
    slow: {errorBudgetPercent: 42, shortWindow: 6h, longWindow: 3d}
---"""


def test_alert_table_by_period_or_by_annotation(tmp_path, store):
    minutes(store, "a", "x", AT - timedelta(hours=1), 60, 100)
    named = slo_doc("named", "a", "x", window="28d",
                    annotations="\n  annotations: {engmetrics.dev/alert-windows: alert-windows-7d}")
    specs = specs_of(tmp_path, SEVEN_DAY_WINDOWS, slo_doc("week", "a", "x", window="7d"), named,
                     slo_doc("month", "a", "x", window="28d"))
    items = by_slo(slo_status(store, specs, AT))
    # the 7d table's fast page: 8 % of a 7-day budget in 1 h = 0.08 x 168 = 13.44; scaled to 28 days: 53.76
    assert (items["week"]["alert_table"], items["week"]["alerts"][0]["factor"]) == ("alert-windows-7d", 13.44)
    assert (items["named"]["alert_table"], items["named"]["alerts"][0]["factor"]) == ("alert-windows-7d", 53.76)
    assert (items["month"]["alert_table"], items["month"]["alerts"][0]["factor"]) == ("default", 13.44)
    unknown = slo_doc("typo", "a", "x", annotations="\n  annotations: {engmetrics.dev/alert-windows: nope}")
    report = slo_status(store, specs_of(tmp_path, unknown), AT)
    assert report.skipped == [("typo", "engmetrics.dev/alert-windows: no AlertWindows document named 'nope'")]


def test_review_edge_cases(tmp_path, store):
    """A maintenance window of the SLO's service over data of another service; a calendar period's first
    instant keeps its burn rates; an exactly spent budget is exhausted; tiers longer than the period go."""
    start = datetime(2026, 1, 31, tzinfo=UTC)
    minutes(store, "payments", "x", start, 1440, 1000, 1380, 1440, 50)  # the last hour at 5 %
    store.sql.execute("""INSERT INTO maintenance_windows VALUES
        ('mw', 'checkout', '2026-01-31 00:00:00+00', '2026-01-31 01:00:00+00', NULL, 'upgrade', NULL)""")
    specs = specs_of(tmp_path, slo_doc("borrowed", "checkout", "x", window="1d").replace(
        "service: checkout\n  indicator:", "service: checkout\n  indicator:").replace(
        "service: checkout,\n", "service: payments,\n"),
                     slo_doc("month", "payments", "x", window="1M", rolling=False),
                     slo_doc("hour", "payments", "x", window="1h", target=0.9))
    items = by_slo(slo_status(store, specs, datetime(2026, 2, 1, tzinfo=UTC)))
    # the checkout window removes the first hour of payments' data for the checkout SLO: 60,000 events
    assert items["borrowed"]["excluded_events"] == 60_000
    # 1 February 00:00: the month's window is empty, but the last hour burned at 50: the fast page fires
    assert items["month"]["state"] == "insufficient_data" and items["month"]["burn_rates"]["1h"] == pytest.approx(50)
    assert items["month"]["alerts"][0]["firing"]
    # a 1-hour SLO keeps only the tiers whose long window fits in an hour: the fast page
    assert [(a["long_window"], a["short_window"]) for a in items["hour"]["alerts"]] == [("1h", "5m")]
    # target 0.9 over the last hour: 3,000 bad of 60,000 allowed 6,000: remaining 0.5
    assert items["hour"]["error_budget"]["remaining"] == pytest.approx(0.5)


def test_exactly_spent_is_exhausted_and_calendar_exhaustion_projection(tmp_path, store):
    at = datetime(2026, 1, 4, tzinfo=UTC)
    # 1-3 January at 1000/min: days 1-2 perfect, day 3 at 0.15 % (burn 1.5 on target 0.999)
    minutes(store, "a", "x", datetime(2026, 1, 1, tzinfo=UTC), 3 * 1440, 1000, 2 * 1440, 3 * 1440, 1.5)
    minutes(store, "b", "x", at - timedelta(minutes=1000), 1000, 1, 0, 10, 1)  # 10 bad of 1000 at 0.99
    specs = specs_of(tmp_path, slo_doc("month", "a", "x", window="1M", rolling=False),
                     slo_doc("spent", "b", "x", window="1d", target=0.99))
    items = by_slo(slo_status(store, specs, at, min_events=1))
    assert items["spent"]["error_budget"]["remaining"] == 0 and items["spent"]["state"] == "exhausted"
    month = items["month"]
    # allowed 4,320, consumed 2,160: remaining 0.5; the budget grows 60/h, bad events 90/h: 2,160 / 30 = 72 h
    assert month["error_budget"]["remaining"] == pytest.approx(0.5)
    assert month["time_to_exhaustion_hours"] == pytest.approx(72)


def test_an_slo_with_one_uncomputable_objective_is_skipped_whole(tmp_path, store):
    mixed = slo_doc("mixed", "a", "x", extra_objective="""
    - displayName: from prometheus
      target: 0.99
      indicator:
        metadata: {name: prom}
        spec:
          ratioMetric:
            good: {metricSource: {type: Prometheus, spec: {query: good}}}
            total: {metricSource: {type: Prometheus, spec: {query: total}}}""")
    report = slo_status(store, specs_of(tmp_path, mixed), AT)
    assert report.items == [] and [name for name, _ in report.skipped] == ["mixed"]


def test_a_composite_ignores_members_without_events(tmp_path, store):
    at = datetime(2026, 1, 1, 1, tzinfo=UTC)
    minutes(store, "cart", "availability", at - timedelta(hours=1), 60, 1000, 0, 60, 1)  # SLI 0.999
    journey = f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: journey}}
spec:
  service: checkout
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - displayName: cart
      target: 0.99
      indicator:
        metadata: {{name: cart-sli}}
        spec:{_sli("cart", "availability").replace(chr(10) + "  ", chr(10) + "      ")}
    - displayName: pay
      target: 0.9
      indicator:
        metadata: {{name: pay-sli}}
        spec:{_sli("pay", "availability").replace(chr(10) + "  ", chr(10) + "      ")}
"""
    composite = slo_status(store, specs_of(tmp_path, journey), at, min_events=1).items[-1]
    # pay has no events: the composite is cart's alone: 1 - 0.001 / 0.01 = 0.9
    assert composite["error_budget"]["remaining"] == pytest.approx(0.9)


def test_versions_must_keep_the_budgeting_method(tmp_path):
    path = tmp_path / "slos.yaml"
    path.write_text(slo_doc("x", "a", "x") + slo_doc(
        "x", "a", "x", method="Timeslices", extra_objective=SLICE_EXTRA,
        annotations="\n  annotations: {engmetrics.dev/effective-from: '2026-01-03'}"))
    [issue] = check_files([path]).errors
    assert (issue.rule, issue.line) == ("version", 42)  # the second budgetingMethod
    assert "budgetingMethod Timeslices differs from Occurrences" in issue.message


def test_zero_durations_and_calendar_slices_are_spec_errors(tmp_path):
    path = tmp_path / "slos.yaml"
    path.write_text(slo_doc("zero", "a", "x", window="0d") + slo_doc(
        "monthly-slices", "a", "x", method="Timeslices",
        extra_objective="\n      timeSliceTarget: 0.9\n      timeSliceWindow: 1M"))
    messages = [(i.metric, i.message) for i in check_files([path]).errors]
    assert [m for m, _ in messages] == ["zero", "monthly-slices"]
    assert "String should match pattern" in messages[0][1] and "timeWindow.0.duration" in messages[0][1]
    assert "timeSliceWindow" in messages[1][1]


def test_a_maintenance_rrule_without_a_zone_is_a_clear_error(tmp_path, store):
    store.sql.execute("""INSERT INTO maintenance_windows VALUES ('mw-9', 'a', '2026-01-03 02:00:00+00',
        '2026-01-03 03:00:00+00', 'DTSTART:20260103T020000' || chr(10) || 'RRULE:FREQ=DAILY', 'nightly', NULL)""")
    with pytest.raises(ValueError, match=r"maintenance window mw-9: invalid rrule .* has no time zone"):
        slo_status(store, specs_of(tmp_path, slo_doc("x", "a", "x")), AT)
