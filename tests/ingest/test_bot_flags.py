"""Bot flags set at ingest from `delivery.bots`, on the name as written (before it is pseudonymised)."""

from __future__ import annotations

from engmetrics.settings import DeliverySettings, load_settings
from engmetrics.store import Store

BOTS = DeliverySettings().bots  # "*[bot]", "dependabot*", "renovate*", "github-actions*"


def test_changes_reviews_and_commits_are_flagged_by_name(write, ingest, rows):
    changes = write("c.csv", "change_id,repo,author,created_at,is_bot\n"
                             "c1,shop,Dependabot[bot],2026-01-05T10:00:00Z,\n"  # matches *[bot] and dependabot*
                             "c2,shop,alice,2026-01-05T10:00:00Z,\n"
                             "c3,shop,merge-queue,2026-01-05T10:00:00Z,true\n")  # the file says so: kept
    assert ingest("changes", changes, bots=BOTS).inserted == 3
    assert rows("SELECT change_id, is_bot, author LIKE 'p\\_%' ESCAPE '\\' FROM changes ORDER BY 1") == [
        ("c1", True, True), ("c2", False, True), ("c3", True, True)]  # names stored as pseudonyms
    reviews = write("r.csv", "change_id,reviewer,submitted_at,state\n"
                             "c2,Renovate-Approve,2026-01-05T11:00:00Z,approved\nc2,bob,2026-01-05T12:00:00Z,commented\n")
    ingest("reviews", reviews, bots=BOTS)
    assert rows("SELECT state, is_bot FROM reviews ORDER BY submitted_at") == [("approved", True), ("commented", False)]
    commits = write("f.csv", "sha,path,repo,author,committed_at\n"
                             "s1,a.py,shop,github-actions,2026-01-05T10:00:00Z\ns2,a.py,shop,alice,2026-01-05T10:00:00Z\n")
    ingest("commit_files", commits, bots=BOTS)
    assert rows("SELECT sha, is_bot FROM commit_files ORDER BY sha") == [("s1", True), ("s2", False)]


def test_without_globs_the_file_is_stored_as_written(write, ingest, rows):
    path = write("c.csv", "change_id,repo,author,created_at\nc1,shop,Dependabot[bot],2026-01-05T10:00:00Z\n")
    ingest("changes", path)
    assert rows("SELECT is_bot FROM changes") == [(None,)]


def test_cli_ingest_uses_the_workspace_bots(workspace, cli, write):
    (workspace / "engmetrics.yaml").write_text((workspace / "engmetrics.yaml").read_text().replace(
        'bots: ["*[bot]", "dependabot*", "renovate*", "github-actions*"]', 'bots: ["ci-*"]'))
    path = write("c.csv", "change_id,repo,author,created_at\nc1,shop,ci-runner,2026-01-05T10:00:00Z\n"
                          "c2,shop,dependabot,2026-01-05T10:00:00Z\n")
    assert cli("ingest", "changes", path).exit_code == 0
    with Store.open(load_settings(workspace).store_url) as store:
        assert store.sql.execute("SELECT change_id, is_bot FROM changes ORDER BY 1").fetchall() == [
            ("c1", True), ("c2", False)]
