"""Experiment specs: `experiments/NAME.yaml` in the workspace, one experiment per file.

```yaml
experiment: review-checklist        # name (default: the file name without .yaml)
metric: cycle_time_p50              # a catalog indicator with a declarative calculation
unit: team                          # team | service: the column of the indicator's dataset that names a unit
grain: week                         # day | week: the time buckets inside each period
assignment: randomised              # randomised | observational
treated: [checkout, payments]
control: [search, platform]
before: {from: 2026-01-05, to: 2026-02-01}
after: {from: 2026-02-02, to: 2026-03-01}
method: auto                        # auto | welch | permutation | cuped | did | its
alpha: 0.05
expected_ratio: 0.5                 # expected share of treated units, for the sample-ratio-mismatch check
seed: 7                             # Monte Carlo permutations, when there are too many assignments to list
strata: {checkout: product, payments: product, search: platform, platform: platform}  # optional
```

With `grain: week` both periods must cover whole ISO weeks (from a Monday to a Sunday): a week cut by a period's
edge would be a bucket of both periods. `strata` (written by `design --strata`) names each unit's stratum; the
permutation test and the difference-in-differences then permute units within their stratum only.

Problems are reported with file, line and field (`InputError`), the first one found.

>>> from engmetrics.yamlio import loads
>>> doc = loads("metric: m\\nunit: team\\ngrain: week\\nassignment: randomised\\ntreated: [a]\\ncontrol: [b]\\n"
...             "before: {from: 2026-01-05, to: 2026-01-18}\\nafter: {from: 2026-01-19, to: 2026-02-01}\\n", "x.yaml")
>>> parse_spec(doc, "x.yaml", name="x").method
'auto'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...catalog.periods import Period
from ...errors import InputError
from ...validation import display_path, model_issues
from ...yamlio import load_all, locate

__all__ = ["METHODS", "ExperimentSpec", "PeriodSpec", "SpecFile", "experiments_dir", "list_specs", "load_spec",
           "parse_spec"]

METHODS = ("auto", "welch", "permutation", "cuped", "did", "its")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class PeriodSpec(BaseModel):
    """Days `from..to`, both inclusive (UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> PeriodSpec:
        if self.end < self.start:
            raise ValueError(f"`to` ({self.end}) is before `from` ({self.start})")
        return self

    @property
    def period(self) -> Period:
        return Period(self.start, self.end)

    def to_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


class ExperimentSpec(BaseModel):
    """One experiment on a process change (module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    experiment: str = Field(pattern=NAME_PATTERN, max_length=120)
    description: str = ""
    metric: str
    unit: Literal["team", "service"]
    grain: Literal["day", "week"] = "week"
    assignment: Literal["randomised", "observational"]
    treated: list[str] = Field(min_length=1)
    control: list[str] = Field(default_factory=list)
    before: PeriodSpec
    after: PeriodSpec
    method: Literal["auto", "welch", "permutation", "cuped", "did", "its"] = "auto"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    expected_ratio: float | None = Field(None, gt=0, lt=1, description="expected share of treated units")
    seed: int = 7
    strata: dict[str, str] | None = None

    @property
    def ratio(self) -> float:
        """The expected share of treated units (0.5 unless `expected_ratio` says otherwise)."""
        return 0.5 if self.expected_ratio is None else self.expected_ratio

    def to_dict(self) -> dict[str, Any]:
        """The spec as YAML/JSON-ready values (what `design --write` writes)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=False)
        return {k: v for k, v in data.items() if v not in ("", None)}


def experiments_dir(root: Path) -> Path:
    return root / "experiments"


def parse_spec(doc: Any, file: str, *, name: str) -> ExperimentSpec:
    """A spec from a YAML document with line information (`yamlio`); `name` is the default `experiment`."""
    if not isinstance(doc, dict):
        raise InputError("expected a mapping: one experiment (experiment, metric, unit, ...)", file=file,
                         line=getattr(doc, "line", 1))
    data = dict(doc)
    data.setdefault("experiment", name)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        issue = model_issues(exc, doc, file)[0]
        raise InputError(issue.message, file=file, line=issue.line or locate(doc, [])) from None
    problem = _inconsistency(spec)
    if problem:
        field, message = problem
        raise InputError(f"{field}: {message}", file=file, line=locate(doc, [field])) from None
    return spec


def _inconsistency(spec: ExperimentSpec) -> tuple[str, str] | None:
    """(field, message) of the first rule across fields that `spec` breaks, else None."""
    both = sorted(set(spec.treated) & set(spec.control))
    if both:
        return "control", f"units both treated and control: {', '.join(both)}"
    for arm in ("treated", "control"):
        units = getattr(spec, arm)
        if len(set(units)) != len(units):
            return arm, "lists a unit twice"
    if spec.after.start <= spec.before.end:
        return "after", f"must start after the before period ends ({spec.before.end})"
    for field in ("before", "after"):
        period = getattr(spec, field)
        if spec.grain == "week" and (period.start.weekday() != 0 or period.end.weekday() != 6):
            return field, (f"grain week needs whole ISO weeks, from a Monday to a Sunday; {period.start} is a "
                           f"{period.start:%A} and {period.end} a {period.end:%A}")
    if spec.strata is not None:
        unknown = [u for u in [*spec.treated, *spec.control] if u not in spec.strata]
        if unknown:
            return "strata", f"no stratum for {', '.join(unknown)}"
    if spec.method in ("welch", "permutation", "cuped") and (len(spec.treated) < 2 or len(spec.control) < 2):
        return "method", f"{spec.method} needs at least 2 treated and 2 control units"
    if spec.method == "did" and not spec.control:
        return "method", "did needs control units"
    if not spec.control and len(spec.treated) > 1 and spec.method == "auto":
        return "control", "several treated units and no control units: name control units (or use method: its)"
    return None


@dataclass(frozen=True)
class SpecFile:
    """A spec with where it came from: `error(field, message)` locates a later problem (the metric is unknown,
    a unit has no data) at the field's line."""

    spec: ExperimentSpec
    file: str
    node: Any = None

    def error(self, field: str, message: str) -> InputError:
        return InputError(f"{field}: {message}", file=self.file, line=locate(self.node, [field]) if self.node else None)


def load_spec(path: Path, root: Path | None = None) -> SpecFile:
    """The spec in `path` (errors name the file relative to `root`, line and field)."""
    file = display_path(path, root)
    if not path.is_file():
        raise InputError("no such experiment spec", file=file)
    try:
        docs = load_all(path)
    except InputError as exc:
        raise InputError(exc.message, file=file, line=exc.line, column=exc.column) from None
    if len(docs) != 1:
        raise InputError(f"expected one YAML document, found {len(docs)}", file=file, line=1)
    return SpecFile(parse_spec(docs[0], file, name=path.name.rsplit(".", 1)[0]), file, docs[0])


def list_specs(root: Path) -> list[Path]:
    """The spec files of the workspace (`experiments/*.yaml`, `*.yml`), sorted by name."""
    directory = experiments_dir(root)
    if not directory.is_dir():
        return []
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
