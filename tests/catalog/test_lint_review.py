from catalog_helpers import BASE, GUARD, indicator, lint_rule


def test_fires_when_review_date_passed_or_missing(tmp_path):
    # TODAY is 2026-06-01
    issues = lint_rule(tmp_path, "review-overdue", [
        indicator(BASE, review_by="2026-05-31"), indicator(GUARD, review_by=None)])
    assert [(i.metric, i.level, i.message) for i in issues] == [
        ("deploys", "WARNING", "review date 2026-05-31 has passed"),
        ("failures", "WARNING", "no review_by date: plan when to ask whether it is still useful")]


def test_quiet_on_the_review_day_itself(tmp_path):
    assert lint_rule(tmp_path, "review-overdue", [indicator(BASE, review_by="2026-06-01")]) == []
