"""`render_metrics`: parsed with prometheus_client's parser and compared with hand-computed series."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from exposition_cases import END, START, TRICKY_NAME, catalog, result, results
from prometheus_client.parser import text_string_to_metric_families

from engmetrics.api.exposition import (
    INDICATOR_VALUE,
    METRIC_NAMES,
    Family,
    IndicatorCollector,
    Sample,
    group_label,
    render,
    render_metrics,
)
from engmetrics.catalog.loader import Catalog

STATES = ("green", "amber", "red", "no_data")


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    series = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in series, f"duplicate series {key}"
            series[key] = s.value
    return series


def series(family: str, value: float, /, **labels: str) -> tuple[tuple[str, frozenset[tuple[str, str]]], float]:
    return (f"engmetrics_indicator_{family}", frozenset(labels.items())), value


def status(current: str, **labels: str) -> list[tuple[tuple[str, frozenset[tuple[str, str]]], float]]:
    return [series("status", 1.0 if s == current else 0.0, **labels, status=s) for s in STATES]


def thresholds(metric: str) -> list[tuple[tuple[str, frozenset[tuple[str, str]]], float]]:
    return [series("threshold", v, metric=metric, band=band, bound=bound)
            for band, bound, v in (("green", "min", 10), ("amber", "min", 5), ("amber", "max", 10),
                                   ("red", "max", 5))]


def info(metric: str, name: str, **labels: str) -> tuple[tuple[str, frozenset[tuple[str, str]]], float]:
    return series("info", 1.0, metric=metric, name=name, unit="deployments", direction="higher_is_better",
                  kind="leading", cadence="monthly", **labels)


EXPECTED = dict([
    # deploys: ungrouped, owner team platform; its duplicate result is skipped
    series("value", 12.0, metric="deploys", team="platform"),
    series("previous_value", 9.0, metric="deploys", team="platform"),
    *status("green", metric="deploys", team="platform"),
    series("sample_size", 12, metric="deploys", team="platform"),
    info("deploys", "Deploys", team="platform", outcome="delivery"),
    *thresholds("deploys"),
    # lead_time: grouped by team, so the group is the team; the (null) group has no team label
    series("value", 7.5, metric="lead_time", team="checkout"),
    *status("amber", metric="lead_time", team="checkout"),
    series("sample_size", 4, metric="lead_time", team="checkout"),
    series("previous_value", 3.0, metric="lead_time", team="platform"),  # no value series: no data
    *status("no_data", metric="lead_time", team="platform"),
    series("sample_size", 0, metric="lead_time", team="platform"),
    series("value", 1.0, metric="lead_time", group="(null)"),
    *status("red", metric="lead_time", group="(null)"),
    series("sample_size", 1, metric="lead_time", group="(null)"),
    info("lead_time", TRICKY_NAME, team="checkout", outcome="delivery"),
    *thresholds("lead_time"),
    # errors: grouped by service; root outcome through the chain errors -> deploys -> delivery
    series("value", 20.0, metric="errors", team="platform", service="api"),
    *status("green", metric="errors", team="platform", service="api"),
    series("sample_size", 20, metric="errors", team="platform", service="api"),
    info("errors", "Errors", team="platform", outcome="delivery"),
    *thresholds("errors"),
    # by_repo: no owner, no outcome, grouped by another column
    series("value", 6.0, metric="by_repo", group="web"),
    *status("amber", metric="by_repo", group="web"),
    series("sample_size", 6, metric="by_repo", group="web"),
    info("by_repo", "By_Repo"),
    *thresholds("by_repo"),
    # ghost: not in the catalog, so no team, info or thresholds
    series("value", 3.0, metric="ghost"),
    *status("red", metric="ghost"),
    series("sample_size", 3, metric="ghost"),
])


def test_series_and_values_match_hand_computed():
    text = render_metrics(results(), catalog())
    assert parse(text) == EXPECTED


def test_one_help_and_type_block_per_family_in_declared_order():
    lines = render_metrics(results(), catalog()).splitlines()
    helps = [line.split()[2] for line in lines if line.startswith("# HELP ")]
    types = [line.split()[2:] for line in lines if line.startswith("# TYPE ")]
    assert helps == list(METRIC_NAMES)
    assert types == [[name, "gauge"] for name in METRIC_NAMES]


def test_metric_names_are_what_is_emitted():
    emitted = {family.name for family in text_string_to_metric_families(render_metrics(results(), catalog()))}
    assert emitted == set(METRIC_NAMES)


def test_label_values_are_escaped():
    text = render_metrics(results(), catalog())
    assert r'name="Lead \"time\" \\ p50\nsecond line"' in text
    assert "\nsecond line" not in text  # the newline in the name never breaks a line


def test_empty_labels_are_never_emitted():
    assert '=""' not in render_metrics(results(), catalog())


def test_nan_is_not_data():
    text = render_metrics([result("deploys", math.nan, "no_data", previous=math.nan)], catalog())
    assert "NaN" not in text
    assert not [line for line in text.splitlines() if line.startswith("engmetrics_indicator_value")]
    assert 'engmetrics_indicator_status{metric="deploys",team="platform",status="no_data"} 1' in text


def test_unknown_status_gets_its_own_state():
    text = render_metrics([replace(result("ghost", None, "no_data"), status="insufficient_data")], Catalog())
    parsed = parse(text)
    assert parsed[series("status", 1, metric="ghost", status="insufficient_data")[0]] == 1
    assert sum(v for (name, _), v in parsed.items() if name.endswith("_status")) == 1


def test_no_results_still_declares_every_family():
    text = render_metrics([], Catalog())
    assert [f.name for f in text_string_to_metric_families(text)] == list(METRIC_NAMES)
    assert parse(text) == {}


def test_exact_lines_for_one_result():
    text = render_metrics([result("deploys", 12.0, "green", sample_size=12)], Catalog())
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        'engmetrics_indicator_value{metric="deploys"} 12.0',
        'engmetrics_indicator_status{metric="deploys",status="green"} 1',
        'engmetrics_indicator_status{metric="deploys",status="amber"} 0',
        'engmetrics_indicator_status{metric="deploys",status="red"} 0',
        'engmetrics_indicator_status{metric="deploys",status="no_data"} 0',
        'engmetrics_indicator_sample_size{metric="deploys"} 12',
    ]
    assert START < END  # the period does not appear in the series: /metrics is the latest value only


class _Slo:
    """A stand-in for the SLO module's collector."""

    family = Family("engmetrics_slo_error_budget_remaining_ratio", "Share of the error budget left.")

    def collect(self):
        return [(self.family, [Sample.of(0.25, {"slo": "checkout-availability", "service": "checkout"})])]


def test_extra_collectors_add_families_after_the_indicators():
    text = render_metrics(results(), catalog(), collectors=[_Slo()])
    families = [f.name for f in text_string_to_metric_families(text)]
    assert families == [*METRIC_NAMES, _Slo.family.name]
    assert text.endswith(
        'engmetrics_slo_error_budget_remaining_ratio{slo="checkout-availability",service="checkout"} 0.25\n')


def test_same_family_from_two_collectors_is_merged_once():
    class Other:
        def collect(self):
            return [(_Slo.family, [Sample.of(0.5, {"slo": "search-latency"})])]

    text = render([_Slo(), Other()])
    assert text.count("# TYPE engmetrics_slo_error_budget_remaining_ratio") == 1
    assert parse(text) == {
        ("engmetrics_slo_error_budget_remaining_ratio",
         frozenset({("slo", "checkout-availability"), ("service", "checkout")})): 0.25,
        ("engmetrics_slo_error_budget_remaining_ratio", frozenset({("slo", "search-latency")})): 0.5}


def test_duplicate_series_and_conflicting_declarations_raise():
    with pytest.raises(ValueError, match="duplicate series"):
        render([_Slo(), _Slo()])

    class Conflict:
        def collect(self):
            return [(Family(_Slo.family.name, "other help"), [])]

    with pytest.raises(ValueError, match="declared twice"):
        render([_Slo(), Conflict()])


def test_invalid_names_are_refused():
    with pytest.raises(ValueError, match="metric name"):
        Family("engmetrics-indicator", "x")
    with pytest.raises(ValueError, match="label name"):
        Sample.of(1, {"__reserved": "x"})
    with pytest.raises(ValueError, match="label name"):
        Sample.of(1, {"bad-label": "x"})


def test_group_label_by_column_name():
    assert [group_label(c) for c in ("team", "owner_team", "to_team", "service", "repo", None)] == [
        "team", "team", "team", "service", "group", "group"]


def test_collector_without_catalog_uses_metric_and_group_only():
    samples = dict(IndicatorCollector([result("x", 1.0, "green", group="g")]).collect())
    assert [s.labels for s in samples[INDICATOR_VALUE]] == [(("metric", "x"), ("group", "g"))]
