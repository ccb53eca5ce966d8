"""The access policy (`policies/access.yaml`): defaults, loading with file:line errors, `check_read` (403, 428,
400), `record_read` and `ReadAccess` writing audit entries (and failing the read when they cannot be written),
the quarantine scoped by the policy, and the datasets indicator values are derived from (`indicator_datasets`,
`ReadAccess.may` / `record_derived`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.api.problems import Problem
from engmetrics.api.state import StoreProvider
from engmetrics.auth.roles import Principal, Role
from engmetrics.catalog.model import Indicator
from engmetrics.errors import ValidationFailed
from engmetrics.governance import audit
from engmetrics.governance.access import (
    DEFAULT_POLICY,
    PRIVILEGED,
    ReadAccess,
    check_access,
    check_read,
    check_reason,
    indicator_datasets,
    load_access_policy,
    quarantine_for,
    record_read,
)

VIEWER = Principal("t-view", Role.viewer)
MANAGER = Principal("t-mgr", Role.manager, user="ann")
AUDITOR = Principal("t-aud", Role.auditor, user="audrey")
ADMIN = Principal("t-adm", Role.metrics_admin)
POLICY = """datasets:
  cost: [manager, auditor, metrics-admin, team-member]
  people: [auditor, metrics-admin]
reason_required: [people, feedback]
"""


def write_policy(root: Path, text: str) -> Path:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "access.yaml").write_text(text)
    return root


def refused(policy, principal, dataset, reason=None) -> tuple[int, str]:
    with pytest.raises(Problem) as info:
        check_read(policy, principal, dataset, reason)
    return info.value.status, info.value.detail


def test_the_default_restricts_the_registry_restricted_datasets():
    assert {d for d, roles in DEFAULT_POLICY.readers.items() if roles != frozenset(Role)} == {
        "cost", "feedback", "request_events", "telemetry_samples"}
    assert DEFAULT_POLICY.roles_for("cost") == PRIVILEGED == {Role.manager, Role.auditor, Role.metrics_admin}
    assert DEFAULT_POLICY.may_read(VIEWER, "deployments") and not DEFAULT_POLICY.may_read(VIEWER, "feedback")
    assert DEFAULT_POLICY.reason_required == frozenset() and DEFAULT_POLICY.source == "built-in"


def test_an_absent_file_is_the_default(tmp_path):
    assert load_access_policy(tmp_path) == DEFAULT_POLICY


def test_the_file_names_readers_and_reasons(tmp_path):
    policy = load_access_policy(write_policy(tmp_path, POLICY))
    assert policy.source == "policies/access.yaml"
    assert policy.roles_for("people") == {Role.auditor, Role.metrics_admin}
    assert policy.may_read(Principal("t", Role.team_member, ("payments",)), "cost")
    assert policy.roles_for("feedback") == PRIVILEGED  # not named: the default for a restricted dataset
    assert policy.roles_for("deployments") == frozenset(Role)
    assert policy.needs_reason("people") and policy.needs_reason("feedback") and not policy.needs_reason("cost")
    assert policy.audited("people") and policy.audited("cost") and not policy.audited("deployments")


def test_an_empty_role_list_refuses_everyone(tmp_path):
    policy = load_access_policy(write_policy(tmp_path, "datasets:\n  cost: []\n"))
    assert refused(policy, ADMIN, "cost")[1].endswith("it needs one of: none (nobody through the API) "
                                                      "(policies/access.yaml)")


def test_errors_name_file_and_line(tmp_path):
    write_policy(tmp_path, "datasets:\n  cost: [manager]\n  bills: [manager]\n  people: [boss]\n"
                           "reason_required: [people, payroll]\nowner: me\n")
    found = [(i.file, i.line, i.rule, i.message.split(";")[0].split(":")[0]) for i in check_access(tmp_path).issues]
    assert sorted(found, key=lambda x: (x[1], x[3])) == [
        ("policies/access.yaml", 3, "access", "unknown dataset 'bills'"),
        ("policies/access.yaml", 4, "model", "datasets.people.0"),
        ("policies/access.yaml", 5, "access", "unknown dataset 'payroll'"),
        ("policies/access.yaml", 6, "model", "owner")]
    with pytest.raises(ValidationFailed):
        load_access_policy(tmp_path)


def test_invalid_yaml_is_an_issue(tmp_path):
    write_policy(tmp_path, "datasets: [\n")
    [issue] = check_access(tmp_path).issues
    assert (issue.file, issue.rule) == ("policies/access.yaml", "yaml")


def test_roles_allowed_and_refused_by_the_default():
    assert refused(DEFAULT_POLICY, VIEWER, "cost") == (
        403, "the role viewer may not read the dataset cost; it needs one of: auditor, manager, metrics-admin "
             "(policies/access.yaml)")
    assert refused(DEFAULT_POLICY, Principal("t", Role.team_member, ("a",)), "telemetry_samples")[0] == 403
    check_read(DEFAULT_POLICY, MANAGER, "cost", None)
    check_read(DEFAULT_POLICY, VIEWER, "deployments", None)


def test_a_reason_is_required_where_the_policy_says(tmp_path):
    policy = load_access_policy(write_policy(tmp_path, POLICY))
    assert refused(policy, AUDITOR, "people")[0] == 428
    assert refused(policy, AUDITOR, "people", "   ")[0] == 428  # blank is missing
    assert refused(policy, AUDITOR, "people", "x" * 501) == (400, "the reason is 501 characters long; at most 500")
    check_read(policy, AUDITOR, "people", "subject access request 12")
    assert refused(policy, MANAGER, "people", "any")[0] == 403  # a reason does not grant access


def test_record_read_writes_who_what_and_why(store):
    assert record_read(store, MANAGER, "cost", "GET /api/v1/cost/idle?at=2026-03-14", " budget review ") == 1
    assert record_read(store, VIEWER, "people", "GET /quarantine", None, individual=True) == 2
    first, second = audit.entries(store)
    assert (first.actor, first.action, first.target, first.reason, first.details) == (
        "ann", "read.dataset", "cost", "budget review",
        {"what": "GET /api/v1/cost/idle?at=2026-03-14", "role": "manager", "teams": []})
    assert (second.actor, second.action, second.target, second.reason) == (
        "token:t-view", "read.individual", "people", None)
    assert audit.verify(store).ok


def test_read_access_audits_only_audited_datasets_through_the_provider(store):
    access = ReadAccess(DEFAULT_POLICY, MANAGER, StoreProvider(store), "GET /x")
    access.allow("deployments")  # every role may read it: not audited
    access.allow("cost")
    assert [(e.actor, e.action, e.target) for e in audit.entries(store)] == [("ann", "read.dataset", "cost")]


def test_a_refused_read_writes_nothing(store):
    with pytest.raises(Problem):
        ReadAccess(DEFAULT_POLICY, VIEWER, store, "GET /x").allow("cost")
    assert audit.entries(store) == []


def test_the_read_fails_when_the_audit_entry_cannot_be_written(store):
    store.sql.execute("DROP TABLE _audit")
    with pytest.raises(Exception, match="_audit"):
        ReadAccess(DEFAULT_POLICY, MANAGER, StoreProvider(store), "GET /x").allow("cost")


def _quarantine(store) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    store.sql.executemany(
        "INSERT INTO _quarantine (batch_id, dataset, source_file, line, \"column\", reason, record, quarantined_at) "
        "VALUES ('b1', ?, ?, ?, NULL, 'bad', '{}', ?)",
        [("people", "people.csv", 2, at), ("deployments", "d.csv", 3, at), ("cost", "c.csv", 4, at)])


def test_quarantine_hides_rows_the_role_may_not_read(store, tmp_path):
    _quarantine(store)
    policy = load_access_policy(write_policy(tmp_path, "datasets:\n  people: [metrics-admin]\n"))
    auditor = ReadAccess(policy, AUDITOR, store, "GET /api/v1/quarantine")
    assert [r["dataset"] for r in quarantine_for(store, auditor)] == ["cost", "deployments"]  # by file name
    # people rows are individual-level raw rows; cost is restricted; deployments is neither
    assert [(e.action, e.target) for e in audit.entries(store)] == [("read.dataset", "cost")]
    admin = ReadAccess(policy, ADMIN, store, "GET /api/v1/quarantine")
    assert [r["dataset"] for r in quarantine_for(store, admin)] == ["cost", "deployments", "people"]
    assert [(e.action, e.target) for e in audit.entries(store)][1:] == [("read.dataset", "cost"),
                                                                        ("read.individual", "people")]
    with pytest.raises(Problem) as info:
        quarantine_for(store, auditor, "people")
    assert info.value.status == 403


def test_quarantine_shows_reason_required_rows_only_with_a_reason(store, tmp_path):
    _quarantine(store)
    policy = load_access_policy(write_policy(tmp_path, POLICY))
    without = ReadAccess(policy, AUDITOR, store, "GET /q")
    assert [r["dataset"] for r in quarantine_for(store, without)] == ["cost", "deployments"]
    with pytest.raises(Problem) as info:
        quarantine_for(store, without, "people")
    assert info.value.status == 428
    with_reason = ReadAccess(policy, AUDITOR, store, "GET /q", "DSAR 7")
    assert [r["dataset"] for r in quarantine_for(store, with_reason, "people")] == ["people"]
    assert audit.entries(store)[-1].reason == "DSAR 7"


@given(role=st.sampled_from(list(Role)), dataset=st.sampled_from(sorted(DEFAULT_POLICY.readers)))
def test_check_read_refuses_exactly_what_may_read_denies(role, dataset):
    """Invariant: without reasons required, `check_read` passes iff `may_read`, and a refusal is a 403."""
    principal = Principal("t", role, ("a",))
    try:
        check_read(DEFAULT_POLICY, principal, dataset, None)
        allowed = True
    except Problem as exc:
        assert exc.status == 403
        allowed = False
    assert allowed == DEFAULT_POLICY.may_read(principal, dataset)


def _indicator(calculation: dict, **fields) -> Indicator:
    return Indicator.model_validate({"id": "x", "name": "X", "kind": "leading", "unit": "n", "cadence": "weekly",
                                     "direction": "higher_is_better", "status": "proposed", "calculation": calculation,
                                     **fields})


def test_indicator_values_derive_from_the_datasets_their_calculation_reads():
    count = {"type": "count"}
    assert indicator_datasets(_indicator({"dataset": "cost", "measure": count})) == {"cost"}
    assert indicator_datasets(_indicator({"dataset": "changes", "group_by": "repo", "measure": count})) == {
        "changes"}  # not individual-level: plain rows
    # individual-level over a person column: its team cells come from `people` memberships and aliases
    assert indicator_datasets(_indicator({"dataset": "changes", "group_by": "author", "measure": count})) == {
        "changes", "people"}
    assert indicator_datasets(_indicator({"dataset": "changes", "measure": count}, audience="individual")) == {
        "changes", "people"}
    # individual-level, but no person column in the data: computed as usual, from its dataset only
    assert indicator_datasets(_indicator({"dataset": "deployments", "measure": count},
                                         affects=["promotion"])) == {"deployments"}
    # a calculator reads what its module says; one not listed reads nothing restricted
    assert indicator_datasets(_indicator({"calculator": "delivery.deployments_per_day"})) == {"deployments"}
    assert indicator_datasets(_indicator({"calculator": "example.constant"})) == frozenset()


def test_one_reason_limit():
    check_reason(None)
    check_reason("x" * 500)
    check_reason("  " + "x" * 500 + "\n")  # blanks at either end are not counted
    with pytest.raises(Problem) as info:
        check_reason("x" * 1001)
    assert (info.value.status, info.value.detail) == (400, "the reason is 1001 characters long; at most 500")


def test_derived_reads_are_checked_without_raising_and_audited_once_per_dataset(store, tmp_path):
    policy = load_access_policy(write_policy(tmp_path, POLICY))
    member = ReadAccess(policy, Principal("t-m", Role.team_member, ("payments",)), store, "GET /api/v1/metrics")
    assert (member.may("cost"), member.may("deployments"), member.may("people")) == (True, True, False)
    assert not ReadAccess(policy, AUDITOR, store, "GET /").may("people")  # reason required, none given
    access = ReadAccess(policy, AUDITOR, StoreProvider(store), "GET /api/v1/metrics", " DSAR 7 ")
    assert access.may("people") and access.audited_of(["people", "deployments", "cost", "people"]) == [
        "cost", "people"]
    access.record_derived(["people", "deployments", "cost", "people"])
    assert [(e.actor, e.action, e.target, e.reason, e.details["what"]) for e in audit.entries(store)] == [
        ("audrey", "read.dataset", "cost", "DSAR 7", "GET /api/v1/metrics"),
        ("audrey", "read.dataset", "people", "DSAR 7", "GET /api/v1/metrics")]
