"""Delivery connectors on recorded payloads (tests/fixtures/delivery): hand-checked rows, bots, drafts,
services, hotfix and rollback flags, quarantine reasons, accounting, idempotent re-ingest, `ingest --from`
for the delivery datasets, and a rebase merge linked end to end (ingest -> link -> DORA lead time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engmetrics.delivery.change_links import link_changes_to_deployments
from engmetrics.delivery.connectors import CONNECTORS, Context, connector_for, ingest_delivery
from engmetrics.delivery.connectors.bots import is_bot
from engmetrics.delivery.connectors.common import Conversion, flag_deployments
from engmetrics.delivery.dora import dora_metrics
from engmetrics.errors import InputError
from engmetrics.incidents.connectors.common import Converted
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
    # 5 pulls in pulls.json: 12, 13 (bot, ingested with is_bot), 14, 15 (no created_at: quarantined), 16
    assert counts(result) == (5, 4, 0, 1, 0)
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
    # the service is the deployments' one: the repository name, acme/shop -> shop
    assert {r["service"] for r in found.values()} == {"shop"}
    assert {k.rsplit("#")[-1]: r["is_draft"] for k, r in found.items()} == {
        "12": False, "13": False, "14": True, "16": False}
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
    assert counts(result) == (6, 5, 0, 1, 0)
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
    # 7005 is from hotfix/checkout-500; 7006 puts back d5d5..., first deployed by 7004 (before 7005's sha):
    # a rollback. The service of --service-less deployments is the repository name, like the changes'.
    flags = {k.rsplit("/", 1)[-1]: (r["service"], r["is_hotfix"], r["is_rollback"]) for k, r in found.items()}
    assert flags == {"7001": ("shop", False, False), "7002": ("shop", False, False),
                     "7004": ("shop", False, False), "7005": ("shop", True, False), "7006": ("shop", False, True)}


def test_reingest_is_unchanged(store):
    for dataset, (read, inserted) in {"changes": (5, 4), "reviews": (5, 4), "deployments": (6, 5)}.items():
        ingest(store, "github", dataset, GITHUB)
        again = ingest(store, "github", dataset, GITHUB)
        assert (again.read, again.inserted, again.updated, again.unchanged) == (read, 0, 0, inserted), dataset
    mrs = [FIXTURES / "gitlab" / "merge_requests.json"]
    ingest(store, "gitlab", "changes", mrs)
    assert counts(ingest(store, "gitlab", "changes", mrs)) == (4, 0, 4, 0, 0)


def test_gitlab_merge_requests(store):
    result = ingest(store, "gitlab", "changes", [FIXTURES / "gitlab" / "merge_requests.json"])
    assert counts(result) == (4, 4, 0, 0, 0)
    found = rows(store, "changes", "change_id")
    squash = found["gitlab:acme/platform/api!7"]
    # squash merge without a merge commit: the squash commit sha is kept; 10:00+01:00 = 09:00Z
    assert (squash["repo"], squash["author"], squash["created_at"], squash["merged_at"], squash["merge_commit_sha"],
            squash["is_bot"]) == ("acme/platform/api", pseudonym("frank", KEY), at("2026-03-02T09:00"),
                                  at("2026-03-02T15:00"), "5d1e5d1e5d1e5d1e5d1e5d1e5d1e5d1e5d1e5d1e", False)
    assert found["gitlab:acme/platform/api!8"]["is_bot"] is True  # renovate-bot matches renovate*
    assert found["gitlab:acme/platform/api!8"]["merge_commit_sha"] == "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"
    assert found["gitlab:acme/platform/api!9"]["merge_commit_sha"] is None  # open: its head sha is not kept
    # drafts: 9 by `draft`, 10 by the older `work_in_progress`; the service is the project name
    assert {k.rsplit("!")[-1]: (r["is_draft"], r["service"]) for k, r in found.items()} == {
        "7": (False, "api"), "8": (False, "api"), "9": (True, "api"), "10": (True, "api")}


def test_gitlab_deployments(store):
    result = ingest(store, "gitlab", "deployments", [FIXTURES / "gitlab" / "deployments.json"],
                    repo="acme/platform/api")
    assert counts(result) == (7, 6, 0, 1, 0)
    found = rows(store, "deployments", "deployment_id")
    got = {k.rsplit("/", 1)[-1]: (r["environment"], r["status"], r["finished_at"], r["is_hotfix"], r["is_rollback"])
           for k, r in found.items()}
    # 09:14+01:00 = 08:14Z; running: not finished; 46 from hotfix/login; 47 puts back 41's sha (41 before 46)
    assert got == {"41": ("production", "success", at("2026-03-02T15:20"), False, False),
                   "42": ("staging", "failure", at("2026-03-03T08:14"), False, False),
                   "43": ("production", "cancelled", at("2026-03-03T10:01"), False, False),
                   "45": ("production", "in_progress", None, False, False),
                   "46": ("production", "success", at("2026-03-05T09:07"), True, False),
                   "47": ("production", "success", at("2026-03-05T10:05"), False, True)}
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
    assert "read 7 = inserted 6 + updated 0 + unchanged 0 + quarantined 1" in out.output
    out = cli("ingest", "changes", "--from", "pagerduty", str(GITHUB[0]))
    assert out.exit_code == 1 and "github, gitlab" in out.output


def _deploy(deployment_id: str, started: str, sha: str | None, status: str = "success",
            environment: str = "production") -> dict:
    return {"deployment_id": deployment_id, "service": "api", "environment": environment,
            "started_at": f"2026-03-0{started}:00+00:00", "status": status, "commit_sha": sha}


def test_rollback_rule_redeploys_and_roll_forwards_are_not_rollbacks():
    rows = [_deploy("d1", "2T10", "A"), _deploy("d2", "2T11", "B"),
            _deploy("d3", "2T12", "B"),  # redeploys the live sha: no rollback
            _deploy("d4", "2T13", "A", status="failure"),  # a failed attempt to put A back: a rollback
            _deploy("d5", "2T14", "A"),  # A was first deployed (d1) before the live B (d2): a rollback
            _deploy("d6", "2T15", "B"),  # forward again to B, first deployed after A: no rollback
            _deploy("d7", "2T16", "A", environment="staging"),  # first deploy in staging: nothing earlier
            _deploy("d8", "2T17", None),  # no sha: no rollback
            {**_deploy("d0", "2T09", "A"), "started_at": "yesterday"}]  # unreadable start: not ordered
    # listed out of order across two documents: the rule orders by (started_at, deployment_id)
    conversion = flag_deployments(Conversion([Converted("a", rows[4:]), Converted("b", rows[:4])]))
    flagged = {r["deployment_id"] for c in conversion.converted for r in c.rows if r["is_rollback"]}
    assert flagged == {"d4", "d5"}


def test_hotfix_patterns_setting(store):
    settings = DeliverySettings(hotfix_patterns=["release/*-fix"])
    ingest(store, "gitlab", "deployments", [FIXTURES / "gitlab" / "deployments.json"], repo="acme/platform/api",
           settings=settings)
    hotfixes = {r["deployment_id"] for r in store.table("deployments").to_pyarrow().to_pylist() if r["is_hotfix"]}
    assert hotfixes == set()  # hotfix/login does not match release/*-fix


def test_github_rebase_merge_links_by_commit_range_end_to_end(store):
    ingest(store, "github", "changes", GITHUB)
    ingest(store, "github", "deployments", GITHUB)
    links = {r["change_id"].rsplit("#")[-1]: (r["deployment_id"].rsplit("/", 1)[-1], r["rule"])
             for r in link_changes_to_deployments(store, production_environments=["production"]).to_pyarrow()
             .to_pylist()}
    # pull 16's merge commit (the rebased head) was never deployed as such: 7004 deployed a later commit.
    # The commit range of 7004 (production, service shop) is after 7001 (03-03 16:00, the previous successful
    # production deployment; 7003 was quarantined) and up to 03-05 15:00: pulls 13 (03-04 10:00) and 16
    # (03-05 14:00) merged in it. Pull 12's merge commit is 7001's sha.
    assert links == {"12": ("7001", "merge_commit"), "13": ("7004", "commit_range"), "16": ("7004", "commit_range")}
    [dora] = dora_metrics(store, DeliverySettings(), start=at("2026-03-01T00:00"), end=at("2026-03-08T00:00"),
                          min_group_size=1)
    # lead time of the people's changes (bot pull 13 left out): pull 12 from its first commit 03-01 15:00 to
    # 7001's end 03-03 16:12 = 49.2 h; pull 16 (no commits document: from created_at) 03-05 10:00 to 7004's
    # end 15:10 = 5 h 10 min; p50 = (49.2 + 5.1667) / 2 = 27.1833
    assert dora.lead_time.n == 2 and dora.lead_time.p50_hours == pytest.approx(27.18333, abs=1e-4)
    # 4 successful production deployments (7001, 7004, 7005, 7006); 7006 rolled back 7005 (failed); 7005 is
    # a hotfix (rework)
    assert (dora.deployments, dora.failed, dora.rework) == (4, 1, 1)
