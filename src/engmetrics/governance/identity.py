"""Who the CLI acts as: the workspace owner, named by `--as`, else `ENGMETRICS_USER`, else the login name.

>>> actor("alice")
'alice'
"""

from __future__ import annotations

import getpass
import os

__all__ = ["USER_ENV", "actor"]

USER_ENV = "ENGMETRICS_USER"


def actor(explicit: str | None = None) -> str:
    """The name recorded in the audit log and on board decisions for a CLI call."""
    if explicit and explicit.strip():
        return explicit.strip()
    from_env = os.environ.get(USER_ENV, "").strip()
    if from_env:
        return from_env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "workspace-owner"
