"""Impact assessments: the file, and the `assessment` lint rule (refuse activation without one)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from engmetrics.catalog.lint import lint
from engmetrics.catalog.loader import Catalog, check_catalog
from engmetrics.catalog.version import definition_version
from engmetrics.errors import ValidationFailed
from engmetrics.governance.assessments import Assessment, check_assessments, load_assessments

TODAY = date(2026, 6, 1)
BASE: dict[str, Any] = {
    "id": "deploys", "name": "Deploys", "owner": {"team": "platform", "role": "engineering manager"},
    "kind": "leading", "unit": "deployments", "direction": "higher_is_better", "cadence": "weekly",
    "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 5}, "red": {"max": 5}}, "review_by": "2030-01-01"}
GUARD: dict[str, Any] = {**BASE, "id": "failures", "name": "Failed deploys"}


def indicator(base: dict[str, Any] = BASE, **changes: Any) -> dict[str, Any]:
    """A copy of `base` with `changes`; a change to None removes the field."""
    result = {**base, **changes}
    return {k: v for k, v in result.items() if v is not None}


def load(root: Path, indicators: list[dict[str, Any]]) -> Catalog:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({"indicators": indicators}, sort_keys=False))
    report = check_catalog(root)
    assert not report.errors, report.errors
    return report.catalog

GOOD = """\
intended_behaviour_change: ship smaller changes more often
gaming_risks:
  - splitting one change into trivial deployments
groups_harmed: [teams owning legacy services]
guardrails: [failures]
review_date: 2027-06-30
owner: platform lead
"""


def _assess(root: Path, metric: str, text: str = GOOD) -> None:
    (root / "assessments").mkdir(parents=True, exist_ok=True)
    (root / "assessments" / f"{metric}.yaml").write_text(text)


def _refusals(root: Path, assessed: dict[str, set[str]] | None = None, today: date = TODAY) -> list[tuple]:
    catalog = check_catalog(root).catalog
    return [(i.level, i.metric, i.file, i.line) for i in
            lint(catalog, today=today, rules=["assessment"], assessed_versions=assessed)]


def test_an_assessment_loads(tmp_path: Path) -> None:
    _assess(tmp_path, "deploys")
    assert load_assessments(tmp_path) == {"deploys": Assessment(
        intended_behaviour_change="ship smaller changes more often",
        gaming_risks=["splitting one change into trivial deployments"],
        groups_harmed=["teams owning legacy services"], guardrails=["failures"], review_date=date(2027, 6, 30),
        owner="platform lead")}
    assert load_assessments(tmp_path)["deploys"].to_dict()["review_date"] == "2027-06-30"


def test_a_bad_assessment_is_located(tmp_path: Path) -> None:
    _assess(tmp_path, "deploys", GOOD.replace("groups_harmed: [teams owning legacy services]\n", "groups_harmed: []\n")
            .replace("review_date: 2027-06-30", "review_date: someday"))
    found, issues = check_assessments(tmp_path)
    assert found == {}
    assert sorted((i.file, i.line, i.message.split(":")[0], i.metric) for i in issues) == [
        ("assessments/deploys.yaml", 4, "groups_harmed", "deploys"),
        ("assessments/deploys.yaml", 6, "review_date", "deploys")]
    with pytest.raises(ValidationFailed):
        load_assessments(tmp_path)


def test_a_missing_field_is_an_error(tmp_path: Path) -> None:
    _assess(tmp_path, "deploys", "intended_behaviour_change: x\n")
    _, issues = check_assessments(tmp_path)
    assert sorted(i.message.split(":")[0] for i in issues) == [
        "gaming_risks", "groups_harmed", "guardrails", "review_date"]


def test_the_catalog_carries_assessments(tmp_path: Path) -> None:
    _assess(tmp_path, "deploys")
    catalog = load(tmp_path, [indicator(), indicator(GUARD)])
    assert list(catalog.assessments) == ["deploys"]
    assert catalog.assessment_files["deploys"].file == "assessments/deploys.yaml"


def test_lint_refuses_a_new_team_indicator_without_an_assessment(tmp_path: Path) -> None:
    load(tmp_path, [indicator(), indicator(GUARD, audience="org")])
    [issue] = lint(check_catalog(tmp_path).catalog, today=TODAY, rules=["assessment"])
    assert (issue.level, issue.metric, issue.file) == ("ERROR", "deploys", "metrics/m.yaml")
    assert issue.message == ("refusing to activate new team indicator deploys without an impact assessment: "
                             "write assessments/deploys.yaml (or keep it proposed)")


def test_lint_accepts_it_with_an_assessment(tmp_path: Path) -> None:
    load(tmp_path, [indicator(), indicator(GUARD, audience="org")])
    _assess(tmp_path, "deploys")
    assert _refusals(tmp_path) == []


def test_lint_accepts_a_version_assessed_before(tmp_path: Path) -> None:
    catalog = load(tmp_path, [indicator(), indicator(GUARD, audience="org")])
    assessed = {"deploys": {definition_version(catalog.get("deploys").indicator), "sha256:0000000000000000"}}
    assert _refusals(tmp_path, assessed) == []


def test_lint_refuses_a_changed_indicator(tmp_path: Path) -> None:
    load(tmp_path, [indicator(), indicator(GUARD, audience="org")])
    [issue] = lint(check_catalog(tmp_path).catalog, today=TODAY, rules=["assessment"],
                   assessed_versions={"deploys": {"sha256:0000000000000000"}})
    assert issue.message.startswith("refusing to activate changed team indicator deploys")


def test_individual_counts_org_proposed_and_deprecated_do_not(tmp_path: Path) -> None:
    load(tmp_path, [indicator(audience="individual"), indicator(GUARD, audience="org"),
                    indicator(BASE, id="later", status="proposed", thresholds=None),
                    indicator(BASE, id="old", status="deprecated")])
    assert [m for _, m, _, _ in _refusals(tmp_path)] == ["deploys"]


def test_a_passed_review_date_is_a_warning(tmp_path: Path) -> None:
    load(tmp_path, [indicator(), indicator(GUARD, audience="org")])
    _assess(tmp_path, "deploys")
    assert _refusals(tmp_path, today=date(2027, 6, 30)) == []
    assert _refusals(tmp_path, today=date(2027, 7, 1)) == [
        ("WARNING", "deploys", "assessments/deploys.yaml", 1)]


def _lint_errors(cli) -> list[tuple[str, str]]:
    return [(i["rule"], i["metric"]) for i in json.loads(cli("catalog", "lint", "--json").stdout)
            if i["level"] == "ERROR"]


def test_cli_lint_uses_the_archive(workspace: Path, cli) -> None:
    """A version archived while its assessment was in force needs no assessment file until it changes."""
    from engmetrics.governance.archive import record_definitions
    from engmetrics.settings import load_settings
    from engmetrics.store import Store

    assessment = workspace / "assessments" / "change_failure_rate.yaml"
    with Store.open(load_settings(workspace).store_url) as store:
        record_definitions(store, workspace)  # archived with its assessment
    assessment.unlink()
    result = cli("catalog", "lint", "--json")
    assert result.exit_code == 0, result.output
    metrics = workspace / "metrics" / "example.yaml"
    metrics.write_text(metrics.read_text().replace("min_sample: 5 ", "min_sample: 6 "))
    result = cli("catalog", "lint", "--json")
    assert [i["message"][:52] for i in json.loads(result.stdout) if i["level"] == "ERROR"] == [
        "refusing to activate changed team indicator change_f"]


def test_archiving_does_not_count_as_assessed(workspace: Path, cli) -> None:
    """review_b #2: `metrics evaluate` archives the unassessed version; the lint must still refuse it."""
    from engmetrics.governance.archive import record_definitions
    from engmetrics.settings import load_settings
    from engmetrics.store import Store

    (workspace / "assessments" / "change_failure_rate.yaml").unlink()
    assert _lint_errors(cli) == [("assessment", "change_failure_rate")]  # no store yet: nothing assessed
    assert cli("metrics", "evaluate", "--as-of", "2026-03-31", "--json").exit_code == 0
    with Store.open(load_settings(workspace).store_url) as store:
        assert record_definitions(store, workspace) == []  # evaluate archived the current version
    assert _lint_errors(cli) == [("assessment", "change_failure_rate")]
