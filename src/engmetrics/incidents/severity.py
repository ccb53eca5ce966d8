"""Vendor severity and priority names to the 1-5 scale of `incidents.severity` (1 most severe).

The only source of truth is `settings.incidents.severity_map` (name -> level). Names match
case-insensitively and after trimming white space; nothing else is guessed: `SEV-1` does not match
`sev1`, and a bare number is a name like any other (`"1"` matches only if the map has a key `"1"`).
An unknown or missing name gives no level; the connectors quarantine such an item with
`unknown_severity_reason`, which names the setting to extend (short: the quarantine shows 80 characters).

>>> severity_level("P1", {"p1": 1})
1
>>> severity_level(" Critical ", {"critical": 1})
1
>>> severity_level("SEV-1", {"sev1": 1}) is None
True
>>> unknown_severity_reason("SEV-1")
"unknown severity 'SEV-1' (add it to incidents.severity_map)"
>>> unknown_severity_reason(None)
'no severity given (see incidents.severity_map)'
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["severity_level", "unknown_severity_reason"]

_SHOWN = 20  # characters of a name kept in a reason, so that the reason fits the quarantine's 80


def _normal(name: object) -> str:
    return str(name).strip().lower()


def severity_level(name: object, severity_map: Mapping[str, int]) -> int | None:
    """The level (1-5) `severity_map` gives `name`, case-insensitively; None when unknown or missing."""
    if name is None or _normal(name) == "":
        return None
    wanted = _normal(name)
    for key, level in severity_map.items():
        if _normal(key) == wanted:
            return level
    return None


def unknown_severity_reason(name: object) -> str:
    """Why an item with severity `name` (None or blank = missing) is refused, naming the setting to extend."""
    if name is None or _normal(name) == "":
        return "no severity given (see incidents.severity_map)"
    return f"unknown severity '{str(name).strip()[:_SHOWN]}' (add it to incidents.severity_map)"
