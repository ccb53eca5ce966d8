"""Load `metrics/*.yaml` in three stages, every problem located by file and line.

1. **schema**: each YAML document is a mapping, either one indicator or `indicators:` / `outcomes:` lists;
2. **model**: each indicator and outcome validates against the pydantic models;
3. **cross-definition**: unique ids, datasets and columns known to the store registry, calculators
   registered (see `engmetrics.catalog.rules`).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "metrics").mkdir()
>>> _ = (root / "metrics" / "a.yaml").write_text("id: x\\nname: X\\n")
>>> report = check_catalog(root)
>>> [str(i).split(": ERROR")[0] for i in report.issues][:1]
['metrics/a.yaml:1']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..errors import InputError, Issue, ValidationFailed
from ..validation import IssueReport, display_path, model_issues
from ..yamlio import LineDict, LineList, load_all, locate
from .model import Indicator, Outcome

if TYPE_CHECKING:
    from ..governance.assessments import Assessment, AssessmentFile
    from ..governance.board import ReviewBoard

__all__ = ["Catalog", "CatalogReport", "Definition", "OutcomeDefinition", "check_catalog", "load_catalog",
           "metrics_dir"]

FILE_KEYS = {"indicators", "outcomes"}


@dataclass(frozen=True)
class Definition:
    """An indicator with where it was defined (`node` keeps the YAML line of every field)."""

    indicator: Indicator
    file: str
    line: int | None
    node: Any = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.indicator.id

    def line_of(self, *loc: Any) -> int | None:
        """Line of the field at `loc` (e.g. `line_of("thresholds", "red")`), else of the indicator."""
        return locate(self.node, loc) if self.node is not None else self.line


@dataclass(frozen=True)
class OutcomeDefinition:
    outcome: Outcome
    file: str
    line: int | None


@dataclass
class Catalog:
    """Every indicator and outcome of a workspace, in file order; the review board
    (`policies/review_board.yaml`, None without one) and the impact assessments (`assessments/*.yaml`)."""

    definitions: list[Definition] = field(default_factory=list)
    outcomes: list[OutcomeDefinition] = field(default_factory=list)
    review_board: ReviewBoard | None = None
    assessment_files: dict[str, AssessmentFile] = field(default_factory=dict)

    @property
    def assessments(self) -> dict[str, Assessment]:
        """Indicator id -> its impact assessment."""
        return {metric: f.assessment for metric, f in self.assessment_files.items()}

    def get(self, metric_id: str) -> Definition:
        for d in self.definitions:
            if d.id == metric_id:
                return d
        raise InputError(f"no indicator {metric_id!r}; known: {', '.join(self.ids) or 'none'}")

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.definitions]

    @property
    def active(self) -> list[Definition]:
        return [d for d in self.definitions if d.indicator.status == "active"]

    def outcome(self, outcome_id: str) -> Outcome | None:
        return next((o.outcome for o in self.outcomes if o.outcome.id == outcome_id), None)


@dataclass
class CatalogReport(IssueReport):
    """The catalog as far as it loaded, and every issue found on the way."""

    catalog: Catalog
    issues: list[Issue]


def metrics_dir(root: Path) -> Path:
    return root / "metrics"


def _validate(model: type[BaseModel], doc: Any, file: str, issues: list[Issue]) -> Any:
    metric = doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else None
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        issues.extend(model_issues(exc, doc, file, subject=lambda loc: metric))
        return None


def _items(doc: LineDict, key: str, file: str, issues: list[Issue]) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(Issue("ERROR", "schema", f"{key}: expected a list", file=file, line=locate(doc, [key])))
        return []
    good = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            good.append(item)
        else:
            line = value.item_lines[index] if isinstance(value, LineList) else doc.line
            issues.append(Issue("ERROR", "schema", f"{key}[{index}]: expected a mapping", file=file,
                                line=line))
    return good


def _load_file(path: Path, root: Path, catalog: Catalog, issues: list[Issue]) -> None:
    file = display_path(path, root)
    try:
        docs = load_all(path)
    except InputError as exc:
        issues.append(Issue("ERROR", "schema", exc.message, file=file, line=exc.line))
        return
    for doc in docs:
        if not isinstance(doc, dict):
            issues.append(Issue("ERROR", "schema", "expected a mapping: one indicator, or `indicators:` "
                                "and `outcomes:` lists", file=file, line=getattr(doc, "line", 1)))
            continue
        if FILE_KEYS & doc.keys():
            for key in sorted(doc.keys() - FILE_KEYS):
                issues.append(Issue("ERROR", "schema", f"unknown top-level key {key!r} (expected "
                                    "`indicators:` and `outcomes:`)", file=file, line=locate(doc, [key])))
            indicators = _items(doc, "indicators", file, issues)
            outcomes = _items(doc, "outcomes", file, issues)
        else:
            indicators, outcomes = [doc], []
        for node in indicators:
            model = _validate(Indicator, node, file, issues)
            if model is not None:
                catalog.definitions.append(Definition(model, file, node.line, node))
        for node in outcomes:
            model = _validate(Outcome, node, file, issues)
            if model is not None:
                catalog.outcomes.append(OutcomeDefinition(model, file, node.line))


def check_catalog(root: Path) -> CatalogReport:
    """Load the workspace's `metrics/*.yaml` (sorted by name), its review board and impact assessments, and
    collect every issue; never raises."""
    from ..governance.assessments import check_assessments
    from ..governance.board import check_review_board
    from .rules import cross_definition_issues

    catalog, issues = Catalog(), []
    catalog.review_board, board_issues = check_review_board(root)
    catalog.assessment_files, assessment_issues = check_assessments(root)
    directory = metrics_dir(root)
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []
    for path in paths:
        _load_file(path, root, catalog, issues)
    issues.extend(cross_definition_issues(catalog))
    issues.extend(board_issues + assessment_issues)
    return CatalogReport(catalog, issues)


def load_catalog(root: Path) -> Catalog:
    """The workspace's catalog; raises `ValidationFailed` listing every ERROR."""
    report = check_catalog(root)
    if report.errors:
        raise ValidationFailed(report.errors)
    return report.catalog
