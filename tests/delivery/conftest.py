"""Fixtures of the delivery tests: a workspace with a store, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.workspace import init_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An initialised workspace (its store is created on first open)."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@pytest.fixture
def workspace_store(workspace: Path):
    """The workspace's store, open for writing; closed after the test."""
    with Store.open(load_settings(workspace).store_url) as store:
        yield store


@pytest.fixture
def cli():
    """cli(workspace, "delivery", "dora", "--json") runs `engmetrics -w WORKSPACE ...` in-process."""

    def run(workspace: Path, *args: str):
        return CliRunner().invoke(app, ["-w", str(workspace), *args])

    return run
