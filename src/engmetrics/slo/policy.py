"""Error-budget policies: what a team does, and whether releases may go out, as an error budget runs down.

Policies live in the workspace's `policies/*.yaml`, next to policies of other kinds (roles, retention...):
a document is an error-budget policy when it says `kind: ErrorBudgetPolicy`; every other document, and
every file that does not mention `ErrorBudgetPolicy` at all, is left alone. A file may hold several
documents (`---`).

```yaml
kind: ErrorBudgetPolicy
name: default
description: What every team does as its budget runs down.   # optional
services: ["*"]            # service names, glob patterns (`payments-*`) or "*" for every service
stages:
  - name: healthy
    below: null            # the base stage: applies when no stage below applies
    actions: [release freely]
  - name: warn
    below: 0.5             # applies when less than 50 % of the error budget remains
    actions: [notify the team, review risky changes]
  - name: freeze
    below: 0.0             # applies when the budget is overspent
    block_releases: true
    actions: [freeze feature releases, reliability work only]
insufficient_data: allow   # or block: an objective/window with too few events blocks releases
```

- **Stages**: each stage but one has `below`, a fraction of the error budget (at most 1; negative means
  overspent). The stage that applies to a remaining budget `r` is the one with the smallest `below` that
  `r` is strictly below; when there is none, the base stage (`below: null`, exactly one per policy).
  `block_releases` (default false) makes the release gate refuse releases in that stage; `actions` are
  what the team does then (printed by the gate).
- **Services**: the most specific policy wins: a service named exactly beats a glob pattern, a pattern
  with more literal characters beats one with fewer, and `*` comes last. Two policies naming the same
  service, or two patterns equally specific for one service, are an error.
- **No policy**: a service that no policy covers gets `DEFAULT_POLICY`: `healthy` (base), `warn` below
  0.5 (notify the team, review risky changes), `freeze` below 0 (blocks releases: freeze feature
  releases, reliability work only), insufficient data allowed.

Every problem is an `Issue` naming file and line:

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "policies").mkdir()
>>> _ = (root / "policies" / "budget.yaml").write_text(
...     "kind: ErrorBudgetPolicy\\nname: p\\nstages:\\n  - name: warn\\n    below: 1.5\\n")
>>> [str(i) for i in check_policies(root).issues]
['policies/budget.yaml:5: ERROR [model] stages.0.below: Input should be less than or equal to 1']

>>> DEFAULT_POLICY.stage_for(0.6).name, DEFAULT_POLICY.stage_for(0.3).name, DEFAULT_POLICY.stage_for(-0.2).name
('healthy', 'warn', 'freeze')
>>> DEFAULT_POLICY.stage_for(0.0).name   # exactly spent is not below 0
'warn'
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError, Issue, ValidationFailed
from ..validation import IssueReport, display_path, model_issues
from ..yamlio import load_all, locate

__all__ = ["DEFAULT_POLICY", "KIND", "BudgetPolicy", "ErrorBudgetPolicy", "PolicyReport", "PolicySet", "Stage",
           "check_policies", "load_policies", "policies_dir"]

KIND = "ErrorBudgetPolicy"
INSUFFICIENT_DATA = "insufficient_data"  # the gate's pseudo-stage; no policy stage may take the name


class Stage(BaseModel):
    """One stage of a policy: below which remaining budget fraction it applies, and what it means."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    below: float | None = Field(None, le=1, allow_inf_nan=False,
                                description="remaining budget fraction below which the stage applies")
    block_releases: bool = False
    actions: list[str] = Field(default_factory=list)


class ErrorBudgetPolicy(BaseModel):
    """A `kind: ErrorBudgetPolicy` document."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["ErrorBudgetPolicy"]
    name: str = Field(min_length=1)
    description: str | None = None
    services: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    stages: list[Stage] = Field(min_length=1)
    insufficient_data: Literal["allow", "block"] = "allow"


@dataclass(frozen=True)
class BudgetPolicy:
    """A loaded policy with where it was defined (`file` None for the built-in default)."""

    model: ErrorBudgetPolicy
    file: str | None = None
    line: int | None = None
    node: Any = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def source(self) -> str:
        """`file:line`, or `built-in` for the default policy."""
        return f"{self.file}:{self.line}" if self.file else "built-in"

    def line_of(self, *loc: Any) -> int | None:
        return locate(self.node, loc) if self.node is not None else self.line

    def stage_for(self, remaining: float) -> Stage:
        """The stage for a remaining budget fraction: the lowest `below` it is under, else the base stage."""
        under = [s for s in self.model.stages if s.below is not None and remaining < s.below]
        if under:
            return min(under, key=lambda s: s.below)  # type: ignore[arg-type, return-value]
        return next(s for s in self.model.stages if s.below is None)

    def specificity(self, service: str) -> int | None:
        """How specifically this policy names `service` (higher wins), None when it does not cover it."""
        best: int | None = None
        for pattern in self.model.services:
            if pattern == service:
                score = 1_000_000
            elif pattern == "*" and service:
                score = 0
            elif _is_glob(pattern) and fnmatch.fnmatchcase(service, pattern):
                score = 1 + sum(c not in "*?[]" for c in pattern)
            else:
                continue
            best = score if best is None else max(best, score)
        return best


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


DEFAULT_POLICY = BudgetPolicy(ErrorBudgetPolicy(
    kind=KIND, name="built-in default", description="Applies to services that no policies/*.yaml covers.",
    services=["*"], stages=[
        Stage(name="healthy", below=None, actions=["release freely"]),
        Stage(name="warn", below=0.5, actions=["notify the team", "review risky changes"]),
        Stage(name="freeze", below=0.0, block_releases=True,
              actions=["freeze feature releases", "reliability work only"]),
    ], insufficient_data="allow"))


@dataclass
class PolicySet:
    """Every error-budget policy of a workspace, in file order."""

    policies: list[BudgetPolicy] = field(default_factory=list)

    def for_service(self, service: str) -> BudgetPolicy:
        """The most specific policy covering `service`, else `DEFAULT_POLICY`.

        >>> PolicySet().for_service("checkout").name
        'built-in default'
        """
        scored = [(p.specificity(service), p) for p in self.policies]
        covering = [(s, p) for s, p in scored if s is not None]
        if not covering:
            return DEFAULT_POLICY
        best = max(s for s, _ in covering)
        winners = [p for s, p in covering if s == best]
        if len(winners) > 1:
            raise InputError(f"service {service!r} is covered equally specifically by error-budget policies "
                             + " and ".join(f"{p.name!r} ({p.source})" for p in winners)
                             + ": make one of them name the service", file=winners[0].file, line=winners[0].line)
        return winners[0]


@dataclass
class PolicyReport(IssueReport):
    """The policies as far as they loaded, and every issue found on the way."""

    policies: PolicySet
    issues: list[Issue]


def policies_dir(root: Path) -> Path:
    return root / "policies"


def _load_file(path: Path, root: Path | None, found: PolicySet, issues: list[Issue]) -> None:
    file = display_path(path, root)
    try:
        if KIND not in path.read_text(encoding="utf-8", errors="replace"):
            return  # a policy of another kind: not ours to judge
        docs = load_all(path)
    except InputError as exc:
        issues.append(Issue("ERROR", "schema", exc.message, file=file, line=exc.line))
        return
    except OSError as exc:
        issues.append(Issue("ERROR", "schema", f"cannot read: {exc.strerror}", file=file))
        return
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        kind = doc.get("kind")
        if kind != KIND:
            if isinstance(kind, str) and kind != KIND and "errorbudget" in kind.lower().replace("-", ""):
                issues.append(Issue("ERROR", "schema", f"unknown kind {kind!r}: did you mean {KIND!r}?",
                                    file=file, line=locate(doc, ["kind"])))
            continue
        name = doc.get("name") if isinstance(doc.get("name"), str) else None
        try:
            model = ErrorBudgetPolicy.model_validate(doc)
        except ValidationError as exc:
            issues.extend(model_issues(exc, doc, file, subject=lambda loc, name=name: name))
            continue
        found.policies.append(BudgetPolicy(model, file, doc.line, doc))


def _issue(policy: BudgetPolicy, rule: str, message: str, *loc: Any, level: str = "ERROR") -> Issue:
    return Issue(level, rule, message, file=policy.file, line=policy.line_of(*loc), metric=policy.name)


def _stage_issues(policy: BudgetPolicy) -> Iterator[Issue]:
    stages = policy.model.stages
    names: dict[str, int] = {}
    thresholds: dict[float, int] = {}
    base = [i for i, s in enumerate(stages) if s.below is None]
    if not base:
        yield _issue(policy, "stages", "no base stage: give exactly one stage `below: null` (it applies when "
                     "no stage below applies)", "stages")
    for i in base[1:]:
        yield _issue(policy, "stages", f"stages[{i}]: a second base stage (`below: null`); the first is "
                     f"{stages[base[0]].name!r}", "stages", i, "below")
    for i, stage in enumerate(stages):
        if stage.name == INSUFFICIENT_DATA:
            yield _issue(policy, "stages", f"stages[{i}]: the name {INSUFFICIENT_DATA!r} is reserved for SLOs "
                         "without enough events (see `insufficient_data`)", "stages", i, "name")
        if stage.name in names:
            yield _issue(policy, "stages", f"stages[{i}]: duplicate stage name {stage.name!r}", "stages", i, "name")
        names.setdefault(stage.name, i)
        if stage.below is not None:
            if stage.below in thresholds:
                first = stages[thresholds[stage.below]].name
                yield _issue(policy, "stages", f"stages[{i}]: `below: {stage.below:g}` is already the threshold "
                             f"of stage {first!r}", "stages", i, "below")
            thresholds.setdefault(stage.below, i)
    # mildest first: the base stage, then by falling threshold
    blocker: Stage | None = None
    for stage in sorted(stages, key=lambda s: -math.inf if s.below is None else -s.below):
        if stage.block_releases:
            blocker = blocker or stage
        elif blocker is not None and blocker.below != stage.below:
            i = stages.index(stage)
            yield _issue(policy, "stages", f"stages[{i}]: {stage.name!r} allows releases although the milder "
                         f"stage {blocker.name!r} blocks them", "stages", i, level="WARNING")


def _set_issues(found: PolicySet) -> Iterator[Issue]:
    names: dict[str, BudgetPolicy] = {}
    claimed: dict[str, BudgetPolicy] = {}
    for policy in found.policies:
        if policy.name in names:
            yield _issue(policy, "duplicate", f"duplicate policy name {policy.name!r} (first at "
                         f"{names[policy.name].source})", "name")
        names.setdefault(policy.name, policy)
        for i, service in enumerate(policy.model.services):
            if not service.strip():
                yield _issue(policy, "services", f"services[{i}]: empty service name", "services", i)
                continue
            if service in claimed and claimed[service] is not policy:
                yield _issue(policy, "duplicate", f"services[{i}]: {service!r} is already covered by policy "
                             f"{claimed[service].name!r} ({claimed[service].source})", "services", i)
            claimed.setdefault(service, policy)


def check_policies(root: Path) -> PolicyReport:
    """Load the error-budget policies of `policies/*.yaml` (sorted by name); collect every issue; never raises."""
    found, issues = PolicySet(), []
    directory = policies_dir(root)
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []
    for path in paths:
        _load_file(path, root, found, issues)
    for policy in found.policies:
        issues.extend(_stage_issues(policy))
    issues.extend(_set_issues(found))
    return PolicyReport(found, issues)


def load_policies(root: Path) -> PolicySet:
    """The workspace's error-budget policies; raises `ValidationFailed` listing every ERROR."""
    report = check_policies(root)
    if report.errors:
        raise ValidationFailed(report.errors)
    return report.policies
