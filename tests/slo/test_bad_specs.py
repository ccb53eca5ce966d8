"""Hand-written bad specs: each problem is reported as an Issue naming the right file and line."""

from __future__ import annotations

import pytest

from engmetrics.errors import ValidationFailed
from engmetrics.slo import check_files, check_slos, load_slos
from engmetrics.slo.openslo import SLO

GOOD = """\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: checkout-availability
spec:
  ratioMetric:
    good:
      metricSource:
        type: engmetrics
        spec: {dataset: sli_events, service: checkout, indicator: availability, column: good}
    total:
      metricSource:
        type: engmetrics
        spec: {dataset: sli_events, service: checkout, indicator: availability, column: total}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: checkout
  indicatorRef: checkout-availability
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Available
      target: 0.999
"""
SLO_LINE = GOOD.splitlines().index("kind: SLO") + 1


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based line of the first line containing `needle` after line `start`."""
    lines = text.splitlines()
    return next(n for n, line in enumerate(lines, 1) if n > start and needle in line)


def errors(path):
    return [(i.rule, i.line) for i in check_files([path]).errors]


def test_good_spec_is_clean(spec):
    report = check_files([spec(GOOD)])
    assert report.issues == []
    slo = report.specs.slos[0]
    assert slo.line == SLO_LINE - 1  # a document's line is that of its first key
    assert slo.line_of("spec", "objectives", 0) == line_of(GOOD, "- displayName: Available")
    sli = report.specs.indicator(slo.model)
    assert sli.ratioMetric.good.metricSource.spec.column == "good"


def test_wrong_kind(spec):
    text = GOOD.replace("kind: SLO", "kind: ServiceLevelObjective")
    [issue] = check_files([spec(text)]).issues
    assert (issue.rule, issue.line, issue.metric) == ("schema", SLO_LINE, "checkout-availability")
    assert "unknown kind 'ServiceLevelObjective'" in issue.message
    assert issue.file.endswith("spec.yaml")


def test_wrong_api_version(spec):
    text = GOOD.replace("apiVersion: openslo/v1\nkind: SLO", "apiVersion: openslo/v2\nkind: SLO")
    assert errors(spec(text)) == [("schema", SLO_LINE - 1)]


def test_target_above_one(spec):
    text = GOOD.replace("target: 0.999", "target: 99.9")
    [issue] = check_files([spec(text)]).issues
    assert (issue.rule, issue.line) == ("model", line_of(text, "target: 99.9"))
    assert "spec.objectives.0.target" in issue.message and "less than 1" in issue.message


def test_target_percent_is_target(spec):
    text = GOOD.replace("target: 0.999", "targetPercent: 99.9")
    report = check_files([spec(text)])
    assert report.issues == []
    objective = report.specs.slos[0].model.spec.objectives[0]
    assert objective.target == pytest.approx(0.999)
    assert objective.targetPercent == 99.9


def test_target_and_target_percent_together(spec):
    text = GOOD.replace("target: 0.999", "target: 0.999\n      targetPercent: 99.9")
    assert errors(spec(text)) == [("model", line_of(text, "- displayName: Available"))]


def test_target_percent_above_hundred(spec):
    text = GOOD.replace("target: 0.999", "targetPercent: 100.5")
    assert errors(spec(text)) == [("model", line_of(text, "targetPercent"))]


def test_unknown_budgeting_method(spec):
    text = GOOD.replace("budgetingMethod: Occurrences", "budgetingMethod: Occurrence")
    [issue] = check_files([spec(text)]).issues
    assert (issue.rule, issue.line) == ("model", line_of(text, "budgetingMethod"))
    assert "'Occurrences', 'Timeslices' or 'RatioTimeslices'" in issue.message


def test_timeslices_needs_time_slice_target(spec):
    text = GOOD.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices").replace(
        "target: 0.999", "target: 0.999\n      timeSliceWindow: 5m")
    [issue] = check_files([spec(text)]).issues
    assert (issue.rule, issue.line, issue.metric) == ("budgeting", line_of(text, "- displayName"),
                                                      "checkout-availability")
    assert "Timeslices needs `timeSliceTarget`" in issue.message


def test_timeslices_complete_is_clean(spec):
    text = GOOD.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices").replace(
        "target: 0.999", "target: 0.99\n      timeSliceTarget: 0.95\n      timeSliceWindow: 5m")
    assert check_files([spec(text)]).issues == []


def test_ratio_timeslices_needs_window(spec):
    text = GOOD.replace("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices")
    assert errors(spec(text)) == [("budgeting", line_of(text, "- displayName"))]


def test_time_slice_fields_with_occurrences_warn(spec):
    text = GOOD.replace("target: 0.999", "target: 0.999\n      timeSliceWindow: 5m")
    [issue] = check_files([spec(text)]).issues
    assert (issue.level, issue.line) == ("WARNING", line_of(text, "timeSliceWindow"))


def test_dangling_indicator_ref(spec):
    text = GOOD.replace("indicatorRef: checkout-availability", "indicatorRef: checkout-latency")
    [issue] = check_files([spec(text)]).issues
    assert (issue.rule, issue.line) == ("dangling-ref", line_of(text, "indicatorRef"))
    assert "'checkout-latency'" in issue.message


def test_indicator_ref_resolves_across_files(spec):
    sli_text, slo_text = GOOD.split("---\n")
    report = check_files([spec(sli_text, "a.yaml"), spec(slo_text, "b.yaml")])
    assert report.issues == []
    assert report.specs.indicator(report.specs.slos[0].model) is not None


def test_duplicate_names(spec):
    slo_text = GOOD.split("---\n")[1]
    text = GOOD + "---\n" + slo_text
    [issue] = check_files([spec(text)]).issues
    second = line_of(text, "name: checkout-availability", start=SLO_LINE + 2)
    assert (issue.rule, issue.line) == ("duplicate", second)
    assert f":{SLO_LINE - 1})" in issue.message  # where the first one is


def test_same_name_different_kinds_is_fine(spec):
    assert check_files([spec(GOOD)]).issues == []  # the SLI and the SLO share a name


def test_duplicate_sloth_slo(spec):
    text = """\
version: prometheus/v1
service: api
slos:
  - name: availability
    objective: 99.9
    sli: {raw: {error_ratio_query: "x"}}
  - name: availability
    objective: 99
    sli: {raw: {error_ratio_query: "y"}}
"""
    assert errors(spec(text)) == [("duplicate", 7)]


def test_sloth_objective_above_hundred(spec):
    text = "version: prometheus/v1\nservice: api\nslos:\n  - name: a\n    objective: 999\n" \
           "    sli: {raw: {error_ratio_query: x}}\n"
    [issue] = check_files([spec(text)]).issues
    assert (issue.rule, issue.line, issue.metric) == ("model", 5, "a")


def test_bad_engmetrics_source(spec):
    text = GOOD.replace("column: good}", "column: bad}", 1)
    [issue] = check_files([spec(text)]).issues  # and no dangling indicatorRef to the SLI that failed
    assert (issue.rule, issue.line) == ("model", line_of(text, "column: bad"))
    assert "column" in issue.message


def test_telemetry_samples_source_and_bad_over_total(spec):
    text = GOOD.replace("    good:\n", "    bad:\n").replace(
        "spec: {dataset: sli_events, service: checkout, indicator: availability, column: good}",
        'spec: {dataset: telemetry_samples, metric: http_requests_total, selector: {code: "5.."}}')
    report = check_files([spec(text)])
    assert report.issues == []
    ratio = report.specs.indicator(report.specs.slos[0].model).ratioMetric
    assert ratio.good is None and ratio.bad.metricSource.spec.selector == {"code": "5.."}


def test_good_and_bad_together(spec):
    text = GOOD.replace("    total:\n", "    bad:\n", 1).replace("column: total", "column: good")
    assert errors(spec(text)) == [("model", line_of(text, "ratioMetric"))]


def test_inline_indicator_and_several_objectives(spec):
    text = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: search}
spec:
  service: shop
  indicator:
    metadata: {name: search-latency}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: 'histogram_quantile(0.9, x)'}}
  timeWindow: [{duration: 1M, isRolling: false, calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}}]
  budgetingMethod: Occurrences
  objectives:
    - {op: lte, value: 200, target: 0.9}
    - {op: lte, value: 1000, targetPercent: 99}
    - {target: 0.5}
"""
    report = check_files([spec(text)])
    assert [(i.rule, i.line) for i in report.issues] == [("indicator", 16)]  # threshold needs op and value
    assert [o.target for o in report.specs.of(SLO)[0].model.spec.objectives] == [0.9, 0.99, 0.5]


def test_alerting_documents_and_references(spec):
    text = """\
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: pager}
spec: {target: pagerduty}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast-burn}
spec:
  severity: page
  condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: page-fast}
spec:
  conditions: [{conditionRef: fast-burn}]
  notificationTargets: [{targetRef: pager}, {targetRef: nobody}]
---
apiVersion: openslo/v1
kind: Service
metadata: {name: checkout}
spec: {description: Checkout}
---
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prom}
spec: {type: Prometheus, connectionDetails: {url: "http://prometheus:9090"}}
"""
    report = check_files([spec(text)])
    assert [(i.rule, i.line) for i in report.issues] == [("dangling-ref", 18)]
    assert "'nobody'" in report.issues[0].message


def test_yaml_syntax_error_has_line(spec):
    assert errors(spec("apiVersion: openslo/v1\nkind: [SLO\n")) == [("schema", 3)]


def test_workspace_loading(tmp_path, spec):
    assert check_slos(tmp_path).issues == []  # no slos/ directory: nothing to check
    spec(GOOD.replace("indicatorRef: checkout-availability", "indicatorRef: nope"))
    report = check_slos(tmp_path)
    assert [i.file for i in report.errors] == ["slos/spec.yaml"]
    with pytest.raises(ValidationFailed):
        load_slos(tmp_path)


def test_inline_alert_policy_error_is_one_issue(spec):
    text = GOOD + """\
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: fast}
      spec:
        conditions: [{conditionRef: fast-burn}]
        bogus: 1
"""
    issues = check_files([spec(text)]).issues
    assert [(i.rule, i.line) for i in issues] == [("model", line_of(text, "bogus"))]
    fixed = check_files([spec(text.replace("        bogus: 1\n", ""))]).issues
    assert [(i.rule, i.line) for i in fixed] == [("dangling-ref", line_of(text, "conditionRef"))]
