"""`engmetrics.slo.rules`: the same rules as Sloth's generated examples, and the OpenSLO and windows cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.slo import check_files
from engmetrics.slo.rules import RuleSlo, go_float, prometheus_rules, rules_yaml

SLOTH_REFERENCES = ["getting-started.yml", "home-wifi.yml", "multifile.yml", "no-alerts.yml",
                    "openslo-getting-started.yml", "raw-home-wifi.yml"]
# Added by Sloth's example generator (`cmd`) or naming the generating tool (`sloth_version`).
IGNORED_LABELS = {"cmd", "sloth_version"}


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule with whitespace runs in `expr` collapsed and the tool-specific labels left out."""
    labels = {k: v for k, v in rule.get("labels", {}).items() if k not in IGNORED_LABELS}
    return {**rule, "expr": " ".join(rule["expr"].split()), "labels": labels}


def _structure(groups: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(g["name"], [_rule(r) for r in g["rules"]]) for g in groups]


def _sloth_groups(path: Path) -> list[dict[str, Any]]:
    """Every group of a Sloth output file (one document per input document)."""
    return [g for doc in yaml.safe_load_all(path.read_text()) if doc for g in doc["groups"]]


def _generate(*paths: Path) -> list[dict[str, Any]]:
    report = check_files(paths)
    assert report.errors == []
    result = prometheus_rules(report.specs)
    assert result.issues == []
    return yaml.safe_load(rules_yaml(result.groups))["groups"]


def test_every_sloth_reference_is_covered(shared_data):
    assert sorted(p.name for p in (shared_data / "sloth" / "_gen").glob("*.yml")) == SLOTH_REFERENCES


@pytest.mark.parametrize("name", SLOTH_REFERENCES)
def test_same_rules_as_sloth(shared_data, name):
    ours = _generate(shared_data / "sloth" / name)
    theirs = _sloth_groups(shared_data / "sloth" / "_gen" / name)
    assert _structure(ours) == _structure(theirs)
    # Not only equal up to whitespace: the expressions are Sloth's, character for character.
    assert [r["expr"] for g in ours for r in g["rules"]] == [r["expr"] for g in theirs for r in g["rules"]]
    versions = {r["labels"]["sloth_version"] for g in ours for r in g["rules"] if r.get("record") == "sloth_slo_info"}
    assert versions == {"engmetrics-0.1.0"}


def test_comparison_sees_a_changed_factor(shared_data):
    ours = _generate(shared_data / "sloth" / "getting-started.yml")
    theirs = _sloth_groups(shared_data / "sloth" / "_gen" / "getting-started.yml")
    ours[2]["rules"][0]["expr"] = ours[2]["rules"][0]["expr"].replace("(14.4 *", "(14.40 *")
    assert _structure(ours) != _structure(theirs)


@pytest.mark.parametrize(("value", "text"), [
    (99.9 / 100, "0.9990000000000001"), ((100 - 99.99) / 100, "0.00010000000000005117"), (14.4, "14.4"),
    (6.0, "6"), (0.1 + 0.2, "0.30000000000000004"), (1e-05, "1e-05"), (123456789.0, "123456789"),
    (1e21, "1e+21"), (28.0, "28"),
])
def test_go_float(value, text):
    assert go_float(value) == text


SLOTH_SPEC = """\
version: prometheus/v1
service: api
labels: {team: core}
slos:
  - name: availability
    objective: 99.9
    labels: {tier: "1"}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: ApiAvailability
      labels: {category: availability}
      annotations: {runbook: https://runbooks/api}
      page_alert: {disable: true}
      ticket_alert: {labels: {severity: warning}, annotations: {summary: slow burn}}
"""
CUSTOM_30D = """\
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec:
  sloPeriod: 30d
  page:
    quick: {errorBudgetPercent: 1, shortWindow: 2m, longWindow: 30m}
    slow: {errorBudgetPercent: 2, shortWindow: 15m, longWindow: 3h}
  ticket:
    quick: {errorBudgetPercent: 5, shortWindow: 1h, longWindow: 12h}
    slow: {errorBudgetPercent: 5, shortWindow: 3h, longWindow: 36h}
"""


def _rules(*texts: str, tmp_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"spec{i}.yaml")
        paths[-1].write_text(text)
    report = check_files(paths, tmp_path)
    assert report.errors == []
    result = prometheus_rules(report.specs)
    return yaml.safe_load(rules_yaml(result.groups))["groups"], [str(i) for i in result.issues]


def _by_name(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r.get("record") or r["alert"] + ":" + r["labels"]["sloth_severity"]: r
            for g in groups for r in g["rules"]}


def test_disabled_page_alert_and_labels(tmp_path):
    groups, issues = _rules(SLOTH_SPEC, tmp_path=tmp_path)
    assert issues == []
    rules = _by_name(groups)
    assert "ApiAvailability:page" not in rules
    ticket = rules["ApiAvailability:ticket"]
    assert ticket["labels"] == {"category": "availability", "severity": "warning", "sloth_severity": "ticket"}
    assert ticket["annotations"] == {
        "runbook": "https://runbooks/api", "summary": "slow burn",
        "title": "(ticket) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast."}
    assert rules["slo:sli_error:ratio_rate5m"]["labels"] == {
        "team": "core", "tier": "1", "sloth_id": "api-availability", "sloth_service": "api",
        "sloth_slo": "availability", "sloth_window": "5m"}
    assert rules["slo:sli_error:ratio_rate5m"]["expr"] == (
        '(sum(rate(http_requests_total{code=~"5.."}[5m])))\n/\n(sum(rate(http_requests_total[5m])))\n')


def test_custom_alert_windows_for_the_period(tmp_path):
    groups, _ = _rules(SLOTH_SPEC.replace("page_alert: {disable: true}", "page_alert: {}"), CUSTOM_30D,
                       tmp_path=tmp_path)
    sli = [r["record"] for r in groups[0]["rules"]]
    assert sli == [f"slo:sli_error:ratio_rate{w}" for w in ("2m", "15m", "30m", "1h", "3h", "12h", "36h", "30d")]
    rules = _by_name(groups)
    assert "slo:sli_error:ratio_rate2m{" in rules["slo:sli_error:ratio_rate30d"]["expr"]
    assert "slo:sli_error:ratio_rate2m{" in rules["slo:current_burn_rate:ratio"]["expr"]
    # page: 1 % of 30 d in 30 m -> 0.01 x 720 h / 0.5 h = 14.4; 2 % in 3 h -> 4.8; ticket 5 % in 12 h / 36 h
    page = rules["ApiAvailability:page"]["expr"]
    assert "ratio_rate2m{" in page and "(14.4 * 0.0009999999999999432)" in page
    assert "ratio_rate15m{" in page and "(4.8 * 0.0009999999999999432)" in page
    ticket = rules["ApiAvailability:ticket"]["expr"]
    assert "(3 * 0.0009999999999999432)" in ticket and "(1 * 0.0009999999999999432)" in ticket


OPENSLO_V1 = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout, labels: {team: payments, tags: [a, b]}}
spec:
  service: shop
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: prometheus, spec: {query: 'http_requests_total{code!~"5.."}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: http_requests_total}}}
  objectives:
    - {displayName: fast, targetPercent: 99.5}
    - {displayName: strict, target: 0.999}
"""
SEVEN_DAYS = CUSTOM_30D.replace("sloPeriod: 30d", "sloPeriod: 7d")


def test_openslo_v1_prometheus_sources(tmp_path):
    groups, issues = _rules(OPENSLO_V1, tmp_path=tmp_path)
    assert issues == []
    names = [g["name"] for g in groups]
    assert names == ["sloth-slo-sli-recordings-shop-checkout-0", "sloth-slo-meta-recordings-shop-checkout-0",
                     "sloth-slo-sli-recordings-shop-checkout-1", "sloth-slo-meta-recordings-shop-checkout-1"]
    first = groups[0]["rules"][0]
    assert first["expr"] == ('(\n  1 - (\n    (\n      sum(rate(http_requests_total{code!~"5.."}[5m]))\n    )\n'
                             '    /\n    (\n      sum(rate(http_requests_total[5m]))\n    )\n  )\n)')
    assert first["labels"] == {"team": "payments", "sloth_id": "shop-checkout-0", "sloth_service": "shop",
                               "sloth_slo": "checkout-0", "sloth_window": "5m"}
    assert groups[1]["rules"][0]["expr"] == "vector(0.995)"
    assert groups[3]["rules"][0]["expr"] == "vector(0.9990000000000001)"  # 0.999 x 100 / 100, as Sloth
    assert groups[1]["rules"][2]["expr"] == "vector(7)"
    assert groups[0]["rules"][-1]["record"] == "slo:sli_error:ratio_rate7d"


def test_openslo_v1_single_objective_bad_total_and_period_table(tmp_path):
    spec = OPENSLO_V1.replace("good: {", "bad: {").replace("    - {displayName: strict, target: 0.999}\n", "")
    groups, _ = _rules(spec, SEVEN_DAYS, tmp_path=tmp_path)
    assert groups[0]["name"] == "sloth-slo-sli-recordings-shop-checkout"
    assert groups[0]["rules"][0]["record"] == "slo:sli_error:ratio_rate2m"  # the 7d AlertWindows table
    assert groups[0]["rules"][0]["expr"] == (
        '(sum(rate(http_requests_total{code!~"5.."}[2m])))\n/\n(sum(rate(http_requests_total[2m])))\n')
    assert len(groups) == 2  # OpenSLO SLOs get no alerts, as in Sloth


@pytest.mark.parametrize(("change", "reason"), [
    (("type: prometheus", "type: Datadog"), "metric source type 'Datadog' is not Prometheus"),
    (("query: http_requests_total}", "query: 'rate(x[5m])'}"),
     "has no {{.window}} and is not a plain counter selector"),
    (("isRolling: true", "isRolling: false"), "calendar-aligned time window"),
    (("Occurrences", "RatioTimeslices"), "RatioTimeslices budgets count time slices"),
])
def test_openslo_v1_skipped_with_a_warning(tmp_path, change, reason):
    spec = OPENSLO_V1.replace(*change).replace("    - {displayName: strict, target: 0.999}\n", "")
    if "Timeslices" in change[1]:
        spec = spec.replace("targetPercent: 99.5", "targetPercent: 99.5, timeSliceWindow: 1m")
    groups, issues = _rules(spec, tmp_path=tmp_path)
    assert groups == []
    assert len(issues) == 1 and reason in issues[0] and issues[0].startswith("spec0.yaml:")


def test_engmetrics_sources_are_skipped_silently(tmp_path):
    spec = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: checkout
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  indicator:
    metadata: {name: availability}
    spec:
      ratioMetric:
        good: {metricSource: {type: engmetrics, spec: {dataset: sli_events, service: checkout,
                                                       indicator: availability, column: good}}}
        total: {metricSource: {type: engmetrics, spec: {dataset: sli_events, service: checkout,
                                                        indicator: availability, column: total}}}
  objectives: [{target: 0.99}]
"""
    assert _rules(spec, tmp_path=tmp_path) == ([], [])


def test_sloth_plugin_is_skipped_with_a_warning(tmp_path):
    spec = SLOTH_SPEC.replace(
        """events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))""",
        "plugin: {id: sloth-common/availability}")
    groups, issues = _rules(spec, tmp_path=tmp_path)
    assert groups == []
    assert issues == ["spec0.yaml:9: WARNING [rules] availability: no Prometheus rules: plugin SLI "
                      "'sloth-common/availability': plugins are not expanded"]


# One SLO in three versions: 99.5 % since always, 99.9 % from 1 March 2026, 99.99 % from 2099 (not yet).
SINGLE = OPENSLO_V1.replace("    - {displayName: strict, target: 0.999}\n", "")
VERSIONED = "---\n".join([
    SINGLE,
    SINGLE.replace("metadata: {name: checkout,", "metadata: {name: checkout, annotations: "
                   "{engmetrics.dev/effective-from: '2026-03-01'},").replace("targetPercent: 99.5", "target: 0.999"),
    SINGLE.replace("metadata: {name: checkout,", "metadata: {name: checkout, annotations: "
                   "{engmetrics.dev/effective-from: '2099-01-01'},").replace("targetPercent: 99.5", "target: 0.9999"),
])


def _rules_at(now: datetime, *texts: str, tmp_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"spec{i}.yaml")
        paths[-1].write_text(text)
    report = check_files(paths, tmp_path)
    assert report.errors == []
    result = prometheus_rules(report.specs, now=now)
    return yaml.safe_load(rules_yaml(result.groups))["groups"], [str(i) for i in result.issues]


def test_versions_give_the_rules_of_the_version_in_force_only(tmp_path):
    groups, issues = _rules_at(datetime(2026, 6, 1, tzinfo=UTC), VERSIONED, tmp_path=tmp_path)
    assert issues == []
    # one set of groups (promtool refuses a repeated group name), from the 1 March 2026 version: 99.9 %
    assert [g["name"] for g in groups] == ["sloth-slo-sli-recordings-shop-checkout",
                                           "sloth-slo-meta-recordings-shop-checkout"]
    assert groups[1]["rules"][0]["expr"] == "vector(0.9990000000000001)"
    before, _ = _rules_at(datetime(2026, 2, 28, 23, 59, tzinfo=UTC), VERSIONED, tmp_path=tmp_path)
    assert [g["name"] for g in before] == [g["name"] for g in groups]
    assert before[1]["rules"][0]["expr"] == "vector(0.995)"  # the first version, still in force


def test_an_slo_with_no_version_in_force_yet_is_skipped_with_a_warning(tmp_path):
    future = VERSIONED.split("---\n", 1)[1]  # only the 2026-03-01 and 2099 versions
    groups, issues = _rules_at(datetime(2026, 2, 1, tzinfo=UTC), future, tmp_path=tmp_path)
    assert groups == []
    assert len(issues) == 1
    assert ("WARNING [rules] checkout: no Prometheus rules: no version is in force yet (the first takes effect "
            "2026-03-01T00:00:00+00:00)") in issues[0]


def test_the_alert_windows_annotation_chooses_the_table(tmp_path):
    # A 7-day SLO naming the 30-day AlertWindows document: its table, not the default (5m first)
    named = SINGLE.replace("metadata: {name: checkout,", "metadata: {name: checkout, annotations: "
                           "{engmetrics.dev/alert-windows: alert-windows-30d},")
    groups, issues = _rules(named, CUSTOM_30D, tmp_path=tmp_path)
    assert issues == []
    assert [r["record"] for r in groups[0]["rules"]] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("2m", "15m", "30m", "1h", "3h", "12h", "36h", "7d")]
    groups, issues = _rules(named, tmp_path=tmp_path)  # no such document: skipped with a warning
    assert groups == []
    assert len(issues) == 1 and "engmetrics.dev/alert-windows: no AlertWindows document named " \
        "'alert-windows-30d'" in issues[0]


def test_rule_slo_id():
    assert RuleSlo("api", "latency", 99.0, "(q)", 86400, "prometheus/v1").id == "api-latency"


# --- the command ----------------------------------------------------------------------------------------

def _invoke(ws: Path, *args: str, monkeypatch: pytest.MonkeyPatch):
    return CliRunner().invoke(app, ["-w", str(ws), "slo", "rules", *args])


def test_command_writes_rules(tmp_path, monkeypatch):
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "api.yaml").write_text(SLOTH_SPEC)
    out = tmp_path / "rules" / "slos.yml"
    result = _invoke(tmp_path, "--out", str(out), monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "Wrote 3 rule groups" in result.stdout
    assert yaml.safe_load(out.read_text())["groups"][0]["name"] == "sloth-slo-sli-recordings-api-availability"
    printed = _invoke(tmp_path, monkeypatch=monkeypatch)
    assert printed.exit_code == 0 and printed.stdout == out.read_text()


def test_command_refuses_specs_with_errors(tmp_path, monkeypatch):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SLOTH_SPEC.replace("objective: 99.9", "objective: 120"))
    result = _invoke(tmp_path, str(spec), "--out", str(tmp_path / "out.yml"), monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert "1 error(s) in the SLO specs: no rules written" in result.output
    assert not (tmp_path / "out.yml").exists()
