from catalog_helpers import BASE, GUARD, indicator, lint_rule


def test_fires_on_missing_and_ambiguous_owner(tmp_path):
    issues = lint_rule(tmp_path, "owner", [
        indicator(BASE, owner=None),
        indicator(GUARD, owner={"team": "platform / sre", "role": "tbd"}),
        indicator(BASE, id="c", owner={"team": ["a", "b"]}),
    ])
    got = [(i.metric, i.level, i.message.split(":")[0]) for i in issues]
    assert sorted(got) == sorted([
        ("deploys", "ERROR", "no owner"),
        ("failures", "WARNING", "ambiguous owning team"),
        ("failures", "WARNING", "ambiguous accountable role"),
        ("c", "WARNING", "several owning teams ['a', 'b']"),
        ("c", "ERROR", "no accountable role"),
    ])


def test_quiet_on_one_team_and_role(tmp_path):
    assert lint_rule(tmp_path, "owner", [indicator(BASE), indicator(GUARD)]) == []
