"""JSON as engmetrics prints it everywhere (`--json` and the API routes that promise the same output): dates
and instants in ISO 8601 with their offset (`+00:00`, not `Z`), paths as text, pydantic models as their JSON
form, and no NaN (a NaN is a bug upstream, so it fails loudly).

>>> from datetime import UTC, datetime
>>> plain({"at": datetime(2026, 3, 1, tzinfo=UTC)})
{'at': '2026-03-01T00:00:00+00:00'}
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = ["encode", "plain"]


def encode(value: Any) -> Any:
    """`json.dumps(default=encode)`: the values the standard encoder does not know."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def plain(data: Any) -> Any:
    """`data` as plain JSON values (what a client parses from `--json`)."""
    return json.loads(json.dumps(data, default=encode, allow_nan=False))
