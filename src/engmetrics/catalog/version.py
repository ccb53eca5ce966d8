"""Definition versions: a content hash of the canonical definition, so every stored number can be
traced to the exact definition that produced it. Formatting, comments, key order and spelling out a
default do not change the version; any change of meaning does.

>>> from engmetrics.catalog.model import Indicator
>>> a = Indicator.model_validate({"id": "x", "name": "X", "kind": "leading", "unit": "n",
...     "direction": "higher_is_better", "cadence": "daily",
...     "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
...     "thresholds": {"green": {"min": 1}, "red": {"max": 1}}})
>>> definition_version(a) == definition_version(a.model_copy())
True
>>> definition_version(a)[:7]
'sha256:'
"""

from __future__ import annotations

import hashlib
import json

from .model import Indicator

__all__ = ["canonical_json", "definition_version"]


# Fields added after versions were first stored: left out while at their default, so a definition that does
# not use them keeps the version it always had.
_LATER_FIELDS = {"affects": [], "perception": None}


def canonical_json(indicator: Indicator) -> str:
    """The definition as JSON with every field (defaults included, except later fields at their default)
    and sorted keys."""
    data = indicator.model_dump(mode="json")
    for name, default in _LATER_FIELDS.items():
        if data.get(name) == default:
            del data[name]
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def definition_version(indicator: Indicator) -> str:
    """`sha256:` and the first 16 hex digits of the hash of `canonical_json(indicator)`."""
    return "sha256:" + hashlib.sha256(canonical_json(indicator).encode()).hexdigest()[:16]
