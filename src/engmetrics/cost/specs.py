"""Documents of one `kind` in the workspace's `budgets/*.yaml` (allocation rules, budgets).

A file may hold several documents (`---`) of different kinds; each loader takes the documents of its
own kind and leaves the others alone. Every problem is an `Issue` naming file and line; a document that
does not validate is reported and skipped, never half-loaded.

>>> import tempfile, pathlib
>>> from pydantic import BaseModel
>>> class Note(BaseModel):
...     kind: str
...     text: str
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "budgets").mkdir()
>>> _ = (root / "budgets" / "a.yaml").write_text("kind: Note\\ntext: hi\\n---\\nkind: Other\\n---\\nkind: Note\\n")
>>> found = load_kind(root, "Note", Note)
>>> [(d.model.text, d.file, d.line) for d in found.documents]
[('hi', 'budgets/a.yaml', 1)]
>>> [str(i) for i in found.issues]
['budgets/a.yaml:6: ERROR [model] text: Field required']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import InputError, Issue
from ..validation import IssueReport, display_path, model_issues
from ..yamlio import load_all, locate

__all__ = ["BUDGETS_DIR", "KindReport", "Loaded", "load_kind"]

BUDGETS_DIR = "budgets"
M = TypeVar("M", bound=BaseModel)


@dataclass
class Loaded(Generic[M]):
    """A validated document with where it came from, so later checks can name file and line."""

    model: M
    file: str
    line: int | None
    node: Any = field(default=None, repr=False, compare=False)

    def line_of(self, *loc: Any) -> int | None:
        """The line of a value inside the document (`line_of("rules", 0, "match")`)."""
        return locate(self.node, loc) or self.line

    def issue(self, rule: str, message: str, *loc: Any, level: str = "ERROR") -> Issue:
        return Issue(level, rule, message, file=self.file, line=self.line_of(*loc))


@dataclass
class KindReport(IssueReport, Generic[M]):
    """The documents of one kind that validated, and every issue found."""

    documents: list[Loaded[M]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def load_kind(root: Path, kind: str, model: type[M], directory: str = BUDGETS_DIR) -> KindReport[M]:
    """Every `kind: KIND` document of `ROOT/DIRECTORY/*.yaml|yml`, in file order; never raises."""
    report: KindReport[M] = KindReport()
    folder = root / directory
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    for path in paths:
        file = display_path(path, root)
        try:
            if kind not in path.read_text(encoding="utf-8", errors="replace"):
                continue
            docs = load_all(path)
        except InputError as exc:
            report.issues.append(Issue("ERROR", "schema", exc.message, file=file, line=exc.line))
            continue
        except OSError as exc:
            report.issues.append(Issue("ERROR", "schema", f"cannot read: {exc.strerror}", file=file))
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != kind:
                continue
            try:
                report.documents.append(Loaded(model.model_validate(doc), file, getattr(doc, "line", None), doc))
            except ValidationError as exc:
                report.issues.extend(model_issues(exc, doc, file))
    return report
