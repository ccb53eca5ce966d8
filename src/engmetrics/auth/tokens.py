"""API tokens: a high-entropy secret shown once, stored as its SHA-256, with a role, teams and an expiry.

A token reads `emt_<id>_<secret>`: the id finds the row, the secret's hash must match it (compared in
constant time). Only the hash is stored, so a copy of the store does not hand out access.

>>> from engmetrics.store import Store
>>> store = Store.open("duckdb://")
>>> new = create_token(store, "viewer", description="dashboard")
>>> authenticate(store, new.token).role.value
'viewer'
>>> new.token in str(store.sql.execute("SELECT * FROM _api_tokens").fetchall())
False
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import EngmetricsError, InputError
from ..store import Store
from .roles import ROLES, Role

__all__ = ["MAX_DAYS", "PREFIX", "AuthError", "NewToken", "TokenCache", "TokenInfo", "active_token",
           "authenticate", "create_token", "get_token", "hash_secret", "list_tokens", "revoke_token"]

PREFIX = "emt_"
MAX_DAYS = 3650
TABLE = "_api_tokens"
_SHAPE = re.compile(r"^emt_([0-9a-f]{12})_([A-Za-z0-9_-]{32,})$")
_COLUMNS = ("token_id", "role", "teams", "description", "created_at", "expires_at", "revoked_at", "user")


class AuthError(EngmetricsError):
    """A missing, malformed, unknown, expired or revoked token (HTTP 401)."""


@dataclass(frozen=True)
class TokenInfo:
    """A stored token without its secret."""

    token_id: str
    role: Role
    teams: tuple[str, ...]
    description: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    user: str | None = None  # the person the token belongs to: their name on board decisions and the audit log

    def status(self, now: datetime | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if (now or datetime.now(UTC)) >= self.expires_at else "active"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {"id": self.token_id, "role": self.role.value, "teams": list(self.teams),
                "description": self.description, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "status": self.status(now), "user": self.user}


@dataclass(frozen=True)
class NewToken:
    """A token just created: `token` is the only time the secret is available."""

    info: TokenInfo
    token: str


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a token's secret part (fine for a 256-bit random secret; no slow hash needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(role: str, teams: Sequence[str], expires_in_days: int) -> tuple[Role, tuple[str, ...]]:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    teams = tuple(dict.fromkeys(t.strip() for t in teams if t.strip()))
    if role == Role.team_member and not teams:
        raise InputError("a team-member token needs at least one team (--team TEAM)")
    if role != Role.team_member and teams:
        raise InputError(f"teams scope team-member tokens only; a {role} token sees every team")
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise InputError(f"expiry must be 1 to {MAX_DAYS} days, not {expires_in_days}")
    return Role(role), teams


def create_token(store: Store, role: str, teams: Sequence[str] = (), *, expires_in_days: int = 90,
                 description: str = "", user: str | None = None, now: datetime | None = None) -> NewToken:
    """Create a token; the returned `token` string is never stored and cannot be shown again."""
    checked_role, checked_teams = _check(role, teams, expires_in_days)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    info = TokenInfo(token_id, checked_role, checked_teams, description, created,
                     created + timedelta(days=expires_in_days), user=(user or "").strip() or None)
    store.sql.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                      [token_id, hash_secret(secret), checked_role.value, list(checked_teams), description,
                       info.created_at, info.expires_at, info.user])
    return NewToken(info, f"{PREFIX}{token_id}_{secret}")


def _info(row: dict[str, Any]) -> TokenInfo:
    def utc(value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    return TokenInfo(row["token_id"], Role(row["role"]), tuple(row["teams"] or ()), row["description"],
                     utc(row["created_at"]), utc(row["expires_at"]), utc(row["revoked_at"]),  # type: ignore[arg-type]
                     row["user"])


def _rows(store: Store, token_id: str | None = None, *, with_hash: bool = False) -> list[dict[str, Any]]:
    table = store.table(TABLE)
    if token_id is not None:
        table = table.filter(table.token_id == token_id)
    columns = [*_COLUMNS, "secret_sha256"] if with_hash else list(_COLUMNS)
    return table.order_by("created_at").select(columns).to_pyarrow().to_pylist()


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token, oldest first (no secrets, no hashes)."""
    return [_info(r) for r in _rows(store)]


def get_token(store: Store, token_id: str) -> TokenInfo:
    """The token `token_id`, or an InputError."""
    rows = _rows(store, token_id)
    if not rows:
        raise InputError(f"no token {token_id!r} (see `engmetrics token list`)")
    return _info(rows[0])


def revoke_token(store: Store, token_id: str, *, now: datetime | None = None) -> TokenInfo:
    """Revoke `token_id` (at once, also for web sessions opened with it); revoking again changes nothing."""
    info = get_token(store, token_id)
    if info.revoked_at is None:
        store.sql.execute(f"UPDATE {TABLE} SET revoked_at = ? WHERE token_id = ?",
                          [(now or datetime.now(UTC)).astimezone(UTC), token_id])
    return get_token(store, token_id)


class TokenCache:
    """Token rows by id for a long-running server, so authenticating a request is a dict look-up and a
    one-row version probe (count, newest creation, newest revocation) rather than an Ibis query; the
    probe notices tokens created or revoked behind the server's back. A store with a `known_version`
    (the server's own: every write goes through it) needs no probe: the server calls `invalidate` after
    each write that may touch tokens. Expiry is judged at each check.
    Only DuckDB stores are cached (the probe is DuckDB SQL); others are read every time.

    >>> from engmetrics.store import Store
    >>> store, cache = Store.open("duckdb://"), TokenCache()
    >>> new = create_token(store, "viewer")
    >>> authenticate(store, new.token, cache=cache).role.value
    'viewer'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[Any, ...] | None = None
        self._rows: dict[str, dict[str, Any]] = {}

    def row(self, store: Store, token_id: str) -> dict[str, Any] | None:
        if not store.is_duckdb:
            rows = _rows(store, token_id, with_hash=True)
            return rows[0] if rows else None
        version = () if store.known_version is not None else store.sql.execute(
            f"SELECT count(*), max(created_at), max(revoked_at) FROM {TABLE}").fetchone()
        with self._lock:
            if version != self._version:
                self._rows = {r["token_id"]: r for r in _rows(store, with_hash=True)}
                self._version = version
            return self._rows.get(token_id)

    def invalidate(self) -> None:
        with self._lock:
            self._version = None


def _row(store: Store, token_id: str, cache: TokenCache | None) -> dict[str, Any] | None:
    return (cache or TokenCache()).row(store, token_id)


def active_token(store: Store, token_id: str, *, now: datetime | None = None,
                 cache: TokenCache | None = None) -> TokenInfo:
    """The token `token_id` if it exists and is neither expired nor revoked, else an AuthError."""
    row = _row(store, token_id, cache)
    if row is None:
        raise AuthError("invalid token")
    return _usable(_info(row), now)


def _usable(info: TokenInfo, now: datetime | None) -> TokenInfo:
    status = info.status(now)
    if status == "revoked":
        raise AuthError(f"token {info.token_id} was revoked")
    if status == "expired":
        raise AuthError(f"token {info.token_id} expired at {info.expires_at.isoformat()}")
    return info


def authenticate(store: Store, token: str, *, now: datetime | None = None,
                 cache: TokenCache | None = None) -> TokenInfo:
    """The active token whose secret is `token`, else an AuthError saying why (never which part of an
    unknown token was wrong)."""
    match = _SHAPE.match(token.strip())
    if not match:
        raise AuthError("malformed token: expected emt_<id>_<secret>")
    token_id, secret = match.groups()
    row = _row(store, token_id, cache)
    if row is None or not hmac.compare_digest(row["secret_sha256"], hash_secret(secret)):
        raise AuthError("invalid token")
    return _usable(_info(row), now)
