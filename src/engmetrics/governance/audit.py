"""The audit log: an append-only hash chain in the store's `_audit` table.

Entry `seq` (1, 2, 3, ...) stores `hash = sha256(seq, time, actor, action, target, reason, details,
prev_hash)` where `prev_hash` is the hash of entry `seq - 1` (64 zeros for the first). Each field enters the
hash with its length in bytes (`5:alice`; `-` for null), so no text can move between fields and keep the hash
(a reason ending in a separator cannot swallow the next field). Editing an entry changes
its hash; deleting one leaves a gap in `seq` and a broken link; reordering (changing a `seq` or a time)
breaks the recomputed hash. `verify` recomputes the chain in the engine and names the first bad entry.
Deleting the newest entries leaves a shorter valid chain: compare `head` with one kept elsewhere (an export
bundle records it; `audit verify --expect-head` checks it).

>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> append(store, "alice", "governance.propose", "deploy_freq")
1
>>> append(store, "bob", "governance.approve", "deploy_freq", details={"rationale": "ok"})
2
>>> verify(store).ok
True
>>> _ = store.sql.execute("UPDATE _audit SET actor = 'mallory' WHERE seq = 1")
>>> result = verify(store)
>>> result.ok, result.first_bad, result.problem
(False, 1, 'edited: its content does not match its hash')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["GENESIS", "AuditEntry", "Verification", "append", "entries", "verify"]

GENESIS = "0" * 64
_FIELDS = "seq, logged_at, actor, action, target, reason, details, prev_hash, hash"


def _digest() -> str:
    """SQL for the hash of an entry's content and its link (one definition for append and verify): every
    field length-prefixed, so the encoding is unambiguous; null is `-`, distinct from any text."""
    fields = ("seq::VARCHAR", "epoch_us(logged_at)::VARCHAR", "actor", "action", "target", "reason", "details",
              "prev_hash")
    parts = ", ".join(f"coalesce(strlen({f})::VARCHAR || ':' || {f}, '-')" for f in fields)
    return f"sha256(concat_ws('|', {parts}))"


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log; `details` is a JSON object (or None)."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str | None
    reason: str | None
    details: dict[str, Any] | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "target": self.target, "reason": self.reason, "details": self.details,
                "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify`: `first_bad` is the seq of the first entry that fails (None when ok)."""

    ok: bool
    entries: int
    head_seq: int | None
    head: str | None
    first_bad: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "head": self.head,
                "first_bad": self.first_bad, "problem": self.problem}


def append(store: Any, actor: str, action: str, target: str | None = None, *, reason: str | None = None,
           details: dict[str, Any] | None = None, at: datetime | None = None) -> int:
    """Add an entry linked to the newest one; return its seq. Runs inside the caller's transaction if any
    (DuckDB: one writer, so the read of the head and the insert cannot interleave with another append)."""
    text = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str) if details is not None else None
    stamp = at or datetime.now(UTC)
    return store.sql.execute(f"""
        INSERT INTO _audit ({_FIELDS})
        SELECT seq, logged_at, actor, action, target, reason, details, prev_hash, {_digest()} FROM (
            SELECT coalesce(max(seq), 0) + 1 AS seq, ?::TIMESTAMPTZ AS logged_at, ? AS actor, ? AS action,
                   ?::VARCHAR AS target, ?::VARCHAR AS reason, ?::VARCHAR AS details,
                   coalesce(arg_max(hash, seq), '{GENESIS}') AS prev_hash
            FROM _audit)
        RETURNING seq""", [stamp, actor, action, target, reason, text]).fetchone()[0]


def entries(store: Any, *, since: datetime | None = None, until: datetime | None = None,
            actor: str | None = None, action: str | None = None, target: str | None = None,
            limit: int | None = None) -> list[AuditEntry]:
    """Entries in seq order, filtered; `action` matches a prefix (`governance.` for every governance entry);
    with `limit`, the newest `limit` of them."""
    where, params = ["TRUE"], []
    for sql, value in (("logged_at >= ?", since), ("logged_at < ?", until), ("actor = ?", actor),
                       ("starts_with(action, ?)", action), ("target = ?", target)):
        if value is not None:
            where.append(sql)
            params.append(value)
    query = f"SELECT {_FIELDS} FROM _audit WHERE {' AND '.join(where)} ORDER BY seq DESC"
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    rows = store.sql.execute(query, params).fetchall()
    return [AuditEntry(seq, at, actor_, action_, target_, reason, json.loads(details) if details else None, prev, h)
            for seq, at, actor_, action_, target_, reason, details, prev, h in reversed(rows)]


def verify(store: Any, expect_head: str | None = None) -> Verification:
    """Recompute every hash and link; the first entry (by seq) that is edited, follows a gap or does not
    link to its predecessor fails the chain. With `expect_head` (a hash kept elsewhere), a chain that no
    longer contains that entry (its newest entries were removed) fails too."""
    bad = store.sql.execute(f"""
        WITH c AS (
            SELECT seq, hash, prev_hash, {_digest()} AS computed,
                   lag(seq) OVER (ORDER BY seq) AS before_seq, lag(hash) OVER (ORDER BY seq) AS before_hash
            FROM _audit)
        SELECT seq, CASE
            WHEN computed IS DISTINCT FROM hash THEN 'edited: its content does not match its hash'
            WHEN seq <> coalesce(before_seq, 0) + 1 THEN 'removed: entries before it are missing'
            ELSE 'relinked: it does not point to the entry before it' END
        FROM c WHERE computed IS DISTINCT FROM hash OR seq <> coalesce(before_seq, 0) + 1
                  OR prev_hash IS DISTINCT FROM coalesce(before_hash, '{GENESIS}')
        ORDER BY seq LIMIT 1""").fetchone()
    count, head_seq, head = store.sql.execute("SELECT count(*), max(seq), arg_max(hash, seq) FROM _audit").fetchone()
    if bad is not None:
        return Verification(False, count, head_seq, head, bad[0], bad[1])
    if expect_head is not None and expect_head != head:
        known = store.sql.execute("SELECT seq FROM _audit WHERE hash = ?", [expect_head]).fetchone()
        if known is None:
            return Verification(False, count, head_seq, head, head_seq,
                                "truncated: the expected head is not in the chain")
    return Verification(True, count, head_seq, head)
