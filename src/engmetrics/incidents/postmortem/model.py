"""The postmortem standard: a Markdown file whose YAML front matter holds the structured fields.

The fields join what Google's SRE book postmortem template and PagerDuty's postmortem template ask for
(docs/incidents.md, "Postmortems"). A file starts with a line `---`, then the front matter, then a
line `---`, then the Markdown narrative. Line numbers are of the file: the front matter's first line is
line 2.

Contributing factors come from a taxonomy: `DEFAULT_FACTORS`, or the list `contributing_factors` in the
workspace's `policies/postmortem.yaml`, which replaces the default.

>>> doc = parse_text("---\\nincident_id: INC-1\\ntitle: Checkout down\\n---\\n# Checkout down\\n", "INC-1.md")
>>> doc.incident_id, doc.line(("title",)), doc.body_line
('INC-1', 3, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...yamlio import LineDict, LineList, load_all, loads, locate

__all__ = [
    "ACTION_STATUSES", "ACTION_TYPES", "CONFIDENTIALITY", "DEFAULT_FACTORS", "TIMELINE", "Postmortem",
    "load_taxonomy", "parse_file", "parse_text",
]

DEFAULT_FACTORS = ("change", "capacity", "dependency", "configuration", "code_defect", "monitoring_gap",
                   "process", "external")
TIMELINE = ("impact_started", "detected", "acknowledged", "mitigated", "resolved")  # in this order
CONFIDENTIALITY = ("public", "internal", "confidential", "restricted")
ACTION_TYPES = ("mitigate", "prevent", "process")
ACTION_STATUSES = ("open", "in_progress", "done", "wont_do")
POLICY_FILE = Path("policies") / "postmortem.yaml"
_FENCE = "---"


@dataclass
class Postmortem:
    """One parsed postmortem: `front` (None when absent or unparsable), the body and where things are."""

    file: str
    front: LineDict | None
    body: str
    body_line: int  # file line where the body starts
    error: InputError | None = None  # why `front` is None

    @property
    def incident_id(self) -> str | None:
        value = self.front.get("incident_id") if self.front else None
        return str(value) if value not in (None, "") else None

    def get(self, *path: Any) -> Any:
        """The value at `path` (keys and indexes) or None."""
        node: Any = self.front
        for part in path:
            in_dict = isinstance(node, dict) and part in node
            if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
                node = node[part]
            else:
                return None
        return node

    def line(self, path: tuple[Any, ...]) -> int:
        """File line of the value at `path`, or of its closest ancestor (line 1 without front matter)."""
        found = locate(self.front, path) if self.front is not None else None
        return found + 1 if found else 1  # the YAML starts on file line 2


def _split(text: str) -> tuple[str | None, str, int]:
    """(front matter text or None, body, body's first file line)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _FENCE:
        return None, text, 1
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() == _FENCE:
            return "".join(lines[1:index]), "".join(lines[index + 1:]), index + 2
    return None, text, 1


def parse_text(text: str, file: str | Path) -> Postmortem:
    """Parse a postmortem; a missing or invalid front matter is kept as `error`, not raised."""
    front_text, body, body_line = _split(text)
    if front_text is None:
        error = InputError("no YAML front matter: the file must start with a line '---' and close it with '---'",
                           file=file, line=1)
        return Postmortem(str(file), None, body, body_line, error)
    try:
        front = loads(front_text, file)
    except InputError as exc:
        shifted = InputError(exc.message, file=file, line=(exc.line or 0) + 1, column=exc.column)
        return Postmortem(str(file), None, body, body_line, shifted)
    if not isinstance(front, LineDict):
        return Postmortem(str(file), None, body, body_line,
                          InputError("the front matter must be a mapping of fields", file=file, line=2))
    return Postmortem(str(file), front, body, body_line)


def parse_file(path: Path) -> Postmortem:
    """Read and parse one postmortem file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from exc
    return parse_text(text, path)


def load_taxonomy(workspace: Path | None) -> tuple[str, ...]:
    """The contributing-factor names: `policies/postmortem.yaml` of the workspace, else `DEFAULT_FACTORS`."""
    path = workspace / POLICY_FILE if workspace else None
    if path is None or not path.is_file():
        return DEFAULT_FACTORS
    docs = load_all(path)
    doc = docs[0] if docs else None
    factors = doc.get("contributing_factors") if isinstance(doc, dict) else None
    if not isinstance(factors, LineList) or not factors or not all(isinstance(f, str) and f for f in factors):
        line = locate(doc, ("contributing_factors",)) if isinstance(doc, dict) else 1
        raise InputError("contributing_factors must be a non-empty list of names", file=path, line=line)
    return tuple(factors)
