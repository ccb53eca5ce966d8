"""Settings: option > environment > engmetrics.yaml > defaults; errors name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engmetrics.errors import InputError
from engmetrics.settings import load_settings

YAML = """\
# settings
name: acme
timezone: Europe/Berlin
store_url: duckdb:///from/yaml.duckdb
privacy:
  min_group_size: 8
"""


@pytest.fixture
def ws(tmp_path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def test_defaults(ws):
    s = load_settings(ws)
    assert s.workspace == ws.resolve()
    assert (s.name, s.timezone, s.store_lock_timeout) == ("engmetrics", "UTC", 30.0)
    assert s.store_url == f"duckdb://{ws.resolve()}/.engmetrics/store.duckdb"
    assert s.pseudonym_key_file == ws.resolve() / ".engmetrics" / "pseudonym.key"
    assert (s.privacy.min_group_size, s.privacy.individual_delay_days) == (5, 7)


def test_yaml_over_defaults(ws):
    (ws / "engmetrics.yaml").write_text(YAML + "pseudonym_key_file: secrets/key\n")
    s = load_settings(ws)
    assert (s.name, s.timezone, s.store_url) == ("acme", "Europe/Berlin", "duckdb:///from/yaml.duckdb")
    assert s.privacy.min_group_size == 8
    assert s.pseudonym_key_file == ws.resolve() / "secrets" / "key"


def test_environment_over_yaml(ws, monkeypatch):
    (ws / "engmetrics.yaml").write_text(YAML)
    monkeypatch.setenv("ENGMETRICS_STORE_URL", "duckdb:///from/env.duckdb")
    monkeypatch.setenv("ENGMETRICS_PRIVACY__MIN_GROUP_SIZE", "11")
    s = load_settings(ws)
    assert s.store_url == "duckdb:///from/env.duckdb"
    assert s.privacy.min_group_size == 11
    assert s.name == "acme"  # not in the environment: the file still counts


def test_option_over_environment(ws, monkeypatch):
    monkeypatch.setenv("ENGMETRICS_STORE_URL", "duckdb:///from/env.duckdb")
    assert load_settings(ws, store_url="duckdb:///from/option.duckdb").store_url == "duckdb:///from/option.duckdb"
    assert load_settings(ws, store_url=None).store_url == "duckdb:///from/env.duckdb"  # None = not given


def test_workspace_from_environment_and_option(tmp_path, monkeypatch):
    env_ws, opt_ws = tmp_path / "env", tmp_path / "opt"
    for root, name in ((env_ws, "from-env"), (opt_ws, "from-option")):
        root.mkdir()
        (root / "engmetrics.yaml").write_text(f"name: {name}\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().workspace == tmp_path.resolve()
    monkeypatch.setenv("ENGMETRICS_WORKSPACE", str(env_ws))
    s = load_settings()
    assert (s.workspace, s.name) == (env_ws.resolve(), "from-env")
    s = load_settings(opt_ws)
    assert (s.workspace, s.name) == (opt_ws.resolve(), "from-option")


def test_wrong_setting_names_file_and_line(ws):
    (ws / "engmetrics.yaml").write_text("name: acme\n# a comment\n\nprivacy:\n  min_group_size: one\n")
    with pytest.raises(InputError) as err:
        load_settings(ws)
    assert f"{ws / 'engmetrics.yaml'}:5: setting privacy.min_group_size" in str(err.value)


def test_out_of_range_and_unknown_settings_name_their_line(ws):
    (ws / "engmetrics.yaml").write_text("name: acme\nprivacy:\n  min_group_size: 1\n")
    with pytest.raises(InputError, match=r"engmetrics\.yaml:3: setting privacy\.min_group_size"):
        load_settings(ws)
    (ws / "engmetrics.yaml").write_text("name: acme\ntimezone: UTC\nstore_ulr: duckdb://\n")
    with pytest.raises(InputError, match=r"engmetrics\.yaml:3: setting store_ulr: Extra inputs"):
        load_settings(ws)


def test_yaml_syntax_error_and_non_mapping(ws):
    (ws / "engmetrics.yaml").write_text("name: acme\n  timezone: UTC\n")
    with pytest.raises(InputError, match=r"engmetrics\.yaml:2:11: invalid YAML"):
        load_settings(ws)
    (ws / "engmetrics.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError, match=r"engmetrics\.yaml:1: expected a mapping"):
        load_settings(ws)


def test_wrong_environment_value_names_the_variable(ws, monkeypatch):
    monkeypatch.setenv("ENGMETRICS_STORE_LOCK_TIMEOUT", "soon")
    with pytest.raises(InputError, match="environment ENGMETRICS_STORE_LOCK_TIMEOUT"):
        load_settings(ws)


def test_wrong_option_names_the_option(ws):
    with pytest.raises(InputError, match="option store_lock_timeout"):
        load_settings(ws, store_lock_timeout=-1)


def test_cli_store_url_option_and_environment(cli, workspace, tmp_path, monkeypatch, write):
    path = write("h.csv", "calendar,date,name\nuk,2026-12-25,Christmas\n")
    env_store, opt_store = tmp_path / "env.duckdb", tmp_path / "opt.duckdb"
    monkeypatch.setenv("ENGMETRICS_STORE_URL", f"duckdb://{env_store}")
    assert cli("ingest", "holidays", path, "--json").exit_code == 0
    assert env_store.exists() and not (workspace / ".engmetrics" / "store.duckdb").exists()
    assert cli("--store-url", f"duckdb://{opt_store}", "ingest", "holidays", path, "--json").exit_code == 0
    assert opt_store.exists()


def test_every_setting_is_documented_in_the_workspace_template():
    from importlib import resources

    from engmetrics.settings import PrivacySettings, Settings

    template = (resources.files("engmetrics") / "templates" / "workspace" / "engmetrics.yaml").read_text()
    names = [n for n in Settings.model_fields if n != "workspace"] + list(PrivacySettings.model_fields)
    missing = [n for n in names if f"{n}:" not in template]
    assert missing == [], f"settings missing from templates/workspace/engmetrics.yaml: {missing}"


def test_relative_duckdb_store_url_is_relative_to_the_workspace(tmp_path, monkeypatch):
    from engmetrics.settings import load_settings

    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "engmetrics.yaml").write_text("store_url: duckdb://data/store.duckdb\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(workspace).store_url == f"duckdb://{workspace}/data/store.duckdb"
    assert load_settings(workspace, store_url="duckdb://").store_url == "duckdb://"
