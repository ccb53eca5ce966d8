from catalog_helpers import BASE, GUARD, indicator, lint_rule


def test_fires_without_thresholds_outcome_or_on_all_time_count(tmp_path):
    cumulative = {"dataset": "deployments", "window": "all_time", "measure": {"type": "count"}}
    issues = lint_rule(tmp_path, "vanity", [
        indicator(BASE, thresholds=None, status="proposed"),
        indicator(GUARD, outcome=None),
        indicator(BASE, id="total", calculation=cumulative),
    ])
    assert sorted((i.metric, i.message.split(":")[0]) for i in issues) == [
        ("deploys", "no thresholds"), ("failures", "no outcome"), ("total", "cumulative all-time count")]


def test_quiet_on_a_rated_linked_periodic_indicator(tmp_path):
    assert lint_rule(tmp_path, "vanity", [indicator(BASE), indicator(GUARD)]) == []


def test_deprecated_indicators_are_not_linted(tmp_path):
    assert lint_rule(tmp_path, "vanity", [indicator(BASE, thresholds=None, status="deprecated")]) == []
