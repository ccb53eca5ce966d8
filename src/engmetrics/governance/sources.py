"""The definitions a workspace holds now, per archive kind, each with a content-addressed version.

Kinds and ids:

- `indicator`: every indicator of `metrics/*.yaml` that validates; id = indicator id, version =
  `catalog.version.definition_version`, content = its canonical JSON.
- `slo`: every document of `slos/*.yaml` that validates; id = `KIND/NAME` (`SLO/checkout`), with
  `@EFFECTIVE-FROM` for a dated version of an SLO (`SLO/checkout@2026-03-01`).
- `budget`: every `kind: Budget` and `kind: AllocationRules` document of `budgets/*.yaml`; id = `KIND/NAME`
  (the file stem when the document has no name).
- `policy`: every YAML document of `policies/*.yaml` (error-budget policies, review_board.yaml,
  access.yaml, postmortem.yaml); id = file stem, plus `/NAME` when the document has a `name` (or
  `metadata.name`) and the file holds several documents.
- `assessment`: `assessments/*.yaml`; id = file stem (the metric id).

The version of every non-indicator is `sha256:` + the first 16 hex digits of the SHA-256 of the parsed
document as canonical JSON (sorted keys): comments, key order and formatting do not change it.
A kind whose files have errors is `complete=False`: what validated is recorded, but nothing of that kind
is taken as removed (a typo must not read as a deletion).

>>> content_version({"b": 1, "a": [1, 2]}) == content_version({"a": [1, 2], "b": 1})
True
>>> content_version({"a": 1})
'sha256:015abd7f5cc57a2d'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..jsonio import plain
from ..validation import display_path
from ..yamlio import load_all

__all__ = ["KINDS", "CurrentDefinition", "KindSnapshot", "content_version", "current_definitions"]

KINDS = ("indicator", "slo", "budget", "policy", "assessment")


def _canonical(content: Any) -> str:
    return json.dumps(plain(content), sort_keys=True, separators=(",", ":"))


def content_version(content: Any) -> str:
    """`sha256:` and the first 16 hex digits of the hash of the canonical JSON of `content`."""
    return "sha256:" + hashlib.sha256(_canonical(content).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CurrentDefinition:
    """One definition as the workspace holds it now."""

    kind: str
    id: str
    version: str
    content: dict[str, Any]
    source: str  # file:line


@dataclass
class KindSnapshot:
    """The definitions of one kind; `complete` is False when some file of the kind failed to load."""

    kind: str
    definitions: list[CurrentDefinition] = field(default_factory=list)
    complete: bool = True


def _unique(kind: str, items: Iterable[tuple[str, Any, str]]) -> list[CurrentDefinition]:
    """Definitions from (id, content, source); a repeated id gets `#2`, `#3`, ... in file order."""
    seen: dict[str, int] = {}
    result = []
    for ident, content, source in items:
        seen[ident] = seen.get(ident, 0) + 1
        final = ident if seen[ident] == 1 else f"{ident}#{seen[ident]}"
        data = plain(content)
        result.append(CurrentDefinition(kind, final, content_version(data), data, source))
    return result


def _indicators(root: Path) -> KindSnapshot:
    from ..catalog.loader import check_catalog
    from ..catalog.version import canonical_json, definition_version

    report = check_catalog(root)
    defs = [CurrentDefinition("indicator", d.id, definition_version(d.indicator),
                              json.loads(canonical_json(d.indicator)), f"{d.file}:{d.line}")
            for d in report.catalog.definitions]
    return KindSnapshot("indicator", defs, not report.errors)


def _slos(root: Path) -> KindSnapshot:
    from ..slo.loader import check_slos
    from ..slo.versions import EFFECTIVE_FROM

    report = check_slos(root)
    items = []
    for doc in report.specs.documents:
        annotations = getattr(getattr(doc.model, "metadata", None), "annotations", None) or {}
        since = annotations.get(EFFECTIVE_FROM)
        ident = f"{doc.kind}/{doc.name}" + (f"@{since}" if since is not None else "")
        items.append((ident, doc.node, f"{doc.file}:{doc.line}"))
    return KindSnapshot("slo", _unique("slo", items), not report.errors)


def _budgets(root: Path) -> KindSnapshot:
    from ..cost.allocation_rules import AllocationRules
    from ..cost.budgets import Budget
    from ..cost.specs import load_kind

    items, complete = [], True
    for kind, model in (("Budget", Budget), ("AllocationRules", AllocationRules)):
        found = load_kind(root, kind, model)
        complete = complete and not found.errors
        for doc in found.documents:
            name = getattr(doc.model, "name", None) or Path(doc.file).stem
            items.append((f"{kind}/{name}", doc.node, f"{doc.file}:{doc.line}"))
    return KindSnapshot("budget", _unique("budget", items), complete)


def _doc_name(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    name = name if name is not None else doc.get("name")
    return str(name) if name is not None else None


def _yaml_files(root: Path, directory: str, kind: str, *, one_per_file: bool) -> KindSnapshot:
    folder = root / directory
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    items, complete = [], True
    for path in paths:
        file = display_path(path, root)
        try:
            docs = load_all(path)
        except (InputError, OSError):
            complete = False
            continue
        if one_per_file:
            if docs:
                items.append((path.stem, docs[0] if len(docs) == 1 else {"documents": docs}, f"{file}:1"))
            continue
        for doc in docs:
            name = _doc_name(doc) if len(docs) > 1 else None
            ident = path.stem if name is None else f"{path.stem}/{name}"
            items.append((ident, doc if isinstance(doc, dict) else {"value": doc},
                          f"{file}:{getattr(doc, 'line', 1)}"))
    return KindSnapshot(kind, _unique(kind, items), complete)


def current_definitions(root: Path, kinds: Iterable[str] = KINDS) -> list[KindSnapshot]:
    """What the workspace at `root` defines now, one snapshot per kind (in `KINDS` order)."""
    readers = {
        "indicator": _indicators, "slo": _slos, "budget": _budgets,
        "policy": lambda r: _yaml_files(r, "policies", "policy", one_per_file=False),
        "assessment": lambda r: _yaml_files(r, "assessments", "assessment", one_per_file=True),
    }
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise InputError(f"unknown definition kind {sorted(unknown)[0]!r}; known: {', '.join(KINDS)}")
    return [readers[k](root) for k in KINDS if k in wanted]
