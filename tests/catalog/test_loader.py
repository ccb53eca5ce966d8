"""Loading: three stages, each problem at the right file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_helpers import BASE, GUARD, indicator, write_catalog

from engmetrics.catalog.loader import check_catalog, load_catalog
from engmetrics.errors import ValidationFailed

GOOD = """\
outcomes:
  - id: delivery
    name: Delivery
indicators:
  - id: deploys
    name: Deploys
    kind: leading
    unit: deployments
    direction: higher_is_better
    cadence: weekly
    calculation:
      dataset: deployments
      measure:
        type: count
    thresholds:
      green: {min: 5}
      red: {max: 5}
"""


def _write(root: Path, text: str, name: str = "a.yaml") -> None:
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / name).write_text(text)


def _where(root: Path) -> list[tuple[str | None, int | None, str]]:
    return [(i.file, i.line, i.rule) for i in check_catalog(root).issues]


def test_good_file_loads(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    catalog = load_catalog(tmp_path)
    assert catalog.ids == ["deploys"]
    assert catalog.definitions[0].line == 5
    assert catalog.outcomes[0].outcome.id == "delivery"


def test_single_indicator_file(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join(line[4:] for line in GOOD.splitlines()[4:]) + "\n")
    assert load_catalog(tmp_path).ids == ["deploys"]


def test_active_indicator_without_thresholds_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.split("    thresholds:")[0])
    assert _where(tmp_path) == [("metrics/a.yaml", 5, "model")]
    proposed = GOOD.split("    thresholds:")[0].replace("cadence: weekly", "cadence: weekly\n    status: proposed")
    _write(tmp_path, proposed)
    assert _where(tmp_path) == []


def test_model_error_names_line_of_bad_field(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("cadence: weekly", "cadence: fortnightly"))
    assert _where(tmp_path) == [("metrics/a.yaml", 10, "model")]


def test_model_error_inside_discriminated_measure(tmp_path: Path) -> None:
    bad = GOOD.replace("type: count", "type: sum\n        colum: x")
    _write(tmp_path, bad)
    issues = check_catalog(tmp_path).issues
    # `column` is missing (reported at the measure, line 13) and `colum` is unknown (line 15)
    assert sorted((i.line, i.message.split(":")[0]) for i in issues) == [
        (13, "calculation.measure.column"), (15, "calculation.measure.colum")]


def test_unknown_measure_type(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("type: count", "type: average"))
    assert _where(tmp_path) == [("metrics/a.yaml", 14, "model")]


def test_missing_required_field_at_indicator_line(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("    unit: deployments\n", ""))
    issues = check_catalog(tmp_path).issues
    assert [(i.line, i.message) for i in issues] == [(5, "unit: Field required")]
    assert issues[0].metric == "deploys"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    _write(tmp_path, "indicators:\n  - id: [unclosed\n")
    [issue] = check_catalog(tmp_path).issues
    assert (issue.file, issue.rule, issue.line) == ("metrics/a.yaml", "schema", 3)


def test_schema_stage_top_level(tmp_path: Path) -> None:
    _write(tmp_path, "- just\n- a list\n")
    _write(tmp_path, GOOD + "extra: 1\n", "b.yaml")
    assert _where(tmp_path) == [("metrics/a.yaml", 1, "schema"), ("metrics/b.yaml", 18, "schema")]


def test_indicators_must_be_mappings(tmp_path: Path) -> None:
    _write(tmp_path, "indicators:\n  - 3\n")
    assert _where(tmp_path) == [("metrics/a.yaml", 2, "schema")]


def test_cross_unknown_dataset_and_column(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("dataset: deployments", "dataset: deploys"))
    assert _where(tmp_path) == [("metrics/a.yaml", 12, "calculation")]
    _write(tmp_path, GOOD.replace("type: count", "type: sum\n        column: status"))
    [issue] = check_catalog(tmp_path).issues
    assert issue.line == 15 and "is string, expected float or int" in issue.message


def test_cross_checks_filters_time_column_group_by_and_percentile(tmp_path: Path) -> None:
    calc = {"dataset": "changes", "time_column": "repo", "group_by": "nope",
            "filters": [{"column": "missing", "value": 1}],
            "measure": {"type": "percentile", "start": "created_at", "end": "additions"}}
    path = write_catalog(tmp_path, [indicator(calculation=calc)])
    issues = check_catalog(tmp_path).issues
    messages = sorted(i.message for i in issues)
    assert messages == [
        "column changes.additions is int, expected timestamp",
        "column changes.repo is string, expected date or timestamp",
        "dataset changes has no column 'missing'",
        "dataset changes has no column 'nope'",
    ]
    lines = path.read_text().splitlines()
    for i in issues:
        assert i.file == "metrics/m.yaml"
        assert i.line is not None and lines[i.line - 1].strip().startswith(
            ("time_column", "group_by", "- column", "end"))


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write_catalog(tmp_path, [indicator(), indicator(GUARD)], name="a.yaml")
    write_catalog(tmp_path, [indicator()], outcomes=[{"id": "failures", "name": "x"}], name="b.yaml")
    dupes = [(i.file, i.metric) for i in check_catalog(tmp_path).issues if i.rule == "duplicate-id"]
    assert sorted(dupes) == [("metrics/b.yaml", "deploys"), ("metrics/b.yaml", "failures")]


def test_unknown_calculator(tmp_path: Path) -> None:
    write_catalog(tmp_path, [indicator(calculation={"calculator": "nope.nothing"})])
    [issue] = check_catalog(tmp_path).issues
    assert issue.rule == "calculation" and "unknown calculator 'nope.nothing'" in issue.message


def test_load_catalog_raises_with_every_error(tmp_path: Path) -> None:
    write_catalog(tmp_path, [indicator(BASE, cadence="hourly"), indicator(GUARD, kind="middle")])
    with pytest.raises(ValidationFailed) as exc:
        load_catalog(tmp_path)
    assert len(exc.value.issues) == 2
    assert "metrics/m.yaml:" in str(exc.value)


def test_filter_value_must_match_op(tmp_path: Path) -> None:
    calc = {"dataset": "deployments", "measure": {"type": "count"},
            "filters": [{"column": "status", "op": "in", "value": "success"}]}
    write_catalog(tmp_path, [indicator(calculation=calc)])
    [issue] = check_catalog(tmp_path).issues
    assert "non-empty list" in issue.message


def test_empty_band_is_a_model_error(tmp_path: Path) -> None:
    write_catalog(tmp_path, [indicator(thresholds={"green": {"min": 5, "max": 5}, "red": {"max": 5}})])
    [issue] = check_catalog(tmp_path).issues
    assert "empty band" in issue.message


def test_individual_level_indicators_load_and_need_board_approval(tmp_path: Path) -> None:
    """Grouping by a person or audience individual is no load error any more: evaluation refuses to compute
    such an indicator until the review board approves it (engmetrics.governance.board)."""
    from engmetrics.governance.board import needs_approval

    by_person = GOOD.replace("      dataset: deployments\n", "      dataset: changes\n      group_by: author\n")
    _write(tmp_path, by_person)
    assert _where(tmp_path) == []
    assert needs_approval(load_catalog(tmp_path).get("deploys").indicator)
    _write(tmp_path, GOOD.replace("    cadence: weekly\n", "    cadence: weekly\n    audience: individual\n"))
    assert _where(tmp_path) == []
    assert needs_approval(load_catalog(tmp_path).get("deploys").indicator)

