"""`kind: AllocationRules` documents: defaults, merging, and errors that name file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engmetrics.cost.allocation_rules import (
    AllocationRules,
    Regex,
    allocation_rules_report,
    load_allocation_rules,
)
from engmetrics.errors import ValidationFailed


def budgets(root: Path, **files: str) -> Path:
    (root / "budgets").mkdir(exist_ok=True)
    for name, text in files.items():
        (root / "budgets" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip())
    return root


def errors(root: Path) -> list[str]:
    return [str(i) for i in allocation_rules_report(root).errors]


def test_defaults_without_documents(tmp_path):
    assert load_allocation_rules(tmp_path) == AllocationRules()
    assert load_allocation_rules(None) == AllocationRules()
    budgets(tmp_path, b="kind: Budget\nname: x\n")
    rules = load_allocation_rules(tmp_path)
    assert rules.dimensions.team.keys == ["team", "owner-team", "owner_team", "team-name", "team_name"]
    assert rules.dimensions.team.fallbacks == ["service"]
    assert rules.dimensions.environment.keys == ["environment", "env", "stage"]
    assert (rules.key_prefixes, rules.owners, rules.shared) == (["user:"], [], [])


def test_keys_are_lower_cased_and_account_numbers_are_text(tmp_path):
    budgets(tmp_path, a="""
        kind: AllocationRules
        dimensions:
          team: {keys: [Team, OWNER-Team, team], fallbacks: ["tag:Cost-Center"]}
        owners:
          - match: {SubAccountId: [123456789012, "0042"], ResourceName: {regex: "^db-"}}
            team: data
    """)
    rules = load_allocation_rules(tmp_path)
    assert rules.dimensions.team.keys == ["team", "owner-team"]
    assert rules.dimensions.team.fallbacks == ["tag:cost-center"]
    assert rules.owners[0].match.columns() == {"SubAccountId": ["123456789012", "0042"],
                                               "ResourceName": [Regex(regex="^db-")]}


def test_percentages_must_add_up_to_100_at_their_line(tmp_path):
    budgets(tmp_path, rules="""
        kind: AllocationRules
        shared:
          - name: support
            match: {ServiceName: AWS Support}
            split: fixed
            percentages: {payments: 60, search: 30}
    """)
    assert errors(tmp_path) == [
        "budgets/rules.yaml:6: ERROR [model] shared.0.percentages: Value error, percentages add up to 90 %, not 100 %"]
    with pytest.raises(ValidationFailed, match=r"budgets/rules.yaml:6: .*not 100 %"):
        load_allocation_rules(tmp_path)


@pytest.mark.parametrize(("rule", "line", "message"), [
    ("  - {name: s, match: {ServiceName: x}, split: fixed}", 3, "fixed needs percentages"),
    ("  - {name: s, match: {ServiceName: x}, split: usage}", 3, "usage needs usage"),
    ("  - {name: s, match: {ServiceName: x}, split: even, percentages: {a: 100}}", 3, "percentages need split"),
    ("  - {name: s, match: {ServiceName: x}, split: usage, usage: {dataset: business_volume}}", 3,
     "needs a metric"),
    ("  - {name: s, match: {Colour: x}, split: even}", 3, "Colour: Extra inputs are not permitted"),
    ("  - {name: s, match: {}, split: even}", 3, "at least one condition"),
    ("  - {name: s, match: {ResourceId: {regex: 'a('}}, split: even}", 3, "not a regular expression"),
    ("  - {name: s, match: {ServiceName: x}, split: fixed, percentages: {a: 120, b: -20}}", 3, "negative"),
    ("  - {name: s, match: {ServiceName: x}, split: even, to: account}", 3, "to: Input should be"),
])
def test_bad_shared_rules_are_located(tmp_path, rule, line, message):
    budgets(tmp_path, r=f"kind: AllocationRules\nshared:\n{rule}\n")
    found = errors(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"budgets/r.yaml:{line}: ERROR") and message in found[0]


def test_bad_owner_rules_and_dimensions_are_located(tmp_path):
    budgets(tmp_path, r="""
        kind: AllocationRules
        dimensions:
          environment: {keys: [env], fallbacks: [service]}
        owners:
          - {match: {SubAccountId: "1"}}
          - {match: {untagged: true}, team: a}
    """)
    found = errors(tmp_path)
    assert [f.split(":")[1] for f in found] == ["3", "5", "6"]
    assert "'service' fallback is for team only" in found[0]
    assert "names at least one of team" in found[1] and "untagged is for shared rules" in found[2]


def test_documents_merge_in_file_order(tmp_path):
    budgets(tmp_path, a="""
        kind: AllocationRules
        owners: [{match: {SubAccountId: "1"}, team: a}]
        shared: [{name: s1, match: {ServiceName: x}, split: even}]
        ---
        kind: Budget
        name: unrelated
    """, b="""
        kind: AllocationRules
        dimensions: {team: {keys: [squad]}}
        owners: [{match: {SubAccountId: "2"}, team: b}]
        shared: [{name: s2, match: {ServiceName: y}, split: proportional}]
    """)
    rules = load_allocation_rules(tmp_path)
    assert [o.team for o in rules.owners] == ["a", "b"]
    assert [s.name for s in rules.shared] == ["s1", "s2"]
    assert rules.dimensions.team.keys == ["squad"]


def test_merge_conflicts_are_located(tmp_path):
    budgets(tmp_path, a="""
        kind: AllocationRules
        dimensions: {team: {keys: [squad]}}
        shared: [{name: s1, match: {ServiceName: x}, split: even}]
    """, b="""
        kind: AllocationRules
        shared:
          - {name: s2, match: {ServiceName: x}, split: even}
          - {name: s1, match: {ServiceName: x}, split: even}
        dimensions: {team: {keys: [team]}}
    """)
    assert errors(tmp_path) == [
        "budgets/b.yaml:5: ERROR [merge] dimensions is already set at budgets/a.yaml:1",
        "budgets/b.yaml:4: ERROR [merge] shared rule 's1' is already defined at budgets/a.yaml:3"]
    assert [s.name for s in allocation_rules_report(tmp_path).rules.shared] == ["s1", "s2"]


def test_repeated_shared_names_in_one_document(tmp_path):
    budgets(tmp_path, a="""
        kind: AllocationRules
        shared:
          - {name: s, match: {ServiceName: x}, split: even}
          - {name: s, match: {ServiceName: y}, split: even}
    """)
    assert errors(tmp_path) == ["budgets/a.yaml:1: ERROR [model] document: Value error, shared rule names must be "
                                "unique (repeated: s)"]
