"""Signed web-session cookies: the id of the token that logged in, when, and an HMAC over both.

The cookie carries no secret: each request checks the signature and age here, then that the token is
still active in the store, so revoking a token also ends its sessions.

>>> signer = SessionSigner(bytes(32))
>>> signer.verify(signer.sign("0123456789ab"))
'0123456789ab'
>>> signer.verify("0123456789ab.1.forged") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["COOKIE", "MAX_AGE", "SessionSigner"]

COOKIE = "engmetrics_session"
MAX_AGE = 8 * 3600  # seconds a web session lasts (never beyond its token's expiry)


class SessionSigner:
    """Signs and checks session values with a key kept in `.engmetrics/session.key`."""

    def __init__(self, key: bytes, max_age: int = MAX_AGE) -> None:
        self._key, self.max_age = key, max_age

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def sign(self, token_id: str, now: float | None = None) -> str:
        payload = f"{token_id}.{int(time.time() if now is None else now)}"
        return f"{payload}.{self._mac(payload)}"

    def verify(self, value: str, now: float | None = None) -> str | None:
        """The token id of a genuine, unexpired session value, else None."""
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        token_id, issued, mac = parts
        if not hmac.compare_digest(mac, self._mac(f"{token_id}.{issued}")):
            return None
        age = (time.time() if now is None else now) - int(issued)
        return token_id if 0 <= age < self.max_age else None
