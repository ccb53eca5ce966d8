"""`engmetrics export grafana`: a thin shell over `grafana_dashboard`."""

from __future__ import annotations

import json

from engmetrics.catalog.loader import load_catalog
from engmetrics.export.grafana import grafana_dashboard


def test_writes_the_dashboard_and_prints_its_path(cli, workspace, tmp_path):
    out = tmp_path / "dashboards" / "new"
    run = cli("export", "grafana", "--out", out)
    assert run.exit_code == 0, run.output
    path = out / "engmetrics-overview.json"
    assert run.stdout.strip() == str(path)
    board = json.loads(path.read_text())
    assert board == grafana_dashboard(load_catalog(workspace), title="my-organisation overview")
    assert [p["title"] for p in board["panels"] if p["type"] == "row"] == [
        "Ship changes often without breaking production"]


def test_json_prints_the_dashboard_and_writes_nothing(cli, workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = cli("export", "grafana", "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["title"] == "my-organisation overview"
    assert not list(tmp_path.glob("*.json"))


def test_invalid_catalog_is_bad_input(cli, workspace, tmp_path):
    (workspace / "metrics" / "broken.yaml").write_text("id: x\nname: X\n")
    run = cli("export", "grafana", "--out", tmp_path)
    assert run.exit_code == 1
    assert "broken.yaml" in run.stderr


def test_help_shows_an_example(cli):
    run = cli("export", "grafana", "--help")
    assert run.exit_code == 0 and "Example: engmetrics export grafana --out dashboards" in run.stdout
