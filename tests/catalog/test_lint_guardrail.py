from catalog_helpers import BASE, GUARD, indicator, lint_rule


def test_fires_on_velocity_without_guardrail(tmp_path):
    issues = lint_rule(tmp_path, "velocity-guardrail", [
        indicator(BASE, id="deploy_frequency", name="Deployment frequency", guardrail=None),
        indicator(GUARD, id="points", name="Story points per sprint", guardrail=None),
        indicator(GUARD, id="x", name="Merged things", tags=["throughput"], guardrail=None),
    ])
    assert [(i.metric, i.level) for i in issues] == [
        ("deploy_frequency", "ERROR"), ("points", "ERROR"), ("x", "ERROR")]


def test_quiet_with_guardrail_or_when_not_velocity(tmp_path):
    assert lint_rule(tmp_path, "velocity-guardrail", [
        indicator(BASE, id="deploy_frequency", name="Deployment frequency", guardrail="failures"),
        indicator(GUARD, guardrail=None),  # "Failed deploys" is not a velocity indicator
    ]) == []
