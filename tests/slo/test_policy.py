"""Error-budget policies: loading with file:line errors, stages, the most specific policy, the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from engmetrics.errors import InputError, ValidationFailed
from engmetrics.slo.policy import DEFAULT_POLICY, check_policies, load_policies

GOOD = """\
kind: ErrorBudgetPolicy
name: default
services: ["*"]
stages:
  - name: healthy
    below: null
    actions: [release freely]
  - name: warn
    below: 0.5
    actions: [notify the team, review risky changes]
  - name: freeze
    below: 0.0
    block_releases: true
    actions: [freeze feature releases, reliability work only]
insufficient_data: allow
"""

STRICT = """\
kind: ErrorBudgetPolicy
name: payments-strict
services: [payments]
stages:
  - {name: fine, below: null}
  - {name: careful, below: 0.8, actions: [two reviewers per change]}
  - {name: stop, below: 0.25, block_releases: true, actions: [stop releases]}
insufficient_data: block
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / "policies" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def messages(root: Path) -> list[str]:
    return [str(i) for i in check_policies(root).issues]


def test_example_loads_and_stages_apply(tmp_path):
    write(tmp_path, "budget.yaml", GOOD)
    (policy,) = load_policies(tmp_path).policies
    assert (policy.name, policy.source) == ("default", "policies/budget.yaml:1")
    # below is strict: 0.5 left is still healthy, exactly spent is still warn
    cases = {1.0: "healthy", 0.6: "healthy", 0.5: "healthy", 0.3: "warn", 0.0: "warn", -0.2: "freeze"}
    assert {r: policy.stage_for(r).name for r in cases} == cases
    assert policy.stage_for(-0.2).block_releases and not policy.stage_for(0.3).block_releases


def test_stage_order_in_the_file_does_not_matter(tmp_path):
    write(tmp_path, "p.yaml", "kind: ErrorBudgetPolicy\nname: p\nstages:\n"
          "  - {name: freeze, below: 0, block_releases: true}\n  - {name: ok}\n  - {name: warn, below: 0.5}\n")
    (policy,) = load_policies(tmp_path).policies
    assert [policy.stage_for(r).name for r in (0.9, 0.4, -0.1)] == ["ok", "warn", "freeze"]


def test_other_kinds_and_files_are_ignored(tmp_path):
    write(tmp_path, "access.yaml", "roles:\n  viewer: [read]\n")
    write(tmp_path, "retention.yaml", "kind: RetentionPolicy\nname: r\ndays: [not, a, number]\n")
    write(tmp_path, "broken-other.yaml", "roles: [unclosed\n")  # not ours: not even parsed
    write(tmp_path, "mixed.yaml", "kind: RetentionPolicy\nname: r\n---\n" + GOOD)
    report = check_policies(tmp_path)
    assert report.issues == []
    assert [(p.name, p.source) for p in report.policies.policies] == [("default", "policies/mixed.yaml:4")]


def test_model_error_names_file_and_line(tmp_path):
    write(tmp_path, "budget.yaml", GOOD.replace("below: 0.5", "below: half"))
    assert messages(tmp_path) == [
        "policies/budget.yaml:9: ERROR [model] stages.1.below: Input should be a valid number, "
        "unable to parse string as a number"]
    with pytest.raises(ValidationFailed) as err:
        load_policies(tmp_path)
    assert "policies/budget.yaml:9" in str(err.value)


def test_unknown_field_and_bad_insufficient_data(tmp_path):
    text = GOOD.replace("    block_releases: true", "    block_release: true").replace(
        "insufficient_data: allow", "insufficient_data: maybe")
    write(tmp_path, "budget.yaml", text)
    found = messages(tmp_path)
    assert found == [
        "policies/budget.yaml:13: ERROR [model] stages.2.block_release: Extra inputs are not permitted",
        "policies/budget.yaml:15: ERROR [model] insufficient_data: Input should be 'allow' or 'block'"]


def test_invalid_yaml_in_a_policy_file_is_an_error(tmp_path):
    write(tmp_path, "budget.yaml", "kind: ErrorBudgetPolicy\nname: [unclosed\n")
    (issue,) = check_policies(tmp_path).issues
    assert (issue.level, issue.file, issue.line) == ("ERROR", "policies/budget.yaml", 3)


def test_misspelt_kind_is_not_silently_ignored(tmp_path):
    write(tmp_path, "budget.yaml", GOOD.replace("kind: ErrorBudgetPolicy", "kind: ErrorBudgetPolicies") +
          "# an ErrorBudgetPolicy\n")
    assert messages(tmp_path) == [
        "policies/budget.yaml:1: ERROR [schema] unknown kind 'ErrorBudgetPolicies': did you mean "
        "'ErrorBudgetPolicy'?"]


def test_stage_rules(tmp_path):
    write(tmp_path, "budget.yaml", """\
kind: ErrorBudgetPolicy
name: p
stages:
  - name: a
  - name: b
  - name: warn
    below: 0.5
    block_releases: true
  - name: warn
    below: 0.5
  - name: insufficient_data
    below: 0.1
""")
    assert messages(tmp_path) == [
        "policies/budget.yaml:5: ERROR [stages] stages[1]: a second base stage (`below: null`); the first is 'a'",
        "policies/budget.yaml:9: ERROR [stages] stages[3]: duplicate stage name 'warn'",
        "policies/budget.yaml:10: ERROR [stages] stages[3]: `below: 0.5` is already the threshold of stage 'warn'",
        "policies/budget.yaml:11: ERROR [stages] stages[4]: the name 'insufficient_data' is reserved for SLOs "
        "without enough events (see `insufficient_data`)",
        "policies/budget.yaml:11: WARNING [stages] stages[4]: 'insufficient_data' allows releases although the "
        "milder stage 'warn' blocks them",
    ]


def test_no_base_stage(tmp_path):
    write(tmp_path, "budget.yaml", "kind: ErrorBudgetPolicy\nname: p\nstages:\n  - {name: warn, below: 0.5}\n")
    assert messages(tmp_path) == [
        "policies/budget.yaml:3: ERROR [stages] no base stage: give exactly one stage `below: null` (it applies "
        "when no stage below applies)"]


def test_most_specific_policy_wins(tmp_path):
    write(tmp_path, "a-default.yaml", GOOD)
    write(tmp_path, "b-payments.yaml", STRICT)
    write(tmp_path, "c-pattern.yaml", STRICT.replace("payments-strict", "pay-pattern").replace(
        "[payments]", '["pay*"]'))
    policies = load_policies(tmp_path)
    assert policies.for_service("payments").name == "payments-strict"  # exact name beats "pay*" and "*"
    assert policies.for_service("payroll").name == "pay-pattern"  # a pattern beats "*"
    assert policies.for_service("checkout").name == "default"
    assert policies.for_service("payments").stage_for(0.5).name == "careful"


def test_no_policy_gives_the_built_in_default(tmp_path):
    write(tmp_path, "b-payments.yaml", STRICT)
    policy = load_policies(tmp_path).for_service("checkout")
    assert policy is DEFAULT_POLICY
    assert policy.source == "built-in"
    assert [(s.name, s.below, s.block_releases) for s in policy.model.stages] == [
        ("healthy", None, False), ("warn", 0.5, False), ("freeze", 0.0, True)]
    assert policy.model.insufficient_data == "allow"


def test_two_policies_claiming_one_service(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("name: default", "name: other"))
    assert messages(tmp_path) == [
        "policies/b.yaml:3: ERROR [duplicate] services[0]: '*' is already covered by policy 'default' "
        "(policies/a.yaml:1)"]
    write(tmp_path, "b.yaml", GOOD.replace('["*"]', "[checkout]"))
    assert messages(tmp_path) == ["policies/b.yaml:2: ERROR [duplicate] duplicate policy name 'default' "
                                  "(first at policies/a.yaml:1)"]


def test_equally_specific_patterns_are_ambiguous(tmp_path):
    write(tmp_path, "a.yaml", STRICT.replace("[payments]", '["pay*"]'))
    write(tmp_path, "b.yaml", STRICT.replace("payments-strict", "b").replace("[payments]", '["*nts"]'))
    policies = load_policies(tmp_path)
    with pytest.raises(InputError, match="covered equally specifically by error-budget policies 'payments-strict'"):
        policies.for_service("payments")
    assert policies.for_service("payroll").name == "payments-strict"
