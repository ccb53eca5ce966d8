"""The audit hash chain: append and filter, `verify` catching an edited, a deleted and a reordered entry (the
table edited with SQL, as an attacker with the store file would) and naming the first bad one, truncation caught
with `--expect-head`, the CLI faces (`engmetrics audit log`, `audit verify` exit 3), and a property test: any
single-entry edit, removal or swap in a random chain is detected.

The chain used by most tests (`chain`): entries 1..4 at 2026-03-01 10:00 UTC plus 0, 1, 2, 3 days:
1 alice governance.propose deploy_freq; 2 bob governance.approve deploy_freq (details rationale=ok);
3 carol read.dataset cost (reason "quarterly review"); 4 dave hold.place cost.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.governance.audit import GENESIS, append, entries, verify
from engmetrics.settings import load_settings
from engmetrics.store import Store

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CHAIN = [("alice", "governance.propose", "deploy_freq", None, None),
         ("bob", "governance.approve", "deploy_freq", None, {"rationale": "ok"}),
         ("carol", "read.dataset", "cost", "quarterly review", None),
         ("dave", "hold.place", "cost", None, None)]


def fill(store: Store) -> None:
    for day, (actor, action, target, reason, details) in enumerate(CHAIN):
        append(store, actor, action, target, reason=reason, details=details, at=T0 + timedelta(days=day))


@pytest.fixture
def chain(store):
    fill(store)
    return store


def _field(value: str | None) -> str:
    return "-" if value is None else f"{len(value.encode())}:{value}"


def test_the_first_hash_is_sha256_of_the_length_prefixed_fields(chain):
    # Written out by hand: seq 1, 2026-03-01 10:00 UTC = 1772359200 s since the epoch, in microseconds.
    text = "|".join([_field("1"), _field("1772359200000000"), _field("alice"), _field("governance.propose"),
                     _field("deploy_freq"), "-", "-", _field(GENESIS)])
    assert text.startswith("1:1|16:1772359200000000|5:alice|18:governance.propose|11:deploy_freq|-|-|64:000")
    first = entries(chain)[0]
    assert first.hash == hashlib.sha256(text.encode()).hexdigest()
    assert first.prev_hash == GENESIS


def test_append_links_each_entry_to_the_one_before(chain):
    found = entries(chain)
    assert [e.seq for e in found] == [1, 2, 3, 4]
    assert [e.prev_hash for e in found[1:]] == [e.hash for e in found[:-1]]
    assert found[1].to_dict() | {"hash": "h", "prev_hash": "p"} == {
        "seq": 2, "at": "2026-03-02T10:00:00+00:00", "actor": "bob", "action": "governance.approve",
        "target": "deploy_freq", "reason": None, "details": {"rationale": "ok"}, "prev_hash": "p", "hash": "h"}
    assert append(chain, "erin", "bundle.export") == 5


def test_entries_filter_by_actor_action_prefix_target_time_and_limit(chain):
    assert [e.seq for e in entries(chain, action="governance.")] == [1, 2]
    assert [e.seq for e in entries(chain, action="read.")] == [3]
    assert [e.seq for e in entries(chain, actor="dave")] == [4]
    assert [e.seq for e in entries(chain, target="cost")] == [3, 4]
    assert [e.seq for e in entries(chain, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))] == [2, 3]
    assert [e.seq for e in entries(chain, limit=2)] == [3, 4]  # the newest two, oldest first


def test_an_intact_chain_verifies(chain):
    result = verify(chain)
    head = entries(chain)[-1].hash
    assert result.to_dict() == {"ok": True, "entries": 4, "head_seq": 4, "head": head, "first_bad": None,
                                "problem": None}


def test_an_empty_chain_verifies(store):
    assert verify(store).to_dict() == {"ok": True, "entries": 0, "head_seq": None, "head": None,
                                       "first_bad": None, "problem": None}


def test_a_modified_entry_is_named(chain):
    chain.sql.execute("UPDATE _audit SET reason = 'curiosity' WHERE seq = 3")
    result = verify(chain)
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "edited: its content does not match its hash")


def test_a_modified_time_is_named(chain):
    chain.sql.execute("UPDATE _audit SET logged_at = logged_at + INTERVAL 1 SECOND WHERE seq = 2")
    assert (verify(chain).first_bad, verify(chain).problem) == (2, "edited: its content does not match its hash")


def test_an_entry_rehashed_after_editing_breaks_the_next_link(chain):
    """An attacker who edits entry 2 and recomputes its hash still breaks entry 3's link."""
    chain.sql.execute("UPDATE _audit SET hash = repeat('a', 64) WHERE seq = 2")  # any hash but the true one
    result = verify(chain)
    assert (result.first_bad, result.problem) == (2, "edited: its content does not match its hash")


def test_a_deleted_entry_is_named_by_the_one_after_it(chain):
    chain.sql.execute("DELETE FROM _audit WHERE seq = 2")
    result = verify(chain)
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "removed: entries before it are missing")
    assert result.entries == 3


def test_a_deleted_first_entry_is_caught(chain):
    chain.sql.execute("DELETE FROM _audit WHERE seq = 1")
    assert (verify(chain).first_bad, verify(chain).problem) == (2, "removed: entries before it are missing")


def test_a_reordered_pair_is_named_at_the_first(chain):
    chain.sql.execute("UPDATE _audit SET seq = 100 WHERE seq = 2")
    chain.sql.execute("UPDATE _audit SET seq = 2 WHERE seq = 3")
    chain.sql.execute("UPDATE _audit SET seq = 3 WHERE seq = 100")
    result = verify(chain)
    assert (result.ok, result.first_bad, result.problem) == (False, 2, "edited: its content does not match its hash")


def test_text_moved_between_fields_is_caught(store):
    """Fields are length-prefixed: a separator inside a value cannot let text move to the next field."""
    append(store, "alice", "read.dataset", "a|1:b", reason="c", at=T0)
    store.sql.execute("UPDATE _audit SET target = 'a', reason = '1:b|1:c' WHERE seq = 1")
    assert verify(store).first_bad == 1


def test_truncation_is_caught_only_with_the_expected_head(chain):
    head = verify(chain).head
    chain.sql.execute("DELETE FROM _audit WHERE seq = 4")
    assert verify(chain).ok  # a shorter chain is a valid chain ...
    result = verify(chain, expect_head=head)  # ... but not the one a bundle recorded
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "truncated: the expected head is not in "
                                                                       "the chain")


def test_an_older_expected_head_still_in_the_chain_is_fine(chain):
    second = entries(chain)[1].hash
    assert verify(chain, expect_head=second).ok


# The CLI ------------------------------------------------------------------------------------------------------


@pytest.fixture
def ws_chain(workspace):
    with Store.open(load_settings(workspace).store_url) as opened:
        fill(opened)
        head = verify(opened).head
    return head


def test_cli_log_json_and_filters(cli, ws_chain):
    result = cli("audit", "log", "--json", "--action", "governance.", "--since", "2026-03-02")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [(e["seq"], e["actor"], e["action"], e["details"]) for e in found] == [
        (2, "bob", "governance.approve", {"rationale": "ok"})]
    limited = json.loads(cli("audit", "log", "--json", "--limit", "1").output)
    assert [e["seq"] for e in limited] == [4]
    until = json.loads(cli("audit", "log", "--json", "--until", "2026-03-02").output)  # includes that day
    assert [e["seq"] for e in until] == [1, 2]


def test_cli_log_table(cli, ws_chain):
    result = cli("audit", "log", "--actor", "carol")
    assert result.exit_code == 0, result.output
    assert "quarterly" in result.output and "carol" in result.output  # the table wraps long cells
    assert "alice" not in result.output


def test_cli_log_bad_date_is_exit_1(cli, ws_chain):
    result = cli("audit", "log", "--since", "March")
    assert result.exit_code == 1
    assert "--since" in result.output


def test_cli_verify_intact_and_broken(cli, workspace, ws_chain):
    ok = cli("audit", "verify", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) == {"ok": True, "entries": 4, "head_seq": 4, "head": ws_chain, "first_bad": None,
                                     "problem": None}
    with Store.open(load_settings(workspace).store_url) as opened:
        opened.sql.execute("UPDATE _audit SET actor = 'mallory' WHERE seq = 2")
    broken = cli("audit", "verify")
    assert broken.exit_code == 3
    assert "BROKEN" in broken.output and "entry #2" in broken.output and "edited" in broken.output


def test_cli_verify_expect_head_catches_truncation(cli, workspace, ws_chain):
    with Store.open(load_settings(workspace).store_url) as opened:
        opened.sql.execute("DELETE FROM _audit WHERE seq >= 3")
    assert cli("audit", "verify").exit_code == 0
    result = cli("audit", "verify", "--json", "--expect-head", ws_chain)
    assert result.exit_code == 3
    assert json.loads(result.output)["problem"] == "truncated: the expected head is not in the chain"


# Property: any single tampering is detected ----------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_entry = st.tuples(st.sampled_from(["alice", "bob", "token:abc"]), st.sampled_from(["read.dataset", "hold.place"]),
                   st.none() | _text, st.none() | _text)


@st.composite
def tampering(draw):
    rows = draw(st.lists(_entry, min_size=2, max_size=7))
    n = len(rows)
    kind = draw(st.sampled_from(["edit", "delete", "swap"]))
    if kind == "swap":
        i = draw(st.integers(1, n - 1))
        return rows, kind, (i, draw(st.integers(i + 1, n)))
    k = draw(st.integers(1, n))
    column = draw(st.sampled_from(["actor", "action", "target", "reason", "details", "logged_at", "prev_hash"]))
    return rows, kind, (k, column)


def _tamper(store: Store, kind: str, args: tuple) -> int:
    """Apply the tampering; return the seq verify must name."""
    if kind == "swap":
        i, j = args
        for a, b in ((i, -1), (j, i), (-1, j)):
            store.sql.execute("UPDATE _audit SET seq = ? WHERE seq = ?", [b, a])
        return i
    k, column = args
    if kind == "delete":
        store.sql.execute("DELETE FROM _audit WHERE seq = ?", [k])
        n = store.sql.execute("SELECT max(seq) FROM _audit").fetchone()[0] or 0
        return k + 1 if k <= n else n  # the last one removed: caught as truncation, named at the new head
    changed = {"logged_at": "logged_at + INTERVAL 1 MICROSECOND", "prev_hash": "repeat('f', 64)",
               "details": "'{\"x\":1}'"}.get(column, f"coalesce({column}, '') || 'x'")
    store.sql.execute(f"UPDATE _audit SET {column} = {changed} WHERE seq = ?", [k])
    return k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=tampering())
def test_any_single_tampering_is_detected(store, case):
    rows, kind, args = case
    store.sql.execute("DELETE FROM _audit")
    for i, (actor, action, target, reason) in enumerate(rows):
        append(store, actor, action, target, reason=reason, at=T0 + timedelta(minutes=i))
    head = verify(store).head
    assert verify(store, expect_head=head).ok
    expected = _tamper(store, kind, args)
    result = verify(store, expect_head=head)
    assert not result.ok
    assert result.first_bad == expected
