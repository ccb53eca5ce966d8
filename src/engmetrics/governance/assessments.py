"""Impact assessments: `assessments/METRIC.yaml`, written before an indicator starts changing behaviour.

Each says what behaviour the indicator is meant to change, how it could be gamed, who could be harmed, the
guardrails against that (free text, or the id of a guardrail indicator), and when to look again. The
`assessment` lint rule refuses to activate a new or changed team or individual indicator without one.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "assessments").mkdir()
>>> _ = (root / "assessments" / "deploys.yaml").write_text(
...     "intended_behaviour_change: ship smaller changes more often\\n"
...     "gaming_risks: [splitting one change into trivial deployments]\\n"
...     "groups_harmed: [teams owning legacy monoliths]\\n"
...     "guardrails: [change_failure_rate]\\n"
...     "review_date: 2027-06-30\\n")
>>> load_assessments(root)["deploys"].guardrails
['change_failure_rate']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError, Issue, ValidationFailed
from ..validation import model_issues
from ..yamlio import load_all

__all__ = ["ASSESSMENTS_DIR", "Assessment", "AssessmentFile", "check_assessments", "load_assessments"]

ASSESSMENTS_DIR = "assessments"


class Assessment(BaseModel):
    """The impact assessment of one indicator (the file name, without `.yaml`, is the indicator id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intended_behaviour_change: str = Field(min_length=1, description="what people should do differently")
    gaming_risks: list[str] = Field(min_length=1, description="ways the number could be moved without the "
                                    "behaviour it stands for")
    groups_harmed: list[str] = Field(min_length=1, description="who could be treated unfairly by it")
    guardrails: list[str] = Field(min_length=1, description="what keeps the risks in check; may name "
                                  "guardrail indicators by id")
    review_date: date = Field(description="when to check whether the behaviour changed as intended")
    owner: str | None = Field(None, description="who answers for the assessment")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class AssessmentFile:
    """An assessment and where it was written."""

    metric: str
    assessment: Assessment
    file: str
    line: int | None


def _load(path: Path, root: Path) -> tuple[AssessmentFile | None, list[Issue]]:
    file = f"{ASSESSMENTS_DIR}/{path.name}"
    metric = path.stem
    try:
        docs = load_all(path)
    except InputError as exc:
        return None, [Issue("ERROR", "schema", exc.message, file=file, line=exc.line, metric=metric)]
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return None, [Issue("ERROR", "schema", "expected one mapping: intended_behaviour_change, gaming_risks, "
                            "groups_harmed, guardrails, review_date", file=file, line=1, metric=metric)]
    try:
        return AssessmentFile(metric, Assessment.model_validate(docs[0]), file, docs[0].line), []
    except ValidationError as exc:
        return None, model_issues(exc, docs[0], file, subject=lambda loc: metric)


def check_assessments(root: Path) -> tuple[dict[str, AssessmentFile], list[Issue]]:
    """Every valid `assessments/*.yaml` by indicator id, and the issues (file:line) of the others."""
    directory = root / ASSESSMENTS_DIR
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []
    found: dict[str, AssessmentFile] = {}
    issues: list[Issue] = []
    for path in paths:
        loaded, problems = _load(path, root)
        issues.extend(problems)
        if loaded is None:
            continue
        if loaded.metric in found:
            issues.append(Issue("ERROR", "duplicate-id", f"{loaded.metric} is already assessed in "
                                f"{found[loaded.metric].file}", file=loaded.file, line=1, metric=loaded.metric))
            continue
        found[loaded.metric] = loaded
    return found, issues


def load_assessments(root: Path) -> dict[str, Assessment]:
    """Indicator id -> assessment; raises `ValidationFailed` when a file is invalid."""
    found, issues = check_assessments(root)
    if issues:
        raise ValidationFailed(issues)
    return {metric: f.assessment for metric, f in found.items()}
