"""Load SLO specs from `slos/*.yaml` in three stages, every problem an `Issue` with file and line.

1. **schema**: each YAML document is a mapping recognised by its `apiVersion` and `kind` (OpenSLO
   `openslo/v1`, an `openslo/v1alpha` SLO, Sloth `sloth.slok.dev/v1` AlertWindows) or by `version:
   prometheus/v1` (a Sloth service spec); a file may hold several documents (`---`);
2. **model**: each document validates against the pydantic models of `openslo` and `sloth`;
3. **rules**: what needs several fields or documents: budgeting method versus objective fields
   (Timeslices needs `timeSliceTarget` and `timeSliceWindow`), one indicator per SLO, `indicatorRef`
   and other references resolved, names unique per kind.

`Issue.metric` carries the name of the SLO (or other document) an issue is about.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "slos").mkdir()
>>> _ = (root / "slos" / "a.yaml").write_text("apiVersion: openslo/v1\\nkind: Slo\\nmetadata: {name: a}\\n")
>>> [str(i) for i in check_slos(root).issues]
["slos/a.yaml:2: ERROR [schema] unknown kind 'Slo' (expected one of AlertCondition, AlertNotificationTarget, \
AlertPolicy, DataSource, SLI, SLO, Service)"]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import InputError, Issue, ValidationFailed
from ..validation import IssueReport, display_path, model_issues
from ..yamlio import load_all, locate
from . import openslo, sloth
from .versions import EFFECTIVE_FROM, effective_from

__all__ = ["SloReport", "SloSet", "SpecDocument", "check_files", "check_slos", "load_slos", "slos_dir",
           "spec_paths"]

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class SpecDocument:
    """One validated document with where it was defined (`node` keeps the YAML line of every field)."""

    model: Any
    file: str
    line: int | None
    node: Any = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        if isinstance(self.model, sloth.SlothSpec):
            return "SlothSpec"
        return self.model.kind

    @property
    def name(self) -> str:
        return self.model.name

    def line_of(self, *loc: Any) -> int | None:
        """Line of the field at `loc` (e.g. `line_of("spec", "objectives", 0)`), else of the document."""
        return locate(self.node, loc) if self.node is not None else self.line


@dataclass
class SloSet:
    """Every loaded spec document of a workspace, in file order."""

    documents: list[SpecDocument] = field(default_factory=list)
    invalid: set[tuple[str, str]] = field(default_factory=set)  # (kind, name) of documents that failed

    def of(self, model: type[BaseModel]) -> list[SpecDocument]:
        return [d for d in self.documents if isinstance(d.model, model)]

    @property
    def slos(self) -> list[SpecDocument]:
        """OpenSLO v1 SLOs (see `sloth_specs` and `of(openslo.V1AlphaSLO)` for the other forms)."""
        return self.of(openslo.SLO)

    @property
    def sloth_specs(self) -> list[SpecDocument]:
        return self.of(sloth.SlothSpec)

    def find(self, model: type[BaseModel], name: str) -> SpecDocument | None:
        return next((d for d in self.of(model) if d.name == name), None)

    def known(self, model: type[BaseModel], name: str) -> bool:
        """A document of that kind and name exists (loaded, or failed with issues of its own)."""
        return self.find(model, name) is not None or (model.model_fields['kind'].default, name) in self.invalid

    def indicator(self, slo: openslo.SLO, objective: int | None = None) -> openslo.SLISpec | None:
        """The indicator of an SLO (or of one objective, which may name its own), inline or by reference."""
        holders: list[Any] = [slo.spec]
        if objective is not None:
            holders.insert(0, slo.spec.objectives[objective])
        for holder in holders:
            if holder.indicator is not None:
                return holder.indicator.spec
            if holder.indicatorRef is not None:
                found = self.find(openslo.SLI, holder.indicatorRef)
                return found.model.spec if found else None
        return None


@dataclass
class SloReport(IssueReport):
    """The specs as far as they loaded, and every issue found on the way."""

    specs: SloSet
    issues: list[Issue]


def slos_dir(root: Path) -> Path:
    return root / "slos"


def spec_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories expanded to their `*.yaml` and `*.yml` files, sorted by name."""
    result: list[Path] = []
    for path in paths:
        if path.is_dir():
            result.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            result.append(path)
    return result


# --- stage 1 and 2: one document -----------------------------------------------------------------------

def _subject(doc: Any, loc: list[Any]) -> str | None:
    """The SLO an issue is about: the document's name, or the Sloth SLO at `slos[i]`."""
    if not isinstance(doc, dict):
        return None
    if len(loc) >= 2 and loc[0] == "slos" and isinstance(doc.get("slos"), list):
        item = doc["slos"][loc[1]]
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            return item["name"]
    meta = doc.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("name"), str):
        return meta["name"]
    return doc.get("service") if isinstance(doc.get("service"), str) else None


def _model_for(doc: dict[str, Any], file: str, issues: list[Issue]) -> type[BaseModel] | None:
    """Which model a document is, from `apiVersion`/`kind` or Sloth's `version`; None after an issue."""

    def problem(message: str, key: str) -> None:
        issues.append(Issue("ERROR", "schema", message, file=file, line=locate(doc, [key]),
                            metric=_subject(doc, [])))

    api, kind = doc.get("apiVersion"), doc.get("kind")
    if api is None and "version" in doc:
        if doc["version"] != sloth.VERSION:
            problem(f"unknown Sloth version {doc['version']!r} (expected {sloth.VERSION!r})", "version")
            return None
        return sloth.SlothSpec
    if api is None and "groups" in doc:  # e.g. Sloth's output next to its input: say so, don't fail
        issues.append(Issue("WARNING", "ignored", "a Prometheus rules file, not an SLO spec: ignored",
                            file=file, line=locate(doc, ["groups"])))
        return None
    if api == openslo.API_VERSION:
        if kind not in openslo.KINDS:
            problem(f"unknown kind {kind!r} (expected one of {', '.join(sorted(openslo.KINDS))})",
                    "kind" if "kind" in doc else "apiVersion")
            return None
        return openslo.KINDS[kind]
    if api == "openslo/v1alpha":
        if kind != "SLO":
            problem(f"openslo/v1alpha is read for kind SLO only, not {kind!r}", "kind")
            return None
        return openslo.V1AlphaSLO
    if api == "sloth.slok.dev/v1":
        if kind != "AlertWindows":
            problem(f"unknown Sloth kind {kind!r} (expected 'AlertWindows')", "kind")
            return None
        return sloth.AlertWindows
    problem(f"unknown apiVersion {api!r}: expected openslo/v1 (or openslo/v1alpha), sloth.slok.dev/v1, "
            f"or a Sloth spec with `version: {sloth.VERSION}`", "apiVersion")
    return None


def _load_file(path: Path, root: Path | None, specs: SloSet, issues: list[Issue]) -> None:
    file = display_path(path, root)
    try:
        docs = load_all(path)
    except InputError as exc:
        issues.append(Issue("ERROR", "schema", exc.message, file=file, line=exc.line))
        return
    for doc in docs:
        if not isinstance(doc, dict):
            issues.append(Issue("ERROR", "schema", "expected a mapping: an OpenSLO or Sloth document",
                                file=file, line=getattr(doc, "line", 1)))
            continue
        model = _model_for(doc, file, issues)
        if model is None:
            continue
        try:
            specs.documents.append(SpecDocument(model.model_validate(doc), file, doc.line, doc))
        except ValidationError as exc:
            issues.extend(model_issues(exc, doc, file, subject=partial(_subject, doc)))
            name = _subject(doc, [])
            if isinstance(doc.get("kind"), str) and name is not None:
                specs.invalid.add((doc["kind"], name))


# --- stage 3: rules across fields and documents --------------------------------------------------------

def _issue(doc: SpecDocument, rule: str, message: str, *loc: Any, level: str = "ERROR",
           subject: str | None = None) -> Issue:
    return Issue(level, rule, message, file=doc.file, line=doc.line_of(*loc), metric=subject or doc.name)


def _budgeting_issues(doc: SpecDocument) -> Iterator[Issue]:
    spec: openslo.SLOSpec = doc.model.spec
    method = spec.budgetingMethod
    for i, obj in enumerate(spec.objectives):
        where = ("spec", "objectives", i)
        needed = {"Timeslices": ("timeSliceTarget", "timeSliceWindow"), "RatioTimeslices": ("timeSliceWindow",)}
        for name in needed.get(method, ()):
            if getattr(obj, name) is None:
                yield _issue(doc, "budgeting", f"objectives[{i}]: {method} needs `{name}`", *where)
        unused = {"Occurrences": ("timeSliceTarget", "timeSliceWindow"), "RatioTimeslices": ("timeSliceTarget",)}
        for name in unused.get(method, ()):
            if getattr(obj, name) is not None:
                yield _issue(doc, "budgeting", f"objectives[{i}]: `{name}` is ignored with {method}",
                             *where, name, level="WARNING")


def _indicator_issues(doc: SpecDocument, specs: SloSet) -> Iterator[Issue]:
    spec: openslo.SLOSpec = doc.model.spec
    holders: list[tuple[Loc, Any]] = [(("spec",), spec)]
    holders += [(("spec", "objectives", i), o) for i, o in enumerate(spec.objectives)]
    for loc, holder in holders:
        if holder.indicator is not None and holder.indicatorRef is not None:
            yield _issue(doc, "indicator", "give `indicator` or `indicatorRef`, not both", *loc, "indicatorRef")
        if holder.indicatorRef is not None and not specs.known(openslo.SLI, holder.indicatorRef):
            yield _issue(doc, "dangling-ref", f"indicatorRef {holder.indicatorRef!r}: no SLI of that name",
                         *loc, "indicatorRef")
    slo_level = spec.indicator is not None or spec.indicatorRef is not None
    for i, obj in enumerate(spec.objectives):
        if not slo_level and obj.indicator is None and obj.indicatorRef is None:
            yield _issue(doc, "indicator", f"objectives[{i}]: no indicator (give `indicator` or "
                         "`indicatorRef` on the SLO or on the objective)", "spec", "objectives", i)
            continue
        sli = specs.indicator(doc.model, i)
        if sli is not None and sli.thresholdMetric is not None and (obj.op is None or obj.value is None):
            yield _issue(doc, "indicator", f"objectives[{i}]: a threshold indicator needs `op` and `value`",
                         "spec", "objectives", i)


def _metric_sources(loc: Loc, sli: openslo.SLISpec) -> Iterator[tuple[Loc, Any]]:
    if sli.thresholdMetric is not None:
        yield (*loc, "thresholdMetric", "metricSource"), sli.thresholdMetric.metricSource
    if sli.ratioMetric is not None:
        for part in ("good", "bad", "total", "raw"):
            metric = getattr(sli.ratioMetric, part)
            if metric is not None:
                yield (*loc, "ratioMetric", part, "metricSource"), metric.metricSource


def _inline_slis(doc: SpecDocument) -> Iterator[tuple[Loc, openslo.SLISpec]]:
    model = doc.model
    if isinstance(model, openslo.SLI):
        yield ("spec",), model.spec
    elif isinstance(model, openslo.SLO):
        if model.spec.indicator is not None:
            yield ("spec", "indicator", "spec"), model.spec.indicator.spec
        for i, obj in enumerate(model.spec.objectives):
            if obj.indicator is not None:
                yield ("spec", "objectives", i, "indicator", "spec"), obj.indicator.spec


def _reference_issues(doc: SpecDocument, specs: SloSet) -> Iterator[Issue]:
    def check(ref: str | None, model: type[BaseModel], loc: Loc, key: str) -> Iterator[Issue]:
        if ref is not None and not specs.known(model, ref):
            yield _issue(doc, "dangling-ref", f"{key} {ref!r}: no {model.__name__} of that name", *loc, key)

    for loc, sli in _inline_slis(doc):
        for src_loc, source in _metric_sources(loc, sli):
            yield from check(source.metricSourceRef, openslo.DataSource, src_loc, "metricSourceRef")
    policies: list[tuple[Loc, openslo.AlertPolicySpec]] = []
    if isinstance(doc.model, openslo.SLO):
        for i, ref in enumerate(doc.model.spec.alertPolicies or []):
            if isinstance(ref, openslo.AlertPolicyRef):
                yield from check(ref.alertPolicyRef, openslo.AlertPolicy, ("spec", "alertPolicies", i),
                                 "alertPolicyRef")
            else:
                policies.append((("spec", "alertPolicies", i, "spec"), ref.spec))
    elif isinstance(doc.model, openslo.AlertPolicy):
        policies.append((("spec",), doc.model.spec))
    for loc, policy in policies:
        for i, cond in enumerate(policy.conditions):
            if isinstance(cond, openslo.ConditionRef):
                yield from check(cond.conditionRef, openslo.AlertCondition, (*loc, "conditions", i),
                                 "conditionRef")
        for i, target in enumerate(policy.notificationTargets):
            if isinstance(target, openslo.TargetRef):
                yield from check(target.targetRef, openslo.AlertNotificationTarget,
                                 (*loc, "notificationTargets", i), "targetRef")


def _version_key(doc: SpecDocument) -> str | None:
    """SLO documents of one name are versions when their `effective-from` annotations differ."""
    if not isinstance(doc.model, openslo.SLO):
        return None
    value = doc.model.metadata.annotations.get(EFFECTIVE_FROM)
    return None if value is None else str(value)


def _version_issues(doc: SpecDocument) -> Iterator[Issue]:
    try:
        effective_from(doc.model.metadata.annotations)
    except ValueError as exc:
        yield _issue(doc, "version", str(exc), "metadata", "annotations", EFFECTIVE_FROM)


def _method_issues(specs: SloSet) -> Iterator[Issue]:
    """Versions of one SLO keep its budgeting method: events and slices do not add up across a change."""
    first: dict[str, SpecDocument] = {}
    for doc in specs.slos:
        earlier = first.setdefault(doc.name, doc)
        if doc.model.spec.budgetingMethod != earlier.model.spec.budgetingMethod:
            yield _issue(doc, "version", f"budgetingMethod {doc.model.spec.budgetingMethod} differs from "
                         f"{earlier.model.spec.budgetingMethod} of another version ({earlier.file}:{earlier.line}); "
                         "a new method needs a new SLO name", "spec", "budgetingMethod")


def _duplicate_issues(specs: SloSet) -> Iterator[Issue]:
    first: dict[tuple[str, str], SpecDocument] = {}
    for doc in specs.documents:
        if isinstance(doc.model, sloth.SlothSpec):
            for i, slo in enumerate(doc.model.slos):
                key = ("Sloth SLO", f"{doc.model.service}/{slo.name}")
                if key in first:
                    prev = first[key]
                    yield _issue(doc, "duplicate", f"duplicate Sloth SLO {slo.name!r} of service "
                                 f"{doc.model.service!r} (first in {prev.file})", "slos", i, "name",
                                 subject=slo.name)
                else:
                    first[key] = doc
            continue
        if isinstance(doc.model, sloth.AlertWindows):
            continue
        key = (doc.kind, doc.name, _version_key(doc))
        if key in first:
            prev = first[key]
            yield _issue(doc, "duplicate", f"duplicate {doc.kind} name {doc.name!r} (first at "
                         f"{prev.file}:{prev.line})", "metadata", "name")
        else:
            first[key] = doc


def rule_issues(specs: SloSet) -> list[Issue]:
    """Stage 3 on loaded documents: budgeting, indicators, references, duplicate names."""
    issues: list[Issue] = [*_duplicate_issues(specs), *_method_issues(specs)]
    for doc in specs.documents:
        if isinstance(doc.model, openslo.SLO):
            issues.extend(_version_issues(doc))
            issues.extend(_budgeting_issues(doc))
            issues.extend(_indicator_issues(doc, specs))
        issues.extend(_reference_issues(doc, specs))
    return issues


# --- entry points ---------------------------------------------------------------------------------------

def check_files(paths: Iterable[Path], root: Path | None = None) -> SloReport:
    """Load the given spec files (directories expanded) together; collect every issue; never raises.

    File names are shown relative to `root` when they lie under it.
    """
    specs, issues = SloSet(), []
    for path in spec_paths(paths):
        _load_file(path, root, specs, issues)
    issues.extend(rule_issues(specs))
    return SloReport(specs, issues)


def check_slos(root: Path) -> SloReport:
    """Load the workspace's `slos/*.yaml` (sorted by name) and collect every issue; never raises."""
    directory = slos_dir(root)
    return check_files([directory] if directory.is_dir() else [], root)


def load_slos(root: Path) -> SloSet:
    """The workspace's SLO specs; raises `ValidationFailed` listing every ERROR."""
    report = check_slos(root)
    if report.errors:
        raise ValidationFailed(report.errors)
    return report.specs
