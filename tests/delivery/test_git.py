"""`commit_files` from a real git repository made by the test: authors, UTC dates, line counts, binary
files, bots left out, re-ingest unchanged, and `engmetrics ingest git PATH`."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engmetrics.delivery.connectors import Context, ingest_git
from engmetrics.errors import InputError
from engmetrics.ingest.pseudonym import pseudonym

KEY = bytes(range(32))


def commit(repo: Path, name: str, email: str, date: str, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        (repo / path).write_bytes(content)
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgsign=false", "commit", "-q", "-m", "work"], check=True,
                   env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    commit(root, "Ann", "ann@acme.test", "2026-03-02T10:00:00+01:00",
           {"app.py": b"a\nb\nc\n", "logo.png": b"\x89PNG\x00\x01"})
    commit(root, "Ben", "", "2026-03-03T09:30:00-05:00", {"app.py": b"a\nB\nc\nd\n", "notes café.md": b"x\n"})
    commit(root, "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com",
           "2026-03-04T08:00:00Z", {"requirements.txt": b"x==1\ny==2\n"})
    return root


def sha_of(repo: Path, rev: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", rev], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_commit_files_from_a_real_repository(store, repo):
    result = ingest_git(store, repo, Context(), pseudonym_key=KEY)
    # 2 + 2 files by people; the bot's one file is left out
    assert (result.read, result.inserted, result.quarantined, result.skipped_bots) == (4, 4, 0, 1)
    found = {(r["sha"], r["path"]): r for r in store.table("commit_files").to_pyarrow().to_pylist()}
    first, second = sha_of(repo, "HEAD~2"), sha_of(repo, "HEAD~1")
    ann = pseudonym("ann@acme.test", KEY)
    ben = pseudonym("Ben", KEY)  # empty email: the name
    as_tuple = {k: (r["repo"], r["author"], r["committed_at"], r["added"], r["deleted"]) for k, r in found.items()}
    assert as_tuple == {
        # 10:00+01:00 = 09:00Z; 3 lines added; a binary file: counts unknown
        (first, "app.py"): ("shop", ann, datetime(2026, 3, 2, 9, tzinfo=UTC), 3, 0),
        (first, "logo.png"): ("shop", ann, datetime(2026, 3, 2, 9, tzinfo=UTC), None, None),
        # 09:30-05:00 = 14:30Z; b -> B and d added: 2 added, 1 deleted
        (second, "app.py"): ("shop", ben, datetime(2026, 3, 3, 14, 30, tzinfo=UTC), 2, 1),
        (second, "notes café.md"): ("shop", ben, datetime(2026, 3, 3, 14, 30, tzinfo=UTC), 1, 0),
    }
    again = ingest_git(store, repo, Context(repo="acme/shop"), pseudonym_key=KEY)
    # a different --repo changes the repo column of every row
    assert (again.read, again.updated, again.unchanged) == (4, 4, 0)
    again = ingest_git(store, repo, Context(repo="acme/shop"), pseudonym_key=KEY)
    assert (again.read, again.updated, again.unchanged) == (4, 0, 4)


def test_not_a_repository(store, tmp_path):
    with pytest.raises(InputError, match="git log failed"):
        ingest_git(store, tmp_path, Context())
    with pytest.raises(InputError, match="no such directory"):
        ingest_git(store, tmp_path / "missing", Context())


def test_cli_ingest_git(workspace, cli, repo):
    out = cli("ingest", "git", str(repo), "--repo", "acme/shop", "--json")
    assert out.exit_code == 0, out.output
    assert {k: v for k, v in json.loads(out.output).items() if k != "files"} == {
        "dataset": "commit_files", "read": 4, "inserted": 4, "updated": 0, "unchanged": 0, "quarantined": 0,
        "skipped_bots": 1}
    out = cli("ingest", "git", str(repo), "--from", "github")
    assert out.exit_code == 1 and "usage: engmetrics ingest git PATH" in out.output
