"""Who may read which dataset (`policies/access.yaml`), and the audit entry every restricted read leaves.

```yaml
datasets:            # dataset -> roles that may read its raw rows and anything derived from them
  cost: [manager, auditor, metrics-admin]
  people: [auditor, metrics-admin]
reason_required: [people, feedback]   # reads must say why
```

- **Readers.** A dataset the file names is readable by exactly the roles listed (an empty list: nobody
  through the API). A dataset it does not name, and every dataset when the file is absent, gets the default:
  datasets marked restricted in the registry (`cost`, `feedback`, `request_events`, `telemetry_samples`) are
  readable by manager, auditor and metrics-admin; every other dataset by every role. Unknown datasets or roles are
  errors naming file and line.
- **Reasons.** Reading a dataset of `reason_required` needs a reason: the API's `X-Engmetrics-Reason` header
  or `reason` query parameter (a missing or blank one is answered 428). A reason longer than 500 characters
  (`MAX_REASON`, blanks at either end not counted), in the header or the query, is answered 400 on every
  route that takes one, whatever it reads (`check_reason`).
- **Indicator values.** An indicator's values are derived from the datasets its calculation reads
  (`indicator_datasets`): a declarative calculation's dataset, plus `people` for an individual-level one over
  a person column (its cells are per team through `people` memberships and aliases); a built-in calculator's
  as `CALCULATOR_DATASETS` says (the one registered, `delivery.deployments_per_day`, reads `deployments`; a
  calculator not listed there is taken to read nothing restricted). The API's `/api/v1/metrics`,
  `/api/v1/scorecard` and Prometheus `/metrics`, and the overview page, leave out the results of an
  indicator reading a dataset the request may not read (`ReadAccess.may`: a reason-required dataset only with
  a reason); the indicator page is a 403. The values served are audited once per request and audited dataset
  (`ReadAccess.record_derived`, action `read.dataset`), not once per result.
- **Audit.** Every read of an *audited* dataset (restricted in the registry, limited to fewer than every role
  by the file, or needing a reason) is written to the audit log before the answer leaves: action
  `read.dataset` (or `read.individual` for raw rows about people), target the dataset, the principal's actor,
  the reason, and `details` {what, role, teams}. When the entry cannot be written the read fails: an
  unaudited read of restricted data is not allowed.
- **Faces.** The API and the web pages apply this (`engmetrics.api.deps.AccessDep`, `reads(dataset)`). The
  CLI on a local store acts as the workspace owner: it reads everything, unchecked and unaudited (whoever can
  open the store file can read it anyway).

>>> from engmetrics.auth.roles import Principal, Role
>>> DEFAULT_POLICY.may_read(Role.viewer, "cost"), DEFAULT_POLICY.may_read(Role.manager, "cost")
(False, True)
>>> DEFAULT_POLICY.audited("cost"), DEFAULT_POLICY.audited("deployments")
(True, False)
>>> try:
...     check_read(DEFAULT_POLICY, Principal("t1", Role.viewer), "cost", None)
... except Exception as refused:
...     print(refused.status, refused.detail.split(";")[0])
403 the role viewer may not read the dataset cost
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..auth.roles import Principal, Role
from ..catalog.model import CalculatorCall, Indicator
from ..errors import InputError, Issue, ValidationFailed
from ..store import REGISTRY
from ..validation import IssueReport, display_path, model_issues
from ..yamlio import load_all, locate
from . import audit
from .board import needs_approval
from .privacy import person_column

__all__ = ["ACCESS_FILE", "CALCULATOR_DATASETS", "DEFAULT_POLICY", "MAX_REASON", "PRIVILEGED", "REASON_HEADER",
           "AccessDocument", "AccessPolicy", "AccessReport", "ReadAccess", "check_access", "check_read",
           "check_reason", "default_policy", "indicator_datasets", "load_access_policy", "quarantine_for",
           "record_read"]

ACCESS_FILE = Path("policies") / "access.yaml"
REASON_HEADER = "X-Engmetrics-Reason"
MAX_REASON = 500
#: Who reads a registry-restricted dataset when the policy does not name it.
PRIVILEGED = frozenset({Role.manager, Role.auditor, Role.metrics_admin})
_EVERY_ROLE = frozenset(Role)
#: The datasets each built-in calculator reads, as its module documents (`engmetrics.catalog.calculators`).
CALCULATOR_DATASETS: dict[str, frozenset[str]] = {"delivery.deployments_per_day": frozenset({"deployments"})}


class AccessDocument(BaseModel):
    """The file as written: dataset -> roles, and the datasets whose reads need a reason."""

    model_config = ConfigDict(extra="forbid")
    datasets: dict[str, list[Role]] = Field(default_factory=dict)
    reason_required: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class AccessPolicy:
    """Readers of every dataset, the datasets needing a reason, and where the policy came from."""

    readers: dict[str, frozenset[Role]]
    reason_required: frozenset[str] = frozenset()
    source: str = "built-in"

    def roles_for(self, dataset: str) -> frozenset[Role]:
        """The roles that may read `dataset` (an unregistered name: every role)."""
        return self.readers.get(dataset, _EVERY_ROLE)

    def may_read(self, who: Principal | Role, dataset: str) -> bool:
        role = who.role if isinstance(who, Principal) else who
        return role in self.roles_for(dataset)

    def readable(self, who: Principal | Role) -> list[str]:
        """The datasets `who` may read, in registry order."""
        return [d for d in self.readers if self.may_read(who, d)]

    def audited(self, dataset: str) -> bool:
        """Whether reads of `dataset` are written to the audit log."""
        restricted = dataset in REGISTRY and REGISTRY.get_dataset(dataset).restricted
        return restricted or self.roles_for(dataset) != _EVERY_ROLE or dataset in self.reason_required

    def needs_reason(self, dataset: str) -> bool:
        return dataset in self.reason_required


def default_policy(named: dict[str, frozenset[Role]] | None = None, reason_required: frozenset[str] = frozenset(),
                   source: str = "built-in") -> AccessPolicy:
    """Every registered dataset's readers: those `named`, else the default (see the module docstring)."""
    named = named or {}
    readers = {d.name: named.get(d.name, PRIVILEGED if d.restricted else _EVERY_ROLE) for d in REGISTRY.values()}
    return AccessPolicy(readers, reason_required, source)


DEFAULT_POLICY = default_policy()


@dataclass
class AccessReport(IssueReport):
    """The policy (the default when the file is absent or has errors) and the issues found."""

    policy: AccessPolicy = DEFAULT_POLICY
    issues: list[Issue] = field(default_factory=list)


def _unknown(names: list[tuple[Any, str]], doc: Any, loc: tuple[Any, ...], file: str) -> list[Issue]:
    """An issue per (key in the YAML, dataset name) that is not a registered dataset."""
    known = ", ".join(REGISTRY)
    return [Issue("ERROR", "access", f"unknown dataset {name!r}; known: {known}", file=file,
                  line=locate(doc, (*loc, key))) for key, name in names]


def check_access(root: Path) -> AccessReport:
    """Read `policies/access.yaml` under `root`; every problem is an issue with file and line.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "policies").mkdir()
    >>> _ = (root / ACCESS_FILE).write_text("datasets:\\n  cost: [manager]\\n  bills: [boss]\\n")
    >>> [str(i) for i in check_access(root).issues]
    ["policies/access.yaml:3: ERROR [model] datasets.bills.0: Input should be 'viewer', 'team-member', \
'manager', 'metrics-admin', 'auditor' or 'telemetry-pusher'", "policies/access.yaml:3: ERROR [access] unknown \
dataset 'bills'; known: ...]
    """
    path = root / ACCESS_FILE
    if not path.is_file():
        return AccessReport()
    file = display_path(path, root)
    try:
        docs = load_all(path)
    except InputError as exc:
        return AccessReport(issues=[Issue("ERROR", "yaml", exc.message, file=file, line=exc.line)])
    if len(docs) > 1:
        return AccessReport(issues=[Issue("ERROR", "access", "expected one YAML document", file=file, line=1)])
    doc = docs[0] if docs else {}
    try:
        model = AccessDocument.model_validate(doc)
        issues: list[Issue] = []
    except ValidationError as exc:
        model, issues = None, model_issues(exc, doc, file)
    raw = doc if isinstance(doc, dict) else {}
    datasets = raw.get("datasets") if isinstance(raw.get("datasets"), dict) else {}
    issues += _unknown([(k, k) for k in datasets if k not in REGISTRY], doc, ("datasets",), file)
    required = raw.get("reason_required") if isinstance(raw.get("reason_required"), list) else []
    issues += _unknown([(i, n) for i, n in enumerate(required) if isinstance(n, str) and n not in REGISTRY],
                       doc, ("reason_required",), file)
    if model is None or issues:
        return AccessReport(issues=issues)
    named = {name: frozenset(roles) for name, roles in model.datasets.items()}
    return AccessReport(default_policy(named, frozenset(model.reason_required), file))


def load_access_policy(root: Path) -> AccessPolicy:
    """The workspace's access policy; raises `ValidationFailed` when the file has errors."""
    report = check_access(root)
    if report.errors:
        raise ValidationFailed(report.errors)
    return report.policy


def indicator_datasets(indicator: Indicator) -> frozenset[str]:
    """The datasets `indicator`'s values are derived from (module doc, "Indicator values").

    >>> from engmetrics.catalog.model import Indicator
    >>> per_author = Indicator.model_validate({"id": "changes", "name": "Changes", "kind": "lagging", "unit": "n",
    ...     "direction": "higher_is_better", "cadence": "weekly", "status": "proposed",
    ...     "calculation": {"dataset": "changes", "group_by": "author", "measure": {"type": "count"}}})
    >>> sorted(indicator_datasets(per_author))
    ['changes', 'people']
    """
    calc = indicator.calculation
    if isinstance(calc, CalculatorCall):
        return CALCULATOR_DATASETS.get(calc.calculator, frozenset())
    if needs_approval(indicator) and person_column(calc) is not None:
        return frozenset({calc.dataset, "people"})
    return frozenset({calc.dataset})


def _clean_reason(reason: str | None) -> str | None:
    return reason.strip() if reason and reason.strip() else None


def check_reason(reason: str | None) -> None:
    """Nothing when `reason` is absent or at most `MAX_REASON` characters long (blanks at either end not
    counted); else the API's problem 400."""
    from ..api.problems import Problem  # here: importing the api package builds the app, which imports this

    text = _clean_reason(reason)
    if text is not None and len(text) > MAX_REASON:
        raise Problem(400, f"the reason is {len(text)} characters long; at most {MAX_REASON}")


def check_read(policy: AccessPolicy, principal: Principal, dataset: str, reason: str | None) -> None:
    """Nothing when `principal` may read `dataset` now; else the API's problem: 403 for a role the policy
    does not list, 428 when a reason is required and missing, 400 when the reason is too long."""
    from ..api.problems import Problem  # here: importing the api package builds the app, which imports this

    if not policy.may_read(principal, dataset):
        allowed = ", ".join(sorted(r.value for r in policy.roles_for(dataset))) or "none (nobody through the API)"
        raise Problem(403, f"the role {principal.role.value} may not read the dataset {dataset}; it needs one of: "
                           f"{allowed} ({ACCESS_FILE.as_posix()})")
    if policy.needs_reason(dataset) and _clean_reason(reason) is None:
        raise Problem(428, f"reading the dataset {dataset} needs a reason: send the {REASON_HEADER} header or a "
                           "`reason` query parameter (it is written to the audit log)")
    check_reason(reason)


def record_read(stores: Any, principal: Principal, dataset: str, what: str, reason: str | None, *,
                individual: bool = False) -> int:
    """Append the `read.dataset` (`read.individual`) entry of one read; returns its seq. `stores` is a store,
    or the API's `StoreProvider` (the entry is written under its write lock). Raises when it cannot write.

    >>> from engmetrics.store import Store
    >>> store = Store.open("duckdb://")
    >>> record_read(store, Principal("t1", Role.manager, user="ann"), "cost", "GET /api/v1/cost/idle", None)
    1
    >>> e = audit.entries(store)[0]
    >>> e.actor, e.action, e.target, e.details
    ('ann', 'read.dataset', 'cost', {'role': 'manager', 'teams': [], 'what': 'GET /api/v1/cost/idle'})
    """
    details = {"what": what, "role": principal.role.value, "teams": list(principal.teams)}
    action = "read.individual" if individual else "read.dataset"
    appender = getattr(stores, "appender", None)
    if appender is None:
        return audit.append(stores, principal.actor, action, dataset, reason=_clean_reason(reason), details=details)
    with appender() as store:
        return audit.append(store, principal.actor, action, dataset, reason=_clean_reason(reason), details=details)


@dataclass(frozen=True)
class ReadAccess:
    """One request's reads: its principal, the policy, its reason and what it asked for (`GET /path?query`),
    with the store provider the audit entries go to."""

    policy: AccessPolicy
    principal: Principal
    stores: Any
    what: str
    reason: str | None = None

    def allow(self, dataset: str, *, individual: bool = False) -> None:
        """Check the read of `dataset` (raising the API's problem) and audit it when the policy says so."""
        check_read(self.policy, self.principal, dataset, self.reason)
        if self.policy.audited(dataset) or individual:
            record_read(self.stores, self.principal, dataset, self.what, self.reason, individual=individual)

    def may(self, dataset: str) -> bool:
        """Whether this request may read `dataset` without being refused (a reason-required one only with a
        reason); raises nothing."""
        return self.policy.may_read(self.principal, dataset) and (
            not self.policy.needs_reason(dataset) or _clean_reason(self.reason) is not None)

    def visible(self) -> list[str]:
        """The datasets this request may read without being refused, in registry order."""
        return [d for d in self.policy.readable(self.principal) if self.may(d)]

    def audited_of(self, datasets: Iterable[str]) -> list[str]:
        """Those of `datasets` whose reads are audited, distinct and sorted."""
        return sorted(d for d in set(datasets) if self.policy.audited(d))

    def record_derived(self, datasets: Iterable[str]) -> None:
        """Audit values derived from `datasets` (already checked with `may`): one `read.dataset` entry per
        audited dataset, nothing for the rest. Raises when an entry cannot be written."""
        for name in self.audited_of(datasets):
            record_read(self.stores, self.principal, name, self.what, self.reason)

    def record(self, datasets: list[str]) -> None:
        """Audit reads of raw rows of `datasets` (already checked): `read.individual` for a dataset with
        person columns, `read.dataset` for another audited one, nothing for the rest."""
        for name in sorted(set(datasets)):
            individual = name in REGISTRY and bool(REGISTRY.get_dataset(name).person_columns)
            if individual or self.policy.audited(name):
                record_read(self.stores, self.principal, name, self.what, self.reason, individual=individual)



_QUARANTINE_COLUMNS = ["dataset", "source_file", "line", "column", "reason", "record", "quarantined_at", "batch_id"]


def quarantine_for(store: Any, access: ReadAccess, dataset: str | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
    """Rows refused at ingest that `access` may see, newest batch first, then by file and line (as
    `engmetrics.store.inventory.quarantine_rows`): of `dataset` (checked first: 403, 428), or of every dataset
    the role may read (those needing a reason only when one is given). Quarantined records are raw rows, so
    the datasets shown are audited (`ReadAccess.record`) before the rows are returned."""
    if dataset:
        REGISTRY.get_dataset(dataset)
        check_read(access.policy, access.principal, dataset, access.reason)
        names = [dataset]
    else:
        names = access.visible()
    table = store.table("_quarantine")
    ordered = table.filter(table.dataset.isin(names)).order_by([ibis.desc("quarantined_at"), "source_file", "line"])
    if limit:
        ordered = ordered.limit(limit)
    rows = ordered.select(_QUARANTINE_COLUMNS).to_pyarrow().to_pylist()
    access.record([r["dataset"] for r in rows])
    return rows
