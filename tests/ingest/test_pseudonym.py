"""Person columns are stored as HMAC-SHA256 pseudonyms, never as raw names."""

from __future__ import annotations

import duckdb

from engmetrics.ingest.pseudonym import hmac_sql, pseudonym

KEY = bytes(range(32))
# Computed once by hand: hmac.new(bytes(range(32)), NAME.encode(), hashlib.sha256).hexdigest()[:20]
ALICE = "p_6eefad2bed97b6d93ee6"
CAROL = "p_1a0b97eb0e51f172d72f"
ZOE = "p_4e090991f866a486289f"  # "Zoë Ångström", UTF-8
T = "2026-01-01T10:00:00Z"


def test_python_reference_matches_hand_computed_hmac():
    assert pseudonym("alice", KEY) == ALICE
    assert pseudonym("Carol", KEY) == CAROL
    assert pseudonym("Zoë Ångström", KEY) == ZOE
    assert pseudonym("alice", bytes(32)) != ALICE  # another key, another pseudonym


def test_sql_matches_the_reference_including_long_keys_and_null():
    long_key = b"x" * 100  # longer than the SHA-256 block: hashed first, as RFC 2104 says
    for key in (KEY, long_key):
        for name in ("alice", "Zoë Ångström", ""):
            assert duckdb.sql(f"SELECT {hmac_sql(repr(name), key)}").fetchone()[0] == pseudonym(name, key)
    assert duckdb.sql(f"SELECT {hmac_sql('NULL::VARCHAR', KEY)}").fetchone()[0] is None


def test_stored_person_is_the_pseudonym_and_stable_across_datasets(write, ingest, rows):
    ingest("changes", write("c.csv", f"change_id,repo,author,created_at\nc1,r,alice,{T}\nc2,r,Zoë Ångström,{T}\n"))
    ingest("reviews", write("r.jsonl", f'{{"change_id": "c1", "reviewer": "alice", "submitted_at": "{T}", '
                                       '"state": "approved"}\n'))
    ingest("feedback", write("f.csv", "rater,ratee,period,dimension,score\nCarol,alice,2026-Q1,clarity,4\n"))
    assert rows("SELECT change_id, author FROM changes ORDER BY 1") == [("c1", ALICE), ("c2", ZOE)]
    assert rows("SELECT reviewer FROM reviews") == [(ALICE,)]
    assert rows("SELECT rater, ratee FROM feedback") == [(CAROL, ALICE)]


def test_raw_name_is_not_in_the_quarantine(write, ingest, quarantined, store):
    ingest("changes", write("c.csv", "change_id,repo,author,created_at,additions\nc1,r,alice,yesterday,-1\n"))
    [q] = quarantined()
    assert q["column"] == "created_at"
    assert "alice" not in q["record"] and ALICE in q["record"]
    dump = store.sql.execute("SELECT * FROM _quarantine").fetchall()
    assert "alice" not in repr(dump)


def test_cli_uses_the_workspace_key(cli, workspace, write):
    key = bytes.fromhex((workspace / ".engmetrics" / "pseudonym.key").read_text().strip())
    path = write("c.csv", f"change_id,repo,author,created_at\nc1,r,alice,{T}\n")
    assert cli("ingest", "changes", path, "--json").exit_code == 0
    with duckdb.connect(str(workspace / ".engmetrics" / "store.duckdb"), read_only=True) as con:
        assert con.execute("SELECT author FROM changes").fetchall() == [(pseudonym("alice", key),)]


def test_raw_name_is_not_in_the_quarantine_of_a_malformed_csv_line(write, ingest, store):
    ingest("changes", write("c.csv", f"change_id,repo,author,created_at\nc1,r,alice,{T},extra\nc2,bob\n"))
    assert store.count("_quarantine") == 2
    dump = repr(store.sql.execute("SELECT * FROM _quarantine").fetchall())
    assert "alice" not in dump and "bob" not in dump
