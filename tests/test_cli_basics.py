"""The CLI shell: init, the global -w option, datasets list, quarantine list, ingest output and errors."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from engmetrics import __version__
from engmetrics.cli.main import app
from engmetrics.store import REGISTRY

runner = CliRunner()
HOLIDAYS = "calendar,date,name\nuk,2026-12-25,Christmas\nuk,2026-02-30,Nope\n"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout.strip()) == (0, f"engmetrics {__version__}")


def test_init_scaffolds_the_layout(tmp_path):
    root = tmp_path / "ws"
    result = runner.invoke(app, ["init", str(root)])
    assert result.exit_code == 0, result.output
    for name in ("metrics", "slos", "budgets", "policies", "org", ".engmetrics"):
        assert (root / name).is_dir(), name
    assert (root / "engmetrics.yaml").is_file()
    assert ".engmetrics/" in (root / ".gitignore").read_text().splitlines()
    key = root / ".engmetrics" / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key.read_text().strip())) == 32


def test_init_refuses_to_overwrite_without_force(tmp_path):
    root = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    key = (root / ".engmetrics" / "pseudonym.key").read_text()
    (root / "engmetrics.yaml").write_text("name: mine\n")
    result = runner.invoke(app, ["init", str(root)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (root / "engmetrics.yaml").read_text() == "name: mine\n"
    assert runner.invoke(app, ["init", str(root), "--force"]).exit_code == 0
    assert (root / "engmetrics.yaml").read_text() != "name: mine\n"
    assert (root / ".engmetrics" / "pseudonym.key").read_text() == key  # the key is never replaced


def test_workspace_option_works_on_every_command(workspace, tmp_path, monkeypatch, write):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write("h.csv", HOLIDAYS)
    for option in ("-w", "--workspace"):
        for args in (["ingest", "holidays", str(path), "--json"], ["datasets", "list", "--json"],
                     ["quarantine", "list", "--json"]):
            result = runner.invoke(app, [option, str(workspace), *args])
            assert result.exit_code == 0, (args, result.output)
    assert (workspace / ".engmetrics" / "store.duckdb").exists()
    assert not (elsewhere / ".engmetrics").exists()
    result = runner.invoke(app, ["-w", str(workspace), "init", str(tmp_path / "other")])
    assert result.exit_code == 0 and (tmp_path / "other" / "engmetrics.yaml").exists()


def test_workspace_from_environment(workspace, tmp_path, monkeypatch, write):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGMETRICS_WORKSPACE", str(workspace))
    assert runner.invoke(app, ["ingest", "holidays", str(write("h.csv", HOLIDAYS)), "--json"]).exit_code == 0
    assert (workspace / ".engmetrics" / "store.duckdb").exists()


def test_ingest_json_summary(cli, write):
    path = write("h.csv", HOLIDAYS)
    result = cli("ingest", "holidays", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"dataset": "holidays", "files": [str(path)], "read": 2, "inserted": 1,
                                         "updated": 0, "unchanged": 0, "quarantined": 1}
    again = json.loads(cli("ingest", "holidays", path, "--json").stdout)
    assert (again["read"], again["inserted"], again["unchanged"], again["quarantined"]) == (2, 0, 1, 1)


def test_ingest_human_output(cli, write):
    result = cli("ingest", "holidays", write("h.csv", HOLIDAYS))
    assert result.exit_code == 0, result.output
    assert "holidays: read 2 = inserted 1 + updated 0 + unchanged 0 + quarantined 1" in result.stdout
    assert "engmetrics quarantine list holidays" in result.stdout


def test_ingest_strict_exit_code(cli, write):
    result = cli("ingest", "holidays", write("h.csv", HOLIDAYS), "--strict", "--json")
    assert result.exit_code == 1
    assert "--strict: 1 invalid row(s); nothing was written" in result.stderr
    assert json.loads(cli("quarantine", "list", "--json").stdout) == []


def test_ingest_assume_tz_option(cli, write):
    path = write("s.csv", "service,indicator,ts,good,total\ns,i,2026-07-01 12:00:00,1,2\n")
    summary = json.loads(cli("ingest", "sli_events", path, "--json", "--assume-tz", "Europe/Berlin").stdout)
    assert (summary["inserted"], summary["quarantined"]) == (1, 0)


def test_ingest_format_option(cli, write):
    path = write("h.txt", '{"calendar": "uk", "date": "2026-12-25"}\n')
    assert cli("ingest", "holidays", path, "--json").exit_code == 1
    summary = json.loads(cli("ingest", "holidays", path, "--format", "jsonl", "--json").stdout)
    assert summary["inserted"] == 1


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "no such file"),
    ("h.csv", "calendar,name\nuk,x\n", "lacks required column(s) date for dataset holidays"),
    ("h.csv", "calendar,date,date\n", "header names column 'date' twice"),
    ("h.csv", "", "the file is empty or has no header line"),
    ("h.parquet", "PAR1 not really", "not a readable Parquet file"),
])
def test_unreadable_file_exits_1_naming_file_and_problem(name, content, message, cli, write, tmp_path):
    good = write("good.csv", "calendar,date,name\nuk,2026-12-25,Christmas\n")
    bad = write(name, content) if content is not None else tmp_path / name
    result = cli("ingest", "holidays", good, bad, "--json")
    assert result.exit_code == 1
    assert str(bad) in result.stderr and message in result.stderr
    datasets = {d["name"]: d for d in json.loads(cli("datasets", "list", "--json").stdout)}
    assert datasets["holidays"]["rows"] == 0  # the good file of the same call was not written either


def test_unknown_dataset_is_a_clean_error(cli, write):
    result = cli("ingest", "nope", write("h.csv", HOLIDAYS))
    assert result.exit_code == 1
    assert "unknown dataset 'nope'" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_datasets_list_json(cli, write):
    cli("ingest", "holidays", write("h.csv", HOLIDAYS))
    cli("ingest", "sli_events", write("s.jsonl", '{"service": "s", "indicator": "i", "ts": 1767225600, '
                                                 '"good": 1, "total": 1}\n'))
    listed = json.loads(cli("datasets", "list", "--json").stdout)
    assert [d["name"] for d in listed] == list(REGISTRY)
    assert all(set(d) >= {"name", "columns", "key", "rows"} for d in listed)
    by_name = {d["name"]: d for d in listed}
    assert by_name["holidays"]["key"] == ["calendar", "date"]
    assert by_name["holidays"]["columns"] == [{"name": "calendar", "type": "string"},
                                              {"name": "date", "type": "date"},
                                              {"name": "name", "type": "string"}]
    assert by_name["sli_events"]["key"] == ["service", "indicator", "ts"]
    assert [c["name"] for c in by_name["deployments"]["columns"]][:4] == [
        "deployment_id", "service", "environment", "started_at"]
    assert {n: d["rows"] for n, d in by_name.items() if d["rows"]} == {"holidays": 1, "sli_events": 1}


def test_datasets_list_human(cli):
    result = cli("datasets", "list")
    assert result.exit_code == 0
    assert "deployments" in result.stdout and "deployment_id" in result.stdout


def test_quarantine_list(cli, write):
    path = write("h.csv", HOLIDAYS)
    cli("ingest", "holidays", path)
    cli("ingest", "sli_events", write("s.csv", "service,indicator,ts,good,total\ns,i,yesterday,1,1\n"))
    everything = json.loads(cli("quarantine", "list", "--json").stdout)
    assert {q["dataset"] for q in everything} == {"holidays", "sli_events"}
    [q] = json.loads(cli("quarantine", "list", "holidays", "--json").stdout)
    assert (q["dataset"], q["source_file"], q["line"], q["column"]) == ("holidays", str(path), 3, "date")
    assert q["reason"] == 'date: expected a date (YYYY-MM-DD), got "2026-02-30"'
    assert json.loads(q["record"]) == {"calendar": "uk", "date": "2026-02-30", "name": "Nope"}
    human = cli("quarantine", "list", "holidays")
    assert f"{path}:3" in human.stdout.replace("\n", "") or "1 quarantined row(s)" in human.stdout
    assert "1 quarantined row(s)" in human.stdout
    assert len(json.loads(cli("quarantine", "list", "--limit", "1", "--json").stdout)) == 1


def test_the_cli_starts_without_scipy():
    """The insights commands import scipy (and ruptures) when they run, so every other command starts without
    them: importing the CLI must not load either."""
    code = "import sys, engmetrics.cli.main; print(sorted({'scipy', 'ruptures'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_console_script_imports_only_the_command_it_runs(tmp_path):
    """`engmetrics -w DIR ingest ...` loads the ingest command, not the cost, incidents or SLO ones (nor pandas,
    which only they need); a bare `--version` loads no command; `--help` lists every command."""
    code = ("import sys; from engmetrics.cli.app import run\n"
            "try:\n    run()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print(code, sorted(m for m in ('engmetrics.cli.cost', 'engmetrics.cli.incidents', 'engmetrics.cli.slo',"
            " 'engmetrics.cli.ingest') if m in sys.modules), 'pandas' in sys.modules)")

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
        return done.stdout.strip().splitlines()[-1]

    assert run("-w", str(tmp_path), "ingest", "--help") == "0 ['engmetrics.cli.ingest'] False"
    assert run("--version") == "0 [] False"
    assert run("--help").startswith("0 ['engmetrics.cli.cost', 'engmetrics.cli.incidents', 'engmetrics.cli.ingest', "
                                    "'engmetrics.cli.slo']")


def test_command_named_skips_every_global_option_that_takes_a_value():
    """`command_named` must know the app's value-taking global options, or an option's value would be taken
    for the command's name."""
    from engmetrics.cli.app import _GLOBAL_VALUED

    valued = {name for p in typer.main.get_command(app).params if not getattr(p, "is_flag", False)
              for name in p.opts}
    assert set(_GLOBAL_VALUED) == valued
