"""The review board: the file, who needs approval, the decision rules, the states, the audit trail, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.catalog.model import Indicator
from engmetrics.catalog.version import definition_version
from engmetrics.errors import ValidationFailed
from engmetrics.governance import audit
from engmetrics.governance.board import (
    BoardError,
    NotABoardMember,
    ReviewBoard,
    approval_status,
    approval_version,
    approve,
    check_review_board,
    decisions,
    load_review_board,
    needs_approval,
    propose,
    reject,
)
from engmetrics.store import Store

BOARD = ReviewBoard(name="People metrics board", members=["ana", "ben", "cy"], quorum=2)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ind(**changes: Any) -> Indicator:
    base: dict[str, Any] = {
        "id": "reviews_given", "name": "Reviews given", "kind": "leading", "unit": "reviews",
        "direction": "higher_is_better", "cadence": "weekly", "audience": "team", "status": "proposed",
        "affects": ["performance_review"], "calculation": {"dataset": "reviews", "measure": {"type": "count"}}}
    return Indicator.model_validate({**base, **changes})


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- the file ---------------------------------------------------------------------------------------------------

def _board_file(root: Path, text: str) -> None:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "review_board.yaml").write_text(text)


def test_board_file_loads(tmp_path: Path) -> None:
    _board_file(tmp_path, "name: People board\nmembers: [ana, ben]\nquorum: 2\n")
    assert load_review_board(tmp_path) == ReviewBoard(name="People board", members=["ana", "ben"], quorum=2)


def test_no_board_file_or_only_comments_is_no_board(tmp_path: Path) -> None:
    assert load_review_board(tmp_path) is None
    _board_file(tmp_path, "# name: People board\n# quorum: 2\n")
    assert check_review_board(tmp_path) == (None, [])


def test_quorum_above_members_is_located_at_its_line(tmp_path: Path) -> None:
    _board_file(tmp_path, "name: People board\nmembers:\n  - ana\n  - ben\nquorum: 3\n")
    board, [issue] = check_review_board(tmp_path)
    assert board is None
    assert (issue.file, issue.line, issue.level) == ("policies/review_board.yaml", 5, "ERROR")
    assert "quorum 3 is more than the 2 members" in issue.message
    with pytest.raises(ValidationFailed):
        load_review_board(tmp_path)


def test_a_quorum_equal_to_the_members_loads_with_a_warning(tmp_path: Path) -> None:
    """review_b #9: a member's own proposal can never reach such a quorum; say so where it is set."""
    _board_file(tmp_path, "name: Pair\nmembers: [ana, ben]\nquorum: 2\n")
    board, [issue] = check_review_board(tmp_path)
    assert board == ReviewBoard(name="Pair", members=["ana", "ben"], quorum=2)
    assert (issue.level, issue.file, issue.line) == ("WARNING", "policies/review_board.yaml", 3)
    assert issue.message.startswith("quorum 2 equals the 2 members")
    assert load_review_board(tmp_path) == board  # a warning does not refuse the file
    _board_file(tmp_path, "name: Trio\nmembers: [ana, ben, cy]\nquorum: 2\n")
    assert check_review_board(tmp_path)[1] == []


def test_duplicate_member_and_unknown_key_are_errors(tmp_path: Path) -> None:
    _board_file(tmp_path, "name: B\nmembers: [ana, ana]\nquorum: 1\nchair: ana\n")
    _, issues = check_review_board(tmp_path)
    assert sorted((i.line, i.message.split(":")[0]) for i in issues) == [(2, "members"), (4, "chair")]


def test_board_and_its_issues_reach_the_catalog(tmp_path: Path) -> None:
    from engmetrics.catalog.loader import check_catalog

    _board_file(tmp_path, "name: B\nmembers: [ana]\nquorum: 0\n")
    assert [(i.file, i.line) for i in check_catalog(tmp_path).issues] == [("policies/review_board.yaml", 3)]
    _board_file(tmp_path, "name: B\nmembers: [ana]\nquorum: 1\n")
    assert check_catalog(tmp_path).catalog.review_board == ReviewBoard(name="B", members=["ana"], quorum=1)


# -- who needs approval -------------------------------------------------------------------------------------------

def test_needs_approval() -> None:
    assert needs_approval(ind())  # affects performance_review
    assert needs_approval(ind(affects=[], audience="individual"))
    by_author = {"dataset": "changes", "group_by": "author", "measure": {"type": "count"}}
    assert needs_approval(ind(affects=[], calculation=by_author))  # a person column
    by_repo = {"dataset": "changes", "group_by": "repo", "measure": {"type": "count"}}
    assert not needs_approval(ind(affects=[], calculation=by_repo))
    assert not needs_approval(ind(affects=[]))
    assert not needs_approval(ind(affects=[], calculation={"calculator": "anything"}))


# -- the rules ----------------------------------------------------------------------------------------------------

def test_a_proposer_cannot_approve(store: Store) -> None:
    propose(store, BOARD, ind(), "ana", at=at(0))
    with pytest.raises(BoardError, match=r"ana proposed reviews_given .* cannot also approve it"):
        approve(store, BOARD, ind(), "ana", "looks fine", at=at(1))
    assert approval_status(store, BOARD, ind()).state == "pending"
    assert [d.action for d in decisions(store, "reviews_given")] == ["propose"]


def test_quorum_of_two_needs_two_distinct_members(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))  # anyone may propose
    approve(store, BOARD, ind(), "ana", "weekly aggregates only", at=at(1))
    status = approval_status(store, BOARD, ind())
    assert (status.state, status.approvers, status.quorum) == ("pending", ["ana"], 2)
    with pytest.raises(BoardError, match="ana has already voted"):
        approve(store, BOARD, ind(), "ana", "again", at=at(2))
    assert approval_status(store, BOARD, ind()).state == "pending"
    approve(store, BOARD, ind(), "ben", "assessment reviewed", at=at(3))
    status = approval_status(store, BOARD, ind())
    assert (status.state, status.approvers, status.proposed_by, status.in_force) == (
        "approved", ["ana", "ben"], "dee", True)


def test_a_non_member_cannot_approve_or_reject(store: Store) -> None:
    propose(store, BOARD, ind(), "ana", at=at(0))
    with pytest.raises(NotABoardMember, match="mallory is not a member of the People metrics board; members: "
                                              "ana, ben, cy"):
        approve(store, BOARD, ind(), "mallory", "trust me", at=at(1))
    with pytest.raises(NotABoardMember):
        reject(store, BOARD, ind(), "mallory", "no", at=at(1))
    assert len(decisions(store, "reviews_given")) == 1


def test_rationale_is_required(store: Store) -> None:
    propose(store, BOARD, ind(), "ana", at=at(0))
    with pytest.raises(BoardError, match="a rationale is required to approve"):
        approve(store, BOARD, ind(), "ben", "   ", at=at(1))
    with pytest.raises(BoardError, match="a rationale is required to reject"):
        reject(store, BOARD, ind(), "ben", "", at=at(1))


def test_an_approval_lapses_when_the_definition_changes(store: Store) -> None:
    old, new = ind(), ind(description="now counts only approving reviews")
    propose(store, BOARD, old, "dee", at=at(0))
    approve(store, BOARD, old, "ana", "ok", at=at(1))
    approve(store, BOARD, old, "ben", "ok", at=at(2))
    assert approval_status(store, BOARD, old).state == "approved"
    status = approval_status(store, BOARD, new)
    assert (status.state, status.in_force) == ("lapsed", False)
    assert status.version == approval_version(new) != approval_version(old)
    assert status.approved_version == approval_version(old)
    with pytest.raises(BoardError, match="has not been proposed"):
        approve(store, BOARD, new, "ana", "same as before", at=at(3))
    propose(store, BOARD, new, "dee", at=at(4))
    assert approval_status(store, BOARD, new).state == "pending"  # the old approvals do not count
    approve(store, BOARD, new, "cy", "fine", at=at(5))
    approve(store, BOARD, new, "ana", "fine", at=at(6))
    assert approval_status(store, BOARD, new).state == "approved"
    assert approval_status(store, BOARD, old).state == "approved"  # that version's record stands


def test_a_reject_ends_the_round_until_proposed_again(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    reject(store, BOARD, ind(), "cy", "ranks people", at=at(2))
    status = approval_status(store, BOARD, ind())
    assert (status.state, status.rejected_by) == ("rejected", "cy")
    with pytest.raises(BoardError, match="was rejected by cy"):
        approve(store, BOARD, ind(), "ben", "ok", at=at(3))
    propose(store, BOARD, ind(), "dee", at=at(4))  # a new round: earlier votes no longer count
    status = approval_status(store, BOARD, ind())
    assert (status.state, status.approvers) == ("pending", [])
    approve(store, BOARD, ind(), "ana", "reworded guardrails", at=at(5))
    approve(store, BOARD, ind(), "cy", "now fine", at=at(6))
    assert approval_status(store, BOARD, ind()).state == "approved"


def test_a_reject_after_approval_withdraws_it(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    approve(store, BOARD, ind(), "ben", "ok", at=at(2))
    reject(store, BOARD, ind(), "cy", "found a ranking page", at=at(3))
    assert approval_status(store, BOARD, ind()).state == "rejected"


def test_propose_twice_is_refused(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))
    with pytest.raises(BoardError, match=r"is already pending"):
        propose(store, BOARD, ind(), "ana", at=at(1))


def test_without_a_board_nothing_is_decided(store: Store) -> None:
    with pytest.raises(BoardError, match=r"there is no review board: create policies/review_board\.yaml"):
        propose(store, None, ind(), "ana")
    status = approval_status(store, None, ind())
    assert (status.state, status.quorum) == ("not_proposed", None)


def test_an_indicator_that_needs_no_approval(store: Store) -> None:
    team = ind(affects=[])
    assert approval_status(store, BOARD, team).state == "not_required"
    assert approval_status(store, BOARD, team).in_force
    with pytest.raises(BoardError, match="does not need review-board approval"):
        propose(store, BOARD, team, "ana")


def test_approvals_count_only_from_current_members(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    approve(store, BOARD, ind(), "ben", "ok", at=at(2))
    smaller = ReviewBoard(name="People metrics board", members=["ana", "cy"], quorum=2)  # ben left
    status = approval_status(store, smaller, ind())
    assert (status.state, status.approvers) == ("pending", ["ana"])


def test_rejects_count_only_from_current_members(store: Store) -> None:
    """review_b #10: a reject by someone who left the board no longer blocks, like their approval."""
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    approve(store, BOARD, ind(), "ben", "ok", at=at(2))
    reject(store, BOARD, ind(), "cy", "no", at=at(3))
    assert approval_status(store, BOARD, ind()).state == "rejected"
    without_cy = ReviewBoard(name="People metrics board", members=["ana", "ben", "eve"], quorum=2)
    status = approval_status(store, without_cy, ind())
    assert (status.state, status.approvers, status.rejected_by) == ("approved", ["ana", "ben"], None)


def test_a_quorum_the_other_members_cannot_reach_is_refused_at_propose(store: Store) -> None:
    """review_b #9 (board_edges.py case 1): ana's proposal could only wait for ben, one vote short."""
    pair = ReviewBoard(name="Pair board", members=["ana", "ben"], quorum=2)
    with pytest.raises(BoardError, match=r"^ana cannot approve their own proposal, and the 1 other member\(s\) of "
                                         r"the Pair board cannot reach its quorum of 2"):
        propose(store, pair, ind(), "ana", at=at(0))
    assert decisions(store, "reviews_given") == [] and audit.entries(store) == []
    propose(store, pair, ind(), "dee", at=at(1))  # both members can approve an outsider's proposal
    approve(store, pair, ind(), "ana", "ok", at=at(2))
    approve(store, pair, ind(), "ben", "ok", at=at(3))
    assert approval_status(store, pair, ind()).state == "approved"


# -- the approval version ---------------------------------------------------------------------------------------

def test_activating_an_approved_indicator_keeps_its_approval(store: Store) -> None:
    """review_b #3: keep it proposed, get the approval, then activate (and re-date, retag): still approved."""
    bands = {"green": {"min": 3}, "red": {"max": 1}}
    proposed = ind(thresholds=bands)
    propose(store, BOARD, proposed, "dee", at=at(0))
    approve(store, BOARD, proposed, "ana", "ok", at=at(1))
    approve(store, BOARD, proposed, "ben", "ok", at=at(2))
    active = ind(thresholds=bands, status="active", review_by="2027-03-01", tags=["People"])
    assert definition_version(active) != definition_version(proposed)
    status = approval_status(store, BOARD, active)
    assert (status.state, status.version, status.in_force) == ("approved", approval_version(proposed), True)
    changed = approval_status(store, BOARD, ind(thresholds=bands, status="active", description="approving only"))
    assert (changed.state, changed.approved_version) == ("lapsed", approval_version(proposed))


def test_the_approval_version_leaves_out_only_lifecycle_fields() -> None:
    import hashlib

    from engmetrics.catalog.version import canonical_json

    data = json.loads(canonical_json(ind()))
    assert {"status", "review_by", "tags"} <= data.keys()
    meaning = {k: v for k, v in data.items() if k not in ("status", "review_by", "tags")}
    expected = hashlib.sha256(json.dumps(meaning, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert approval_version(ind()) == "sha256:" + expected[:16]
    assert approval_version(ind(status="deprecated", tags=["x"])) == approval_version(ind())
    for change in ({"name": "Reviews"}, {"cadence": "monthly"}, {"affects": ["promotion"]},
                   {"owner": {"team": "platform"}}):
        assert approval_version(ind(**change)) != approval_version(ind())


# -- the record ----------------------------------------------------------------------------------------------------

def test_decisions_and_audit_entries(store: Store) -> None:
    version = approval_version(ind())
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "weekly only", at=at(1))
    assert [d.to_dict() for d in decisions(store, "reviews_given")] == [
        {"metric": "reviews_given", "version": version, "action": "propose", "actor": "dee", "rationale": None,
         "decided_at": "2026-03-02T09:00:00+00:00"},
        {"metric": "reviews_given", "version": version, "action": "approve", "actor": "ana",
         "rationale": "weekly only", "decided_at": "2026-03-02T09:01:00+00:00"}]
    logged = audit.entries(store, action="governance.")
    assert [(e.actor, e.action, e.target, e.details) for e in logged] == [
        ("dee", "governance.propose", "reviews_given", {"version": version}),
        ("ana", "governance.approve", "reviews_given", {"version": version, "rationale": "weekly only"})]
    assert audit.verify(store).ok


def test_a_decision_without_its_audit_entry_does_not_count(store: Store) -> None:
    """review_a #9: an approval INSERTed into `_board_decisions` (not through `approve`) is ignored, and so is a
    row that copies a real approval into a later round."""
    version = approval_version(ind())
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    forge = "INSERT INTO _board_decisions VALUES ('reviews_given', ?, 'approve', ?, ?, ?)"
    store.sql.execute(forge, [version, "ben", "ok", at(2)])
    status = approval_status(store, BOARD, ind())
    assert (status.state, status.approvers) == ("pending", ["ana"])
    assert [d.actor for d in decisions(store, "reviews_given")] == ["dee", "ana"]
    reject(store, BOARD, ind(), "cy", "no", at=at(3))
    propose(store, BOARD, ind(), "dee", at=at(4))
    approve(store, BOARD, ind(), "ben", "fine", at=at(5))
    store.sql.execute(forge, [version, "ana", "ok", at(6)])  # ana's real approval was at(1), in the old round
    assert approval_status(store, BOARD, ind()).approvers == ["ben"]


def test_as_of_counts_only_decisions_made_by_then(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    approve(store, BOARD, ind(), "ben", "ok", at=at(2))
    reject(store, BOARD, ind(), "cy", "no", at=at(5))
    assert [approval_status(store, BOARD, ind(), at=at(m)).state for m in (-1, 0, 1, 2, 4, 5)] == [
        "not_proposed", "pending", "pending", "approved", "approved", "rejected"]
    assert approval_status(store, BOARD, ind()).state == "rejected"
    assert [d.actor for d in decisions(store, "reviews_given", at=at(1))] == ["dee", "ana"]
    naive = datetime(2026, 3, 2, 9, 2)  # a naive datetime is UTC, like the store
    assert approval_status(store, BOARD, ind(), at=naive).state == "approved"


def test_a_refused_decision_writes_nothing(store: Store) -> None:
    propose(store, BOARD, ind(), "ana", at=at(0))
    with pytest.raises(BoardError):
        approve(store, BOARD, ind(), "ana", "mine", at=at(1))
    assert len(decisions(store, "reviews_given")) == 1
    assert len(audit.entries(store)) == 1


def test_status_to_dict(store: Store) -> None:
    propose(store, BOARD, ind(), "dee", at=at(0))
    approve(store, BOARD, ind(), "ana", "ok", at=at(1))
    data = approval_status(store, BOARD, ind()).to_dict()
    assert {k: data[k] for k in ("state", "quorum", "approvals", "approvers", "reasons", "proposed_by",
                                 "in_force")} == {
        "state": "pending", "quorum": 2, "approvals": 1, "approvers": ["ana"],
        "reasons": ["affects performance review"], "proposed_by": "dee", "in_force": False}
    assert data["last_decision"]["actor"] == "ana"


# -- invariants -----------------------------------------------------------------------------------------------------

ACTIONS = st.lists(st.tuples(st.sampled_from(["propose", "approve", "reject"]),
                             st.sampled_from(["ana", "ben", "cy", "dee"]), st.booleans()), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ACTIONS)
def test_state_invariants(steps: list[tuple[str, str, bool]]) -> None:
    """Whatever is attempted: approved means a quorum of members other than the proposer; every accepted
    decision is one row and one audit entry; the chain verifies."""
    versions = [ind(), ind(description="changed")]
    with Store.open("duckdb://") as store:
        accepted = 0
        for minute, (action, who, changed) in enumerate(steps):
            definition = versions[changed]
            try:
                if action == "propose":
                    propose(store, BOARD, definition, who, at=at(minute))
                else:
                    (approve if action == "approve" else reject)(store, BOARD, definition, who, "why", at=at(minute))
                accepted += 1
            except BoardError:
                pass
            for version in versions:
                status = approval_status(store, BOARD, version)
                assert status.proposed_by not in status.approvers
                assert set(status.approvers) <= set(BOARD.members)
                if status.state == "approved":
                    assert len(status.approvers) >= BOARD.quorum and status.rejected_by is None
        assert len(decisions(store, "reviews_given")) == accepted == len(audit.entries(store))
        assert audit.verify(store).ok


# -- the CLI ---------------------------------------------------------------------------------------------------------

INDIVIDUAL = """\
indicators:
  - id: reviews_given
    name: Reviews given per person
    owner: {team: platform, role: engineering manager}
    kind: leading
    unit: reviews
    direction: higher_is_better
    cadence: weekly
    audience: individual
    status: proposed
    calculation: {dataset: reviews, measure: {type: count}}
    thresholds: {green: {min: 3}, red: {max: 1}}
"""


def test_cli_propose_approve_status(workspace: Path, cli) -> None:
    (workspace / "metrics" / "people.yaml").write_text(INDIVIDUAL)
    result = cli("governance", "approve", "reviews_given", "--rationale", "x", "--as", "ana")
    assert result.exit_code == 1
    assert "no review board: create policies/review_board.yaml" in result.output.replace("\n", " ")
    _board_file(workspace, "name: People board\nmembers: [ana, ben, cy]\nquorum: 2\n")
    assert cli("governance", "propose", "reviews_given", "--as", "ana").exit_code == 0
    refused = cli("governance", "approve", "reviews_given", "--rationale", "mine", "--as", "ana")
    assert refused.exit_code == 1 and "cannot also approve" in refused.output
    outsider = cli("governance", "approve", "reviews_given", "--rationale", "ok", "--as", "mallory")
    assert outsider.exit_code == 1 and "not a member" in outsider.output
    voted = cli("governance", "approve", "reviews_given", "--rationale", "weekly, 5+", "--as", "ben", "--json")
    assert voted.exit_code == 0, voted.output
    assert json.loads(voted.stdout)["status"]["state"] == "pending"
    listed = cli("governance", "status", "--json")
    assert [(r["metric"], r["state"], r["approvals"], r["quorum"], r["last_decision"]["actor"])
            for r in json.loads(listed.stdout)] == [("reviews_given", "pending", 1, 2, "ben")]
    assert cli("governance", "approve", "reviews_given", "--rationale", "fine", "--as", "cy").exit_code == 0
    one = json.loads(cli("governance", "status", "reviews_given", "--json").stdout)
    assert (one["state"], one["approvers"]) == ("approved", ["ben", "cy"])
    assert [(d["action"], d["actor"], d["rationale"]) for d in one["decisions"]] == [
        ("propose", "ana", None), ("approve", "ben", "weekly, 5+"), ("approve", "cy", "fine")]
    table = cli("governance", "status")
    assert table.exit_code == 0 and "approved" in table.output and "2/2" in table.output


def test_cli_propose_approve_activate(workspace: Path, cli) -> None:
    """review_b #3 as the reviewer ran it: approved while proposed, then `status: active` in the file."""
    people = workspace / "metrics" / "people.yaml"
    people.write_text(INDIVIDUAL)
    _board_file(workspace, "name: People board\nmembers: [ana, ben, cy]\nquorum: 2\n")
    assert cli("governance", "propose", "reviews_given", "--as", "alice").exit_code == 0
    assert cli("governance", "approve", "reviews_given", "--rationale", "ok", "--as", "bob").exit_code == 1
    for member in ("ben", "cy"):
        assert cli("governance", "approve", "reviews_given", "--rationale", "ok", "--as", member).exit_code == 0
    people.write_text(INDIVIDUAL.replace("status: proposed", "status: active"))
    shown = json.loads(cli("governance", "status", "reviews_given", "--json").stdout)
    assert (shown["state"], shown["in_force"], shown["approved_version"]) == ("approved", True, shown["version"])
