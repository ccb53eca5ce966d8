"""Pydantic validation errors located in YAML: shared by every definition loader (catalog, SLOs).

>>> from pydantic import BaseModel, ValidationError
>>> from engmetrics.yamlio import loads
>>> class M(BaseModel):
...     n: int
>>> doc = loads("a: 1\\nn: many\\n", "f.yaml")
>>> try:
...     M.model_validate(doc)
... except ValidationError as exc:
...     [(i.line, i.message.split(":")[0]) for i in model_issues(exc, doc, "f.yaml")]
[(2, 'n')]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError, Issue, ValidationFailed
from .yamlio import load_all, locate

__all__ = ["IssueReport", "display_path", "model_issues", "read_policy", "resolve_loc"]

M = TypeVar("M", bound=BaseModel)


class IssueReport:
    """Base of a loader's report (what loaded, plus `issues`): the ERROR issues among them."""

    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "ERROR"]


def display_path(path: Path, root: Path | None) -> str:
    """`path` relative to `root` when it lies inside it, else as given."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def resolve_loc(doc: Any, loc: tuple[Any, ...] | list[Any]) -> list[Any]:
    """Keep the parts of a pydantic error location that exist in the YAML (drops union tags)."""
    kept, node = [], doc
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            kept.append(part)
            node = node[part]
    return kept


def model_issues(exc: ValidationError, doc: Any, file: str, *,
                 subject: Callable[[list[Any]], str | None] = lambda loc: None) -> list[Issue]:
    """One ERROR `model` issue per distinct pydantic error, at the line of the field it is about (a
    discriminator error points at the tag itself); `subject(loc)` names what the issue is about."""
    issues: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kept = resolve_loc(doc, loc)
        if err["type"] == "union_tag_invalid":  # point at the tag itself, e.g. `type: average`
            kept = resolve_loc(doc, (*kept, "type"))
        name = ".".join(str(p) for p in kept) or "document"
        if len(kept) < len(loc) and err["type"] == "missing":
            name = ".".join(str(p) for p in (*kept, loc[-1]))
        issue = Issue("ERROR", "model", f"{name}: {err['msg']}", file=file, line=locate(doc, kept),
                      metric=subject(kept))
        if issue not in issues:  # union members repeat the same complaint
            issues.append(issue)
    return issues


def read_policy(path: Path, root: Path, model: type[M], topic: str) -> tuple[M, Any, str]:
    """The one-document YAML file `path` validated as `model`: (the model, the document with line numbers, the
    file as shown); raises `ValidationFailed` naming file and line (`topic` names the check that fails)."""
    file = display_path(path, root)
    try:
        docs = load_all(path)
    except InputError as exc:
        raise ValidationFailed([Issue("ERROR", "yaml", exc.message, file=file, line=exc.line)]) from exc
    if len(docs) > 1:
        raise ValidationFailed([Issue("ERROR", topic, "expected one YAML document", file=file, line=1)])
    doc = docs[0] if docs else {}
    try:
        return model.model_validate(doc or {}), doc, file
    except ValidationError as exc:
        raise ValidationFailed(model_issues(exc, doc, file)) from exc
