"""`engmetrics slo validate`: exit codes, file and line, JSON fields."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from engmetrics.cli.main import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BAD = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: checkout
  indicatorRef: missing
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives:
    - target: 1.5
"""


def run(ws: Path, *args: str):
    return runner.invoke(app, ["-w", str(ws), "slo", "validate", *args])


def test_fixture_files_validate(tmp_path):
    result = run(tmp_path, str(FIXTURES / "openslo"), str(FIXTURES / "sloth" / "getting-started.yml"))
    assert result.exit_code == 0, result.output
    assert "OK: 2 documents, 1 OpenSLO SLOs, 1 Sloth SLOs" in result.stdout


def test_default_is_workspace_slos(tmp_path):
    assert run(tmp_path).exit_code == 0  # no slos/ yet: nothing to complain about
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "bad.yaml").write_text(BAD)
    result = run(tmp_path)
    assert result.exit_code == 1
    assert "slos/bad.yaml:10: ERROR [model]" in result.stderr


def test_json_lists_issues_with_lint_fields(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = run(tmp_path, str(path), "--json")
    assert result.exit_code == 1
    issues = json.loads(result.stdout)
    assert {tuple(sorted(i)) for i in issues} == {("file", "level", "line", "message", "rule", "slo")}
    assert [(i["rule"], i["line"], i["slo"], i["file"]) for i in issues] == [
        ("model", 10, "checkout", "bad.yaml")]


def test_json_clean_is_empty_list(tmp_path):
    result = run(tmp_path, str(FIXTURES / "openslo"), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_missing_file_is_usage_error(tmp_path):
    assert run(tmp_path, str(tmp_path / "nope.yaml")).exit_code == 2


def test_docs_example_validates(tmp_path):
    docs = Path(__file__).resolve().parents[2] / "docs" / "slo.md"
    text = docs.read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.yaml").write_text(example)
    result = run(tmp_path, str(tmp_path / "example.yaml"), "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout) == []
