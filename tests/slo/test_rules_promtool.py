"""The generated rules load in Prometheus (`promtool check rules`) and, over counter series, record the error
ratios that engmetrics's own engine computes from the same samples (`promtool test rules`)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engmetrics.slo import bad_total, check_files, counter_increase, ratio_source
from engmetrics.slo.rules import prometheus_rules, rules_yaml
from engmetrics.store import Store

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: install the Debian package `prometheus` (`make` does)")

SLOTH_REFERENCES = ["getting-started.yml", "home-wifi.yml", "multifile.yml", "no-alerts.yml",
                    "openslo-getting-started.yml", "raw-home-wifi.yml"]

SPECS = """\
version: prometheus/v1
service: api
labels: {team: core}
slos:
  - name: availability
    objective: 99
    sli:
      events:
        error_query: sum(rate(http_requests_total{code="500"}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: ApiAvailability
      page_alert: {labels: {severity: critical}}
      ticket_alert: {labels: {severity: warning}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability-v1}
spec:
  service: api
  timeWindow: [{duration: 30d, isRolling: true}]
  budgetingMethod: Occurrences
  indicator:
    metadata: {name: api-ok}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code="200"}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: http_requests_total}}}
  objectives: [{target: 0.99}]
"""

# One sample a minute from 0m to 60m. Successes grow by 100 a minute. Errors grow by 1 a minute until 20m,
# by 5 a minute until 40m, then the counter resets (620 -> 100 at 41m) and grows by 30 a minute.
STEP = timedelta(minutes=1)
OK = [1000 + 100 * m for m in range(61)]
ERRORS = [500 + m for m in range(21)] + [520 + 5 * (m - 20) for m in range(21, 41)] + [
    100 + 30 * (m - 41) for m in range(41, 61)]
EPOCH = datetime(1970, 1, 1)  # promtool's input series start at time 0

# Evaluation at half minutes puts no sample on a range boundary, so a left-closed (Prometheus 2) and a
# left-open (Prometheus 3) range selector `[w]` at t hold the same samples: those in (t - w, t]. rate()
# only sees the increases between samples inside the range, so the first sample's own increase (from the
# sample before the range) is left out: the engine's buckets, which give each increase to the later
# sample, must cover [t - w + 1m, t). rate() then extrapolates, by a factor that depends only on the
# sample times (equal for every series here: same timestamps, and the counters are far enough from zero
# that the zero clamp never applies), so the factor cancels in error / total.
EVAL_TIMES = {"30m30s": timedelta(minutes=30, seconds=30), "42m30s": timedelta(minutes=42, seconds=30),
              "60m30s": timedelta(minutes=60, seconds=30)}
WINDOWS = {"5m": timedelta(minutes=5), "30m": timedelta(minutes=30), "1h": timedelta(hours=1)}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *map(str, args)], capture_output=True, text=True, timeout=60,
                          check=False)


def _write_rules(tmp_path: Path, *specs: Path) -> Path:
    report = check_files(specs)
    assert report.errors == []
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml(prometheus_rules(report.specs).groups))
    return path


@pytest.mark.parametrize("name", SLOTH_REFERENCES)
def test_promtool_accepts_rules_of_sloth_references(shared_data, tmp_path, name):
    checked = promtool("check", "rules", _write_rules(tmp_path, shared_data / "sloth" / name))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    if name == "multifile.yml":  # both services name their alerts alike, as the input does: a lint warning
        assert "lint error 2 duplicate rule(s) found" in checked.stderr
    else:
        assert "SUCCESS" in checked.stdout


def test_promtool_accepts_rules_of_an_slo_with_versions(tmp_path):
    """Several versions of one SLO give one set of groups: promtool refuses a repeated group name."""
    v1 = SPECS.split("---\n")[1]
    v2 = v1.replace("metadata: {name: availability-v1}", "metadata: {name: availability-v1, annotations: "
                    "{engmetrics.dev/effective-from: '2026-03-01'}}").replace("target: 0.99", "target: 0.995")
    spec = tmp_path / "spec.yaml"
    spec.write_text(v1 + "---\n" + v2)
    checked = promtool("check", "rules", _write_rules(tmp_path, spec))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 15 rules found" in checked.stdout  # 8 SLI and 7 meta recordings of one version


def test_promtool_refuses_broken_rules(tmp_path):
    """The check above can fail: a broken expression is reported."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPECS.replace('[{{.window}}]))\n        total', '[{{.window}}])\n        total', 1))
    checked = promtool("check", "rules", _write_rules(tmp_path, spec))
    assert checked.returncode != 0


# --- the engine's error ratios --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store() -> Store:
    """The same samples in engmetrics's `telemetry_samples`."""
    store = Store.open("duckdb://")
    rows = []
    for code, values in (("200", OK), ("500", ERRORS)):
        labels = json.dumps({"code": code})
        rows += [(f"http_requests_total{{code={code}}}", EPOCH + m * STEP, "http_requests_total", labels,
                  float(v), "test") for m, v in enumerate(values)]
    store.sql.executemany("INSERT INTO telemetry_samples (series, ts, metric, labels, value, source) "
                          "VALUES (?, ?, ?, ?, ?, ?)", rows)
    return store


def engine_error_ratio(store: Store, at: timedelta, window: timedelta, good_code: str | None = None) -> float:
    """1 - good / total over [at - window + 1m, at): from the errors (bad/total, the Sloth spec) or from the
    successes (`good_code`, the OpenSLO good/total spec)."""
    span = {"start": EPOCH + at - window + STEP, "end": EPOCH + at, "unit": "minute"}
    total = counter_increase(store, "http_requests_total", {}, **span)
    if good_code is None:
        rows = bad_total(counter_increase(store, "http_requests_total", {"code": "500"}, **span), total)
    else:
        rows = ratio_source(counter_increase(store, "http_requests_total", {"code": good_code}, **span), total)
    frame = rows.execute()
    return 1 - frame["good"].sum() / frame["total"].sum()


def test_engine_ratio_by_hand(store):
    # at 42m30s over 5m: errors grow 5, 5 (39m, 40m), 100 (reset at 41m), 30 (42m); successes 4 x 100
    assert engine_error_ratio(store, EVAL_TIMES["42m30s"], WINDOWS["5m"]) == pytest.approx(140 / 540)
    assert engine_error_ratio(store, EVAL_TIMES["42m30s"], WINDOWS["5m"], good_code="200") == pytest.approx(
        140 / 540)


# --- promtool test rules --------------------------------------------------------------------------------

def _labels(**labels: str) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _nano(ratio: float) -> int:
    """`round(ratio * 1e9)` as PromQL computes it (floor(x + 0.5)): promtool compares floats exactly, and
    Prometheus (rates, then their ratio) and the engine (1 - good/total) differ in the last bits."""
    return math.floor(ratio * 1e9 + 0.5)


def _ratio_tests(store: Store) -> list[dict[str, object]]:
    tests = []
    for slo, good_code, extra in (("availability", None, {"team": "core"}), ("availability-v1", "200", {})):
        for window, width in WINDOWS.items():
            labels = _labels(sloth_id=f"api-{slo}", sloth_service="api", sloth_slo=slo, sloth_window=window,
                             **extra)
            tests += [{
                "expr": f'round(slo:sli_error:ratio_rate{window}{{sloth_slo="{slo}"}} * 1e9)', "eval_time": at,
                "exp_samples": [{"labels": labels, "value": _nano(engine_error_ratio(store, t, width, good_code))}],
            } for at, t in EVAL_TIMES.items()]
    return tests


def _alert(severity: str, label: str) -> dict[str, object]:
    return {
        "exp_labels": {"severity": label, "sloth_severity": severity, "sloth_id": "api-availability",
                       "sloth_service": "api", "sloth_slo": "availability", "team": "core"},
        "exp_annotations": {
            "summary": "api availability SLO error budget burn rate is over expected.",
            "title": f"({severity}) api availability SLO error budget burn rate is too fast."},
    }


def test_promtool_records_the_engine_ratios_and_fires_alerts(tmp_path, store):
    spec = tmp_path / "specs.yaml"
    spec.write_text(SPECS)
    _write_rules(tmp_path, spec)
    series = " ".join(str(v) for v in ERRORS)
    by_hand = {  # 42m30s over 5m, counted in test_engine_ratio_by_hand: 140 errors of 540 requests
        "expr": 'round(slo:sli_error:ratio_rate5m{sloth_slo="availability"} * 1e9)', "eval_time": "42m30s",
        "exp_samples": [{"labels": _labels(sloth_id="api-availability", sloth_service="api",
                                           sloth_slo="availability", sloth_window="5m", team="core"),
                         "value": 259259259}]}
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "30s", "tests": [{
        "interval": "1m",
        "input_series": [{"series": 'http_requests_total{code="200"}', "values": " ".join(map(str, OK))},
                         {"series": 'http_requests_total{code="500"}', "values": series}],
        "promql_expr_test": [by_hand, *_ratio_tests(store)],
        "alert_rule_test": [
            # 10m: 1 error in 101 requests a minute, under the 1 % budget: nothing burns
            {"eval_time": "10m", "alertname": "ApiAvailability", "exp_alerts": []},
            # 60m30s: 5m 23 % and 1h 12 % (page quick needs both > 14.4 %: no), 30m 20 % and 6h 12 % (page
            # slow > 6 %: yes); 2h and 1d 12 % (ticket > 3 %: yes)
            {"eval_time": "60m30s", "alertname": "ApiAvailability",
             "exp_alerts": [_alert("page", "critical"), _alert("ticket", "warning")]},
        ],
    }]}
    path = tmp_path / "test.yml"
    path.write_text(json.dumps(test, indent=1))
    checked = promtool("test", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
