"""`commit_files` from a real git repository made by the test: authors, UTC author dates (not the rewritten
committer dates), line counts, binary files, bots marked, a merge commit's first-parent diff, re-ingest
unchanged, `--repo`, and `engmetrics ingest git PATH`."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engmetrics.delivery.connectors import Context, ingest_git
from engmetrics.delivery.dora import DoraScope, dora_metrics
from engmetrics.errors import InputError
from engmetrics.ingest.pseudonym import pseudonym
from engmetrics.settings import DeliverySettings, load_settings
from engmetrics.store import Store

KEY = bytes(range(32))


def _env(name: str, email: str, date: str, committed: str | None = None) -> dict[str, str]:
    return {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": committed or date}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgsign=false", *args], check=True, env=env,
                   capture_output=True)


def commit(repo: Path, name: str, email: str, date: str, files: dict[str, bytes], committed: str | None = None,
           ) -> None:
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(content)
    env = _env(name, email, date, committed)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "work", env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    # committed (e.g. rebased) a week after it was written: the author date counts
    commit(root, "Ann", "ann@acme.test", "2026-03-02T10:00:00+01:00",
           {"app.py": b"a\nb\nc\n", "logo.png": b"\x89PNG\x00\x01"}, committed="2026-03-09T10:00:00+01:00")
    commit(root, "Ben", "", "2026-03-03T09:30:00-05:00", {"app.py": b"a\nB\nc\nd\n", "notes café.md": b"x\n"})
    commit(root, "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com",
           "2026-03-04T08:00:00Z", {"requirements.txt": b"x==1\ny==2\n"})
    return root


def sha_of(repo: Path, rev: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", rev], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_commit_files_from_a_real_repository(store, repo):
    result = ingest_git(store, repo, Context(), pseudonym_key=KEY)
    # 2 + 2 files by people and the bot's one file, kept and marked: nothing is skipped
    assert (result.read, result.inserted, result.quarantined, result.skipped_bots) == (5, 5, 0, 0)
    found = {(r["sha"], r["path"]): r for r in store.table("commit_files").to_pyarrow().to_pylist()}
    first, second, bot = sha_of(repo, "HEAD~2"), sha_of(repo, "HEAD~1"), sha_of(repo, "HEAD")
    ann = pseudonym("ann@acme.test", KEY)
    ben = pseudonym("Ben", KEY)  # empty email: the name
    as_tuple = {k: (r["repo"], r["author"], r["committed_at"], r["added"], r["deleted"], r["is_bot"], r["is_merge"])
                for k, r in found.items()}
    assert as_tuple == {
        # authored 10:00+01:00 = 09:00Z (committed a week later); 3 lines added; a binary file: counts unknown
        (first, "app.py"): ("shop", ann, datetime(2026, 3, 2, 9, tzinfo=UTC), 3, 0, False, False),
        (first, "logo.png"): ("shop", ann, datetime(2026, 3, 2, 9, tzinfo=UTC), None, None, False, False),
        # 09:30-05:00 = 14:30Z; b -> B and d added: 2 added, 1 deleted
        (second, "app.py"): ("shop", ben, datetime(2026, 3, 3, 14, 30, tzinfo=UTC), 2, 1, False, False),
        (second, "notes café.md"): ("shop", ben, datetime(2026, 3, 3, 14, 30, tzinfo=UTC), 1, 0, False, False),
        # dependabot[bot] matches *[bot]: kept, is_bot
        (bot, "requirements.txt"): ("shop", pseudonym("49699333+dependabot[bot]@users.noreply.github.com", KEY),
                                    datetime(2026, 3, 4, 8, tzinfo=UTC), 2, 0, True, False),
    }
    again = ingest_git(store, repo, Context(repo="acme/shop"), pseudonym_key=KEY)
    # a different --repo changes the repo column of every row
    assert (again.read, again.updated, again.unchanged) == (5, 5, 0)
    again = ingest_git(store, repo, Context(repo="acme/shop"), pseudonym_key=KEY)
    assert (again.read, again.updated, again.unchanged) == (5, 0, 5)


def test_a_merge_commit_gives_its_first_parent_diff(store, repo):
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "Cid", "cid@acme.test", "2026-03-05T10:00:00Z",
           {"services/payments/pay.py": b"p\n", "services/payments/fees.py": b"f\nf\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "Ann", "ann@acme.test", "2026-03-05T11:00:00Z", {"web/index.ts": b"w\n"})
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "Merge pull request #7",
        env=_env("Dee", "dee@acme.test", "2026-03-05T12:00:00Z"))
    merge = sha_of(repo, "HEAD")
    result = ingest_git(store, repo, Context(repo="acme/shop"), pseudonym_key=KEY)
    # 5 earlier rows + Cid's 2 + Ann's 1 + the merge's diff against main (its first parent): Cid's 2 files,
    # not Ann's web/index.ts, which was on main already
    assert result.read == 10
    rows = store.table("commit_files").to_pyarrow().to_pylist()
    merged = {(r["path"], r["added"], r["author"], r["is_merge"]) for r in rows if r["sha"] == merge}
    dee = pseudonym("dee@acme.test", KEY)
    assert merged == {("services/payments/pay.py", 1, dee, True), ("services/payments/fees.py", 2, dee, True)}
    assert sum(bool(r["is_merge"]) for r in rows) == 2
    # the change merged by that merge commit is in the monorepo scope of its files; deployed 13:00Z
    store.sql.execute("INSERT INTO changes (change_id, repo, author, created_at, merged_at, merge_commit_sha) "
                      "VALUES ('github:acme/shop#7', 'acme/shop', 'p', ?, ?, ?)",
                      [datetime(2026, 3, 5, 10, tzinfo=UTC), datetime(2026, 3, 5, 12, tzinfo=UTC), merge])
    store.sql.execute("INSERT INTO deployments (deployment_id, service, environment, started_at, status, commit_sha) "
                      "VALUES ('d1', 'shop', 'production', ?, 'success', ?)", [datetime(2026, 3, 5, 13, tzinfo=UTC),
                                                                              merge])
    window = {"start": datetime(2026, 3, 1, tzinfo=UTC), "end": datetime(2026, 3, 8, tzinfo=UTC), "min_group_size": 1}
    [payments] = dora_metrics(store, DeliverySettings(), scope=DoraScope(path_prefix="services/payments/"), **window)
    assert payments.lead_time.n == 1  # created 10:00 -> deployed 13:00
    # web/index.ts came from main, not from the merge: nothing in scope, so no deployment and no group
    assert dora_metrics(store, DeliverySettings(), scope=DoraScope(path_prefix="web/"), **window) == []


def test_not_a_repository(store, tmp_path):
    with pytest.raises(InputError, match="git log failed"):
        ingest_git(store, tmp_path, Context())
    with pytest.raises(InputError, match="no such directory"):
        ingest_git(store, tmp_path / "missing", Context())


def test_cli_ingest_git(workspace, cli, repo):
    out = cli("ingest", "git", str(repo), "--repo", "acme/shop", "--json")
    assert out.exit_code == 0, out.output
    assert {k: v for k, v in json.loads(out.output).items() if k != "files"} == {
        "dataset": "commit_files", "read": 5, "inserted": 5, "updated": 0, "unchanged": 0, "quarantined": 0,
        "skipped_bots": 0}
    with Store.open(load_settings(workspace).store_url, read_only=True) as store:
        assert {r["repo"] for r in store.table("commit_files").to_pyarrow().to_pylist()} == {"acme/shop"}
    out = cli("ingest", "git", str(repo), "--from", "github")
    assert out.exit_code == 1 and "usage: engmetrics ingest git PATH" in out.output
