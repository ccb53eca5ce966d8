"""Allocation rules: `kind: AllocationRules` documents in the workspace's `budgets/*.yaml`.

They say who owns each line of the bill (`engmetrics.cost.allocation` applies them):

- `dimensions`: for `team`, `service` and `environment`, the tag keys that name it (aliases, compared without
  regard to case, each optionally carrying one of `key_prefixes`, `user:` by default as in AWS exports) and
  `fallbacks`, tried in order when none of those keys is there: `tag:KEY` (another tag key) or, for `team`
  only, `service` (the owning team in the `services` dataset of the row's service).
- `owners`: explicit rules. Each `match`es rows (see below) and names a `team`, `service` and/or
  `environment`; for each dimension the first rule (in file order, files in name order) that matches a row
  and names that dimension wins.
- `shared`: shared-cost rules. A row matched by one (the first that matches among those that apply in the
  report's view) is shared cost, split among the groups of the report: `even`ly, `proportional`ly to their
  positive direct cost, by `usage` (a `business_volume` metric or `utilization` column) or by `fixed`
  `percentages` (summing to 100). `among` restricts an even, proportional or usage split to named groups;
  `among` and `percentages` name groups of the dimension `to` (default `team`). A rule with `untagged: true`,
  `among` or `percentages` is about its `to` dimension and applies only in that view (`--by` equal to `to`);
  elsewhere it is skipped (`SharedRule.applies_in`). Other rules apply in every view.

Precedence for a row and a dimension: shared rule (that applies) > owner rule > tag > fallback > none
("(untagged)").

A `match` holds conditions that must all hold: FOCUS columns (`ProviderName`, `BillingAccountId`,
`SubAccountId`, `ResourceId`, `ResourceName`, `ResourceType`, `ServiceName`, `ServiceCategory`,
`ChargeCategory`, `RegionId`, ...) each with a glob (`*` any text, `?` one character; compared without
regard to case), `{regex: ...}` (searched, case-insensitive) or a list of them (any); `tags`, a mapping of tag
key to such patterns (`"*"`: the tag is there with any value); and, for shared rules only, `untagged: true`
(no owner for the rule's `to` dimension from rules, tags or fallbacks; tested only in the view of that
dimension). A missing column value never matches.

Several documents are merged: their `owners` and `shared` lists are concatenated in file order; at most one
of them may set `dimensions` or `key_prefixes`. With no document the defaults below apply.

>>> rules = AllocationRules.model_validate({"kind": "AllocationRules", "shared": [
...     {"name": "support", "match": {"ServiceName": "AWS Support*"}, "split": "fixed",
...      "percentages": {"payments": 60, "search": 40}}]})
>>> rules.dimensions.team.keys[:3], rules.shared[0].to
(['team', 'owner-team', 'owner_team'], 'team')
>>> from pydantic import ValidationError
>>> try:
...     AllocationRules.model_validate({"kind": "AllocationRules", "shared": [{"name": "x", "split": "fixed",
...         "match": {"untagged": True}, "percentages": {"a": 60, "b": 30}}]})
... except ValidationError as exc:
...     print(exc.errors()[0]["loc"], exc.errors()[0]["msg"])
('shared', 0, 'percentages') Value error, percentages add up to 90 %, not 100 %
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from ..errors import Issue, ValidationFailed
from ..validation import IssueReport
from .specs import load_kind

__all__ = [
    "DIMENSIONS", "KIND", "MATCH_COLUMNS", "AllocationRules", "AllocationRulesReport", "Dimension",
    "DimensionKeys", "Dimensions", "Match", "OtherDimensionKeys", "OwnerRule", "Pattern", "Regex", "SharedRule",
    "UsageBasis", "allocation_rules_report", "load_allocation_rules",
]

KIND = "AllocationRules"
Dimension = Literal["team", "service", "environment"]
DIMENSIONS: tuple[str, ...] = ("team", "service", "environment")
MATCH_COLUMNS = (
    "ProviderName", "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceName", "ServiceCategory", "ChargeCategory", "ChargeClass",
    "RegionId", "PricingCategory", "CommitmentDiscountId",
)
PERCENT_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Regex(_Strict):
    """`{regex: PATTERN}`: the value contains a match of PATTERN (case-insensitive; RE2 / Java syntax)."""

    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


def _as_list(value: Any) -> Any:
    """A condition as a list of patterns; numbers written without quotes (account ids) as their text."""
    items = value if isinstance(value, list) else [value]
    return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in items]


def _pattern_kind(value: Any) -> str:
    return "regex" if isinstance(value, dict | Regex) else "glob"


Pattern = Annotated[Annotated[str, Tag("glob")] | Annotated[Regex, Tag("regex")], Discriminator(_pattern_kind)]
Condition = Annotated[list[Pattern], BeforeValidator(_as_list), Field(min_length=1)]


class Match(_Strict):
    """Conditions on a bill row; all must hold. Column names are FOCUS's (see MATCH_COLUMNS)."""

    ProviderName: Condition | None = None
    BillingAccountId: Condition | None = None
    BillingAccountName: Condition | None = None
    SubAccountId: Condition | None = None
    SubAccountName: Condition | None = None
    ResourceId: Condition | None = None
    ResourceName: Condition | None = None
    ResourceType: Condition | None = None
    ServiceName: Condition | None = None
    ServiceCategory: Condition | None = None
    ChargeCategory: Condition | None = None
    ChargeClass: Condition | None = None
    RegionId: Condition | None = None
    PricingCategory: Condition | None = None
    CommitmentDiscountId: Condition | None = None
    tags: dict[str, Condition] | None = Field(None, description="tag key (any case) -> pattern")
    untagged: bool | None = Field(None, description="shared rules only: no owner for the rule's `to` dimension")

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        if not self.columns() and not self.tags and not self.untagged:
            raise ValueError("match needs at least one condition")
        return self

    def columns(self) -> dict[str, list[Pattern]]:
        """The column conditions, by column."""
        return {c: v for c in MATCH_COLUMNS if (v := getattr(self, c)) is not None}

    def tag_conditions(self) -> dict[str, list[Pattern]]:
        """The tag conditions, by lower-case key."""
        return {k.lower(): v for k, v in (self.tags or {}).items()}


class OwnerRule(_Strict):
    """Rows that `match` belong to the named team / service / environment."""

    name: str | None = None
    match: Match
    team: str | None = None
    service: str | None = None
    environment: str | None = None

    @model_validator(mode="after")
    def _names_an_owner(self) -> OwnerRule:
        if not any(self.owner(d) for d in DIMENSIONS):
            raise ValueError("an owner rule names at least one of team, service, environment")
        if self.match.untagged:
            raise ValueError("untagged is for shared rules (an owner rule would decide what it tests)")
        return self

    def owner(self, dimension: str) -> str | None:
        return getattr(self, dimension)


class UsageBasis(_Strict):
    """A usage metric to split shared cost by: a `business_volume` metric (per service; a team's usage is its
    services' sum) or a `utilization` column (per resource; a resource counts for the group owning most of its
    direct cost in the period)."""

    dataset: Literal["business_volume", "utilization"]
    metric: str | None = Field(None, description="business_volume: the metric (e.g. transactions)")
    column: Literal["cpu_util", "mem_util"] = "cpu_util"

    @model_validator(mode="after")
    def _metric_for_volume(self) -> UsageBasis:
        if self.dataset == "business_volume" and not self.metric:
            raise ValueError("usage from business_volume needs a metric")
        if self.dataset == "utilization" and self.metric:
            raise ValueError("usage from utilization takes a column (cpu_util or mem_util), not a metric")
        return self


class SharedRule(_Strict):
    """Rows that `match` are shared cost, split among the report's groups by `split`."""

    name: str = Field(min_length=1)
    match: Match
    split: Literal["even", "proportional", "usage", "fixed"]
    to: Dimension = Field("team", description="dimension of the groups named in among / percentages")
    among: list[str] | None = Field(None, min_length=1)
    usage: UsageBasis | None = None
    percentages: dict[str, float] | None = None

    @field_validator("percentages")
    @classmethod
    def _hundred(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("percentages name at least one group")
        if any(v < 0 for v in value.values()):
            raise ValueError("percentages cannot be negative")
        total = sum(value.values())
        if abs(total - 100) > PERCENT_TOLERANCE:
            raise ValueError(f"percentages add up to {total:g} %, not 100 %")
        return value

    @model_validator(mode="after")
    def _fields_fit_split(self) -> SharedRule:
        if (self.split == "fixed") != (self.percentages is not None):
            raise ValueError("split: fixed needs percentages, and percentages need split: fixed")
        if (self.split == "usage") != (self.usage is not None):
            raise ValueError("split: usage needs usage, and usage needs split: usage")
        if self.split == "fixed" and self.among:
            raise ValueError("split: fixed names its groups in percentages, not among")
        return self

    def targets(self) -> list[str] | None:
        """The groups this rule names (in its `to` dimension), or None when it splits among any group."""
        return list(self.percentages) if self.percentages is not None else self.among

    def applies_in(self, view: str) -> bool:
        """Whether the rule takes rows in an allocation by `view` (team, service, environment or tag): a rule
        about its `to` dimension (`untagged: true`, or named groups) only there, any other rule everywhere.

        >>> rule = SharedRule(name="rest", match=Match(untagged=True), split="even")
        >>> rule.applies_in("team"), rule.applies_in("service")
        (True, False)
        """
        return view == self.to or not (self.match.untagged or self.targets() is not None)


def _keys(value: list[str]) -> list[str]:
    """Tag keys in lower case, each once, in their order."""
    keys = [k.strip().lower() for k in value]
    if not all(keys):
        raise ValueError("tag keys cannot be empty")
    return list(dict.fromkeys(keys))


class DimensionKeys(_Strict):
    """The tag keys naming one dimension (aliases, any case) and its fallbacks, tried in order."""

    keys: Annotated[list[str], Field(min_length=1)]
    fallbacks: list[str] = Field(default_factory=list, description="'tag:KEY', or 'service' for team")

    @field_validator("keys")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return _keys(value)

    @field_validator("fallbacks")
    @classmethod
    def _fallback_form(cls, value: list[str]) -> list[str]:
        for item in value:
            if item != "service" and not (item.startswith("tag:") and item[4:].strip()):
                raise ValueError(f"a fallback is 'tag:KEY' or 'service' (got {item!r})")
        return [f"tag:{f[4:].strip().lower()}" if f.startswith("tag:") else f for f in value]


class OtherDimensionKeys(DimensionKeys):
    """Keys of service or environment: the `service` fallback is team's only."""

    @field_validator("fallbacks")
    @classmethod
    def _no_service(cls, value: list[str]) -> list[str]:
        if "service" in value:
            raise ValueError("the 'service' fallback is for team only")
        return value


def _default(keys: list[str], fallbacks: list[str] | None = None, model: type = DimensionKeys) -> Any:
    return Field(default_factory=lambda: model(keys=keys, fallbacks=fallbacks or []))


class Dimensions(_Strict):
    team: DimensionKeys = _default(["team", "owner-team", "owner_team", "team-name", "team_name"], ["service"])
    service: OtherDimensionKeys = _default(["service", "service-name", "service_name", "app", "application"],
                                           model=OtherDimensionKeys)
    environment: OtherDimensionKeys = _default(["environment", "env", "stage"], model=OtherDimensionKeys)

    def of(self, dimension: str) -> DimensionKeys:
        return getattr(self, dimension)


class AllocationRules(_Strict):
    """One `kind: AllocationRules` document, or the merge of a workspace's."""

    kind: Literal["AllocationRules"] = KIND
    name: str | None = None
    description: str | None = None
    key_prefixes: list[str] = Field(default_factory=lambda: ["user:"],
                                    description="prefixes a tag key may carry (AWS: user:Team)")
    dimensions: Dimensions = Field(default_factory=Dimensions)
    owners: list[OwnerRule] = Field(default_factory=list)
    shared: list[SharedRule] = Field(default_factory=list)

    @field_validator("key_prefixes")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [p.lower() for p in value if p]

    @model_validator(mode="after")
    def _unique_shared_names(self) -> AllocationRules:
        names = [r.name for r in self.shared]
        if dups := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"shared rule names must be unique (repeated: {', '.join(dups)})")
        return self


@dataclass
class AllocationRulesReport(IssueReport):
    """The merged rules (defaults when the workspace has none) and every issue found."""

    rules: AllocationRules = field(default_factory=AllocationRules)
    issues: list[Issue] = field(default_factory=list)


def allocation_rules_report(root: Path) -> AllocationRulesReport:
    """Every `kind: AllocationRules` document of `ROOT/budgets/`, merged; never raises."""
    found = load_kind(root, KIND, AllocationRules)
    report = AllocationRulesReport(issues=list(found.issues))
    base: dict[str, Any] = {}
    owners: list[OwnerRule] = []
    shared: list[SharedRule] = []
    first: dict[str, str] = {}
    seen: dict[str, str] = {}
    for doc in found.documents:
        for key in ("dimensions", "key_prefixes", "name", "description"):
            if key not in doc.model.model_fields_set:
                continue
            if key in first and key in ("dimensions", "key_prefixes"):
                report.issues.append(doc.issue("merge", f"{key} is already set at {first[key]}", key))
                continue
            first.setdefault(key, f"{doc.file}:{doc.line}")
            base.setdefault(key, getattr(doc.model, key))
        owners += doc.model.owners
        for i, rule in enumerate(doc.model.shared):
            if rule.name in seen:
                report.issues.append(doc.issue("merge", f"shared rule {rule.name!r} is already defined at "
                                               f"{seen[rule.name]}", "shared", i, "name"))
                continue
            seen[rule.name] = f"{doc.file}:{doc.line_of('shared', i)}"
            shared.append(rule)
    report.rules = AllocationRules.model_validate({**base, "owners": owners, "shared": shared})
    return report


def load_allocation_rules(root: Path | None) -> AllocationRules:
    """The workspace's merged allocation rules (defaults when it has none, or when `root` is None); raises
    ValidationFailed naming file and line of every error."""
    if root is None:
        return AllocationRules()
    report = allocation_rules_report(root)
    if report.errors:
        raise ValidationFailed(report.errors)
    return report.rules
