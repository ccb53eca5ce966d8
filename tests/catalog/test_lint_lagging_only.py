from catalog_helpers import BASE, GUARD, indicator, lint_rule


def test_fires_when_every_indicator_is_lagging(tmp_path):
    issues = lint_rule(tmp_path, "only-lagging", [indicator(BASE, kind="lagging"), indicator(GUARD)])
    assert [(i.level, i.metric, i.message) for i in issues] == [
        ("WARNING", "deploys", "all 2 indicators are lagging: add leading indicators that predict them")]


def test_quiet_with_one_leading_indicator(tmp_path):
    assert lint_rule(tmp_path, "only-lagging", [indicator(BASE), indicator(GUARD)]) == []


def test_deprecated_leading_indicator_does_not_count(tmp_path):
    issues = lint_rule(tmp_path, "only-lagging", [indicator(BASE, status="deprecated"), indicator(GUARD)])
    assert len(issues) == 1
