"""Delivery connectors on recorded payloads (tests/fixtures/delivery): hand-checked rows, bots,
quarantine reasons, accounting, idempotent re-ingest, and `ingest --from` for the delivery datasets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engmetrics.delivery.connectors import CONNECTORS, Context, connector_for, ingest_delivery
from engmetrics.delivery.connectors.bots import is_bot
from engmetrics.errors import InputError
from engmetrics.ingest.pseudonym import pseudonym
from engmetrics.settings import DeliverySettings
from engmetrics.store import Store
from engmetrics.store.inventory import quarantine_rows

FIXTURES = Path(__file__).parent.parent / "fixtures" / "delivery"
GITHUB = sorted((FIXTURES / "github").glob("*.json"))
KEY = bytes(range(32))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ingest(store: Store, vendor: str, dataset: str, files: list[Path], **context):
    return ingest_delivery(store, CONNECTORS[vendor], dataset, Context(**context), files=files, pseudonym_key=KEY)


def rows(store: Store, table: str, key: str) -> dict:
    return {r[key]: r for r in store.table(table).to_pyarrow().to_pylist()}


def reasons(store: Store, dataset: str) -> dict[tuple[str, int], str]:
    return {(Path(q["source_file"]).name, q["line"]): q["reason"] for q in quarantine_rows(store, dataset)}


def counts(result) -> tuple[int, ...]:
    assert result.read == result.inserted + result.updated + result.unchanged + result.quarantined
    return result.read, result.inserted, result.unchanged, result.quarantined, result.skipped_bots


def test_github_changes(store):
    result = ingest(store, "github", "changes", GITHUB)
    # 4 pulls in pulls.json: 12, 13 (bot, ingested with is_bot), 14, 15 (no created_at: quarantined)
    assert counts(result) == (4, 3, 0, 1, 0)
    found = rows(store, "changes", "change_id")
    pr = found["github:acme/shop#12"]
    assert pr["author"] == pseudonym("alice", KEY) and pr["is_bot"] is False
    # earliest commit author date: 2026-03-01T16:00+01:00 = 15:00Z (before 2026-03-02T08:30Z)
    # ready: the ready_for_review event 11:00Z; first review by someone else and no bot: carol 13:00Z
    # (the bot's 09:30 and the author's own 12:00 do not count); approved: carol 12:00+01:00 = 11:00Z next day
    assert (pr["first_commit_at"], pr["created_at"], pr["ready_at"], pr["first_review_at"], pr["approved_at"],
            pr["merged_at"]) == (at("2026-03-01T15:00"), at("2026-03-02T09:00"), at("2026-03-02T11:00"),
                                 at("2026-03-02T13:00"), at("2026-03-03T11:00"), at("2026-03-03T15:30"))
    assert (pr["merge_commit_sha"], pr["additions"], pr["deletions"], pr["repo"]) == (
        "9f1c2e3d4b5a69788776655443322110ffeeddcc", 120, 30, "acme/shop")
    assert found["github:acme/shop#13"]["is_bot"] is True
    draft = found["github:acme/shop#14"]
    # 10:00+01:00 = 09:00Z; open: the test-merge sha is not kept; no detail, commits or timeline recorded
    assert (draft["created_at"], draft["merge_commit_sha"], draft["ready_at"], draft["additions"]) == (
        at("2026-03-05T09:00"), None, None, None)
    assert set(reasons(store, "changes")) == {("pulls.json", 4)}
    assert "created_at" in reasons(store, "changes")[("pulls.json", 4)]


def test_github_reviews_bots_left_out_pending_quarantined(store):
    result = ingest(store, "github", "reviews", GITHUB)
    # 6 reviews: 1 bot left out (skipped_bots) -> read 5 = 4 inserted + 1 pending quarantined
    assert counts(result) == (5, 4, 0, 1, 1)
    found = store.table("reviews").to_pyarrow().to_pylist()
    assert sorted((r["reviewer"], r["state"], r["submitted_at"]) for r in found) == sorted([
        (pseudonym("alice", KEY), "commented", at("2026-03-02T12:00")),
        (pseudonym("carol", KEY), "commented", at("2026-03-02T13:00")),
        (pseudonym("dave", KEY), "changes_requested", at("2026-03-02T14:00")),
        (pseudonym("carol", KEY), "approved", at("2026-03-03T11:00"))])
    assert {r["change_id"] for r in found} == {"github:acme/shop#12"}
    # line 5 of the kept rows (the bot's review is not written, so the pending one is the 5th)
    assert reasons(store, "reviews") == {("pulls-12-reviews.json", 5): "state: a pending review (not submitted)"}


def test_github_deployments_final_status(store):
    result = ingest(store, "github", "deployments", GITHUB)
    assert counts(result) == (3, 2, 0, 1, 0)
    found = rows(store, "deployments", "deployment_id")
    prod = found["github:acme/shop/deployments/7001"]
    # final status: the latest other than inactive = success at 16:12Z; "Production" -> production
    assert (prod["service"], prod["environment"], prod["status"], prod["started_at"], prod["finished_at"],
            prod["commit_sha"]) == ("shop", "production", "success", at("2026-03-03T16:00"), at("2026-03-03T16:12"),
                                    "9f1c2e3d4b5a69788776655443322110ffeeddcc")
    staging = found["github:acme/shop/deployments/7002"]
    # error -> failure; 11:00+02:00 = 09:00Z
    assert (staging["environment"], staging["status"], staging["started_at"], staging["finished_at"]) == (
        "staging", "failure", at("2026-03-04T09:00"), at("2026-03-04T09:05"))
    assert reasons(store, "deployments") == {("deployments.json", 3): "status: no statuses document "
                                             "(GET /deployments/{id}/statuses) for this deployment"}


def test_reingest_is_unchanged(store):
    for dataset, (read, inserted) in {"changes": (4, 3), "reviews": (5, 4), "deployments": (3, 2)}.items():
        ingest(store, "github", dataset, GITHUB)
        again = ingest(store, "github", dataset, GITHUB)
        assert (again.read, again.inserted, again.updated, again.unchanged) == (read, 0, 0, inserted), dataset
    mrs = [FIXTURES / "gitlab" / "merge_requests.json"]
    ingest(store, "gitlab", "changes", mrs)
    assert counts(ingest(store, "gitlab", "changes", mrs)) == (3, 0, 3, 0, 0)


def test_gitlab_merge_requests(store):
    result = ingest(store, "gitlab", "changes", [FIXTURES / "gitlab" / "merge_requests.json"])
    assert counts(result) == (3, 3, 0, 0, 0)
    found = rows(store, "changes", "change_id")
    squash = found["gitlab:acme/platform/api!7"]
    # squash merge without a merge commit: the squash commit sha is kept; 10:00+01:00 = 09:00Z
    assert (squash["repo"], squash["author"], squash["created_at"], squash["merged_at"], squash["merge_commit_sha"],
            squash["is_bot"]) == ("acme/platform/api", pseudonym("frank", KEY), at("2026-03-02T09:00"),
                                  at("2026-03-02T15:00"), "5d1e5d1e5d1e5d1e5d1e5d1e5d1e5d1e5d1e5d1e", False)
    assert found["gitlab:acme/platform/api!8"]["is_bot"] is True  # renovate-bot matches renovate*
    assert found["gitlab:acme/platform/api!8"]["merge_commit_sha"] == "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"
    assert found["gitlab:acme/platform/api!9"]["merge_commit_sha"] is None  # open: its head sha is not kept


def test_gitlab_deployments(store):
    result = ingest(store, "gitlab", "deployments", [FIXTURES / "gitlab" / "deployments.json"],
                    repo="acme/platform/api")
    assert counts(result) == (5, 4, 0, 1, 0)
    found = rows(store, "deployments", "deployment_id")
    got = {k.rsplit("/", 1)[-1]: (r["environment"], r["status"], r["finished_at"]) for k, r in found.items()}
    # 09:14+01:00 = 08:14Z; running: not finished
    assert got == {"41": ("production", "success", at("2026-03-02T15:20")),
                   "42": ("staging", "failure", at("2026-03-03T08:14")),
                   "43": ("production", "cancelled", at("2026-03-03T10:01")),
                   "45": ("production", "in_progress", None)}
    assert found["gitlab:acme/platform/api/deployments/41"]["service"] == "api"
    assert reasons(store, "deployments") == {
        ("deployments.json", 4): "status: unknown or not-run deployment status 'skipped'"}


def test_gitlab_deployments_need_the_project(store):
    with pytest.raises(InputError, match="--repo"):
        ingest(store, "gitlab", "deployments", [FIXTURES / "gitlab" / "deployments.json"])


def test_bots_setting_and_literal_brackets(store):
    assert is_bot("Dependabot[bot]", ["*[bot]"]) and not is_bot("robot", ["*[bot]"])
    settings = DeliverySettings(bots=["ali*"])
    ingest(store, "github", "changes", GITHUB, settings=settings)
    found = rows(store, "changes", "change_id")
    assert (found["github:acme/shop#12"]["is_bot"], found["github:acme/shop#13"]["is_bot"]) == (True, False)


def test_unknown_documents_and_vendors(store, tmp_path):
    odd = tmp_path / "comments.json"
    odd.write_text("[]")
    with pytest.raises(InputError, match="cannot tell which GitHub API call"):
        ingest(store, "github", "changes", [odd])
    with pytest.raises(InputError, match="fills changes, deployments, not reviews"):
        connector_for("gitlab", "reviews")


def test_cli_from_github_and_gitlab(workspace, cli):
    out = cli("ingest", "reviews", "--from", "github", *map(str, GITHUB), "--json")
    assert out.exit_code == 0, out.output
    assert {k: v for k, v in json.loads(out.output).items() if k != "files"} == {
        "dataset": "reviews", "read": 5, "inserted": 4, "updated": 0, "unchanged": 0, "quarantined": 1,
        "skipped_bots": 1}
    out = cli("ingest", "deployments", "--from", "gitlab", "--repo", "acme/platform/api",
              "--service", "checkout", str(FIXTURES / "gitlab" / "deployments.json"))
    assert out.exit_code == 0, out.output
    assert "read 5 = inserted 4 + updated 0 + unchanged 0 + quarantined 1" in out.output
    out = cli("ingest", "changes", "--from", "pagerduty", str(GITHUB[0]))
    assert out.exit_code == 1 and "github, gitlab" in out.output
