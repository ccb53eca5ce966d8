from catalog_helpers import BASE, GUARD, indicator, lint_rule


def _calc(filters):
    return {"dataset": "deployments", "filters": filters, "measure": {"type": "count"}}


A = {"column": "environment", "value": "production"}
B = {"column": "status", "value": "success"}


def test_fires_on_same_calculation_with_filters_in_another_order(tmp_path):
    issues = lint_rule(tmp_path, "duplicate-calculation", [
        indicator(BASE, calculation=_calc([A, B])), indicator(GUARD, calculation=_calc([B, A]))])
    assert [(i.metric, i.level, i.message) for i in issues] == [
        ("failures", "WARNING", "same calculation as active indicator 'deploys'")]


def test_quiet_when_different_or_not_both_active(tmp_path):
    assert lint_rule(tmp_path, "duplicate-calculation", [
        indicator(BASE, calculation=_calc([A])), indicator(GUARD, calculation=_calc([B]))]) == []
    assert lint_rule(tmp_path, "duplicate-calculation", [
        indicator(BASE, calculation=_calc([A])),
        indicator(GUARD, calculation=_calc([A]), status="proposed")]) == []
