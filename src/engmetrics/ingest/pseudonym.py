"""Keyed pseudonymisation of person identifiers: HMAC-SHA256 computed inside the engine.

The same person maps to the same pseudonym in every dataset of a workspace, and nobody without the
key (kept in `.engmetrics/`) can reverse or recompute it.

>>> import duckdb, hmac, hashlib
>>> key = bytes(range(32))
>>> sql = hmac_sql("'alice'", key)
>>> duckdb.sql(f"SELECT {sql}").fetchone()[0] == pseudonym("alice", key)
True
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["PREFIX", "hmac_sql", "pseudonym"]

PREFIX = "p_"
_DIGITS = 20  # hex digits kept: 80 bits, no collision in any realistic organisation


def pseudonym(value: str, key: bytes) -> str:
    """The pseudonym of `value` (Python reference, used in tests and for single look-ups)."""
    return PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:_DIGITS]


def hmac_sql(expr: str, key: bytes) -> str:
    """SQL (DuckDB) computing the pseudonym of the VARCHAR expression `expr`; NULL stays NULL."""
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in block).hex()
    outer = bytes(b ^ 0x5C for b in block).hex()
    digest = f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode({expr}))))"
    return f"CASE WHEN {expr} IS NOT NULL THEN '{PREFIX}' || left({digest}, {_DIGITS}) END"
