from catalog_helpers import BASE, GUARD, indicator, lint_rule


def test_fires_on_unresolved_outcome_and_guardrail(tmp_path):
    issues = lint_rule(tmp_path, "dangling-link", [
        indicator(BASE, outcome="growth"), indicator(GUARD, guardrail="nothing")])
    assert [(i.metric, i.level, i.message) for i in issues] == [
        ("deploys", "ERROR", "outcome 'growth' is neither a declared outcome nor an indicator"),
        ("failures", "ERROR", "guardrail 'nothing' is not an indicator")]


def test_fires_on_self_link_and_cycle(tmp_path):
    issues = lint_rule(tmp_path, "dangling-link", [
        indicator(BASE, outcome="failures"), indicator(GUARD, outcome="deploys"),
        indicator(BASE, id="me", outcome="me")])
    assert sorted((i.metric, i.message) for i in issues) == [
        ("deploys", "outcome links form a cycle back to this indicator"),
        ("failures", "outcome links form a cycle back to this indicator"),
        ("me", "outcome points at the indicator itself")]


def test_quiet_when_outcome_is_declared_or_a_parent_indicator(tmp_path):
    assert lint_rule(tmp_path, "dangling-link", [
        indicator(BASE), indicator(GUARD, outcome="deploys")]) == []
