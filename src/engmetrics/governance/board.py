"""The review board: indicators that can touch careers compute only with an approval in force.

`policies/review_board.yaml` names the board, its members and a quorum (a quorum equal to the number of
members loads with a WARNING: a member's own proposal can then never reach it). An indicator needs approval
when its `affects` lists a career decision, its audience is `individual`, or it groups by, or filters on (any op
but `is_null` / `not_null`), a person column.
Decisions (`_board_decisions`, each also in the audit log) are tied to the *approval version*
(`approval_version`: the definition without `status`, `review_by` and `tags`, so activating an approved
indicator, moving its review date or retagging it keeps the approval; any change of meaning lapses it):
anyone may `propose` the current version (not while pending or approved, and not when fewer members other
than the proposer are left than the quorum); a member other than the proposer may `approve`, any member
`reject`, once per round, with a rationale. States: `not_required`, `not_proposed`, `pending`, `approved`
(distinct approving current members >= quorum, no reject by a current member since the proposal),
`rejected`, `lapsed` (an older version was approved, the current one not yet proposed). Votes of people no
longer on the board do not count either way.

A decision row counts only when the audit log holds its entry (same action, metric, actor, time, version and
rationale): a row inserted into `_board_decisions` by hand is ignored. This raises the bar, it does not seal
the record: the chain has no secret, so `audit verify --expect-head` against a head kept elsewhere is what
shows a rewritten log. `at` (as-of evaluation) counts only decisions made at or before it.

>>> from engmetrics.store import Store
>>> from engmetrics.catalog.model import Indicator
>>> store = Store.open("duckdb://")
>>> board = ReviewBoard(name="People metrics board", members=["ana", "ben", "cy"], quorum=2)
>>> ind = Indicator.model_validate({"id": "reviews_given", "name": "Reviews given", "kind": "leading",
...     "unit": "n", "direction": "higher_is_better", "cadence": "weekly", "audience": "individual",
...     "calculation": {"dataset": "reviews", "measure": {"type": "count"}}, "status": "proposed"})
>>> needs_approval(ind), approval_status(store, board, ind).state
(True, 'not_proposed')
>>> _ = propose(store, board, ind, "dee"), approve(store, board, ind, "ana", "weekly, groups of 5")
>>> _ = approve(store, board, ind, "ben", "reviewed the assessment")
>>> approval_status(store, board, ind).state
'approved'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ..errors import InputError, Issue, ValidationFailed
from ..timeutil import as_utc
from ..validation import model_issues
from ..yamlio import load_all, locate
from . import audit

if TYPE_CHECKING:
    from ..catalog.loader import Catalog, Definition
    from ..catalog.model import Indicator

__all__ = ["BOARD_FILE", "STATES", "ApprovalStatus", "BoardError", "Decision", "NotABoardMember", "ReviewBoard",
           "approval_detail", "approval_queue", "approval_reasons", "approval_status", "approval_version", "approve",
           "check_review_board", "decisions", "load_review_board", "needs_approval", "propose", "reject"]

BOARD_FILE = "policies/review_board.yaml"
STATES = ("not_required", "not_proposed", "pending", "approved", "rejected", "lapsed")
# Lifecycle and bookkeeping fields: changing them keeps an approval (see `approval_version`).
_NOT_APPROVED = ("status", "review_by", "tags")


class BoardError(InputError):
    """A decision the board's rules refuse (exit 1); the message says why and what to do instead."""


class NotABoardMember(BoardError):
    """The actor is not on the review board, so may not approve or reject."""


class ReviewBoard(BaseModel):
    """`policies/review_board.yaml`: who decides, and how many approvals a proposal needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="what the board is called, e.g. 'People metrics board'")
    members: list[str] = Field(min_length=1, description="the people on the board, as `--as` names them")
    quorum: int = Field(ge=1, description="distinct approving members (not the proposer) a proposal needs")

    @field_validator("members")
    @classmethod
    def _distinct_names(cls, members: list[str]) -> list[str]:
        names = [m.strip() for m in members]
        if "" in names or len(set(names)) != len(names):
            raise ValueError("member names must be distinct and not empty")
        return names

    @field_validator("quorum")
    @classmethod
    def _reachable_quorum(cls, quorum: int, info: ValidationInfo) -> int:
        members = info.data.get("members")
        if members is not None and quorum > len(members):
            raise ValueError(f"quorum {quorum} is more than the {len(members)} members")
        return quorum


def check_review_board(root: Path) -> tuple[ReviewBoard | None, list[Issue]]:
    """The workspace's board (None without the file, or when it is invalid) and its issues (file:line): a
    WARNING when the quorum equals the number of members (no member's own proposal can reach it)."""
    if not (root / BOARD_FILE).exists():
        return None, []
    try:
        docs = load_all(root / BOARD_FILE)
    except InputError as exc:
        return None, [Issue("ERROR", "schema", exc.message, file=BOARD_FILE, line=exc.line)]
    if not docs:  # only comments: the template, not yet filled in
        return None, []
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return None, [Issue("ERROR", "schema", "expected one mapping with name, members and quorum",
                            file=BOARD_FILE, line=getattr(docs[-1], "line", 1))]
    try:
        board = ReviewBoard.model_validate(docs[0])
    except ValidationError as exc:
        return None, model_issues(exc, docs[0], BOARD_FILE)
    if board.quorum < len(board.members):
        return board, []
    return board, [Issue("WARNING", "schema", f"quorum {board.quorum} equals the {len(board.members)} members: the "
                         "proposer's vote never counts, so a proposal by a member can never be approved",
                         file=BOARD_FILE, line=locate(docs[0], ["quorum"]))]


def load_review_board(root: Path) -> ReviewBoard | None:
    """The workspace's board, None when there is no `policies/review_board.yaml`; raises
    `ValidationFailed` when the file is invalid (warnings do not raise)."""
    board, issues = check_review_board(root)
    if any(i.level == "ERROR" for i in issues):
        raise ValidationFailed(issues)
    return board


def approval_reasons(indicator: Indicator) -> list[str]:
    """Why `indicator` needs board approval (empty when it does not): a career decision in `affects`,
    audience `individual`, a group-by on a person column, or a filter (the calculation's or a measure's)
    that selects by a person column's value (any op but `is_null` / `not_null`: that is one person's, or a
    hand-picked few people's, number)."""
    from ..catalog.model import Calculation
    from ..store.datasets import REGISTRY

    reasons = [f"affects {a.replace('_', ' ')}" for a in indicator.affects]
    reasons += ["audience individual"] if indicator.audience == "individual" else []
    calc = indicator.calculation
    if not isinstance(calc, Calculation) or (dataset := REGISTRY.get(calc.dataset)) is None:
        return reasons
    person = set(dataset.person_columns)
    if calc.group_by in person:
        reasons.append(f"grouped by the person column {calc.group_by}")
    m = calc.measure
    parts = [m, getattr(m, "numerator", None), getattr(m, "denominator", None)]
    filters = [*calc.filters, *(f for part in parts for f in getattr(part, "filters", []))]
    picked = [f.column for f in filters if f.column in person and f.op not in ("is_null", "not_null")]
    reasons += [f"filtered on the person column {column}" for column in dict.fromkeys(picked)]
    return reasons


def approval_version(indicator: Indicator) -> str:
    """`sha256:` and 16 hex digits of the canonical definition without `status`, `review_by` and `tags`: what
    the board approves. Activating, re-dating or retagging keeps it; every other change gives a new one."""
    from ..catalog.version import canonical_json

    meaning = {k: v for k, v in json.loads(canonical_json(indicator)).items() if k not in _NOT_APPROVED}
    return "sha256:" + hashlib.sha256(json.dumps(meaning, sort_keys=True, separators=(",", ":")).encode()
                                      ).hexdigest()[:16]


def needs_approval(indicator: Indicator) -> bool:
    """Whether the indicator computes only with a review-board approval in force."""
    return bool(approval_reasons(indicator))


@dataclass(frozen=True)
class Decision:
    """One row of `_board_decisions`; `version` is the approval version."""

    metric: str
    version: str
    action: str  # propose | approve | reject
    actor: str
    rationale: str | None
    decided_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decided_at": self.decided_at.isoformat()}


@dataclass(frozen=True)
class ApprovalStatus:
    """Where an indicator stands with the board. `version` is the current approval version; `approvers` are
    the members approving the current round; `approved_version` the newest version that reached quorum (for
    `lapsed`)."""

    metric: str
    state: str
    version: str
    quorum: int | None
    reasons: list[str] = field(default_factory=list)
    proposed_by: str | None = None
    approvers: list[str] = field(default_factory=list)
    rejected_by: str | None = None
    approved_version: str | None = None
    last_decision: Decision | None = None

    @property
    def in_force(self) -> bool:
        """Whether the indicator may compute: no approval needed, or approved for this version."""
        return self.state in ("not_required", "approved")

    def to_dict(self) -> dict[str, Any]:
        last = self.last_decision.to_dict() if self.last_decision else None
        return {**asdict(self), "approvals": len(self.approvers), "in_force": self.in_force, "last_decision": last}


def decisions(store: Any, metric: str, *, at: datetime | None = None) -> list[Decision]:
    """Every decision about `metric` that has its audit entry, oldest first; with `at`, only those decided at
    or before it (for as-of evaluation). A row without its entry (inserted by hand) is left out. Read through
    Ibis (any engine; a few rows per metric, matched here)."""
    d, a = store.table("_board_decisions"), store.table("_audit")
    rows = d.filter(d.metric == metric).to_pyarrow().to_pylist()
    logged = a.filter((a.target == metric) & a.action.startswith("governance.")).select(
        "seq", "logged_at", "actor", "action", "details").to_pyarrow().to_pylist()
    entries: dict[tuple[Any, ...], int] = {}  # (action, actor, time, version, rationale) -> audit seq
    for e in logged:
        details = json.loads(e["details"] or "{}")
        key = (e["action"].removeprefix("governance."), e["actor"], _utc(e["logged_at"]), details.get("version"),
               details.get("rationale"))
        entries.setdefault(key, e["seq"])
    found: list[tuple[datetime, int, Decision]] = []
    for r in rows:
        decision = Decision(r["metric"], r["version"], r["action"], r["actor"], r["rationale"], _utc(r["decided_at"]))
        seq = entries.get((decision.action, decision.actor, decision.decided_at, decision.version, decision.rationale))
        if seq is not None and (at is None or decision.decided_at <= as_utc(at)):
            found.append((decision.decided_at, seq, decision))
    return [decision for _, _, decision in sorted(found, key=lambda f: f[:2])]


def _utc(value: datetime | str) -> datetime:
    """A stored instant in UTC (engines that hand instants over as text too)."""
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _last_round(history: list[Decision], version: str) -> list[Decision]:
    """The decisions about `version` from its newest proposal on (empty when never proposed)."""
    mine = [d for d in history if d.version == version]
    starts = [i for i, d in enumerate(mine) if d.action == "propose"]
    return mine[starts[-1]:] if starts else []


def _round_state(decided: list[Decision], board: ReviewBoard | None) -> tuple[str, list[str], str | None]:
    """(state, approving members, rejecting member) of one round; only current members' votes count."""
    members = set(board.members) if board else set()
    rejected = next((d.actor for d in decided if d.action == "reject" and d.actor in members), None)
    approvers = list(dict.fromkeys(d.actor for d in decided
                                   if d.action == "approve" and d.actor != decided[0].actor and d.actor in members))
    if rejected is not None:
        return "rejected", approvers, rejected
    return ("approved" if board and len(approvers) >= board.quorum else "pending"), approvers, None


def _status(history: list[Decision], board: ReviewBoard | None, indicator: Indicator) -> ApprovalStatus:
    version, reasons = approval_version(indicator), approval_reasons(indicator)
    quorum, last = (board.quorum if board else None), (history[-1] if history else None)
    if not reasons:
        return ApprovalStatus(indicator.id, "not_required", version, quorum, last_decision=last)
    approved = [v for v in dict.fromkeys(d.version for d in history)
                if _round_state(_last_round(history, v), board)[0] == "approved"]
    approved_version = approved[-1] if approved else None
    current = _last_round(history, version)
    if not current:
        return ApprovalStatus(indicator.id, "lapsed" if approved else "not_proposed", version, quorum, reasons,
                              approved_version=approved_version, last_decision=last)
    state, approvers, rejected_by = _round_state(current, board)
    return ApprovalStatus(indicator.id, state, version, quorum, reasons, current[0].actor, approvers, rejected_by,
                          approved_version, last)


def approval_status(store: Any, board: ReviewBoard | None, indicator: Indicator, *,
                    at: datetime | None = None) -> ApprovalStatus:
    """The indicator's state with the board for its current definition version; with `at`, as it stood then
    (only decisions decided at or before `at` count)."""
    return _status(decisions(store, indicator.id, at=at), board, indicator)


def approval_queue(store: Any, board: ReviewBoard | None, catalog: Catalog) -> list[ApprovalStatus]:
    """The status of every indicator that needs approval, in catalog order."""
    return [approval_status(store, board, d.indicator) for d in catalog.definitions if needs_approval(d.indicator)]


def approval_detail(store: Any, board: ReviewBoard | None, indicator: Indicator) -> dict[str, Any]:
    """`approval_status(...).to_dict()` with every counted decision about the indicator (oldest first)."""
    history = decisions(store, indicator.id)
    return {**_status(history, board, indicator).to_dict(), "decisions": [d.to_dict() for d in history]}


def _decide(store: Any, board: ReviewBoard | None, definition: Indicator | Definition, actor: str, action: str,
            rationale: str | None, at: datetime | None) -> Decision:
    """Check the rules, then write the decision and its audit entry in one transaction."""
    ind: Indicator = getattr(definition, "indicator", definition)
    if board is None:
        raise BoardError(f"there is no review board: create {BOARD_FILE} with name, members and quorum")
    if not needs_approval(ind):
        raise BoardError(f"{ind.id} does not need review-board approval (it affects no career decision, is not "
                         "individual and does not group by a person)")
    actor, rationale = actor.strip(), (rationale.strip() if rationale else None)
    others = [m for m in board.members if m != actor]
    if action == "propose" and len(others) < board.quorum:
        raise BoardError(f"{actor} cannot approve their own proposal, and the {len(others)} other member(s) of the "
                         f"{board.name} cannot reach its quorum of {board.quorum}: ask someone else to propose "
                         f"it, or change the members or quorum in {BOARD_FILE}")
    if action != "propose":
        if actor not in board.members:
            raise NotABoardMember(f"{actor} is not a member of the {board.name}; members: "
                                  f"{', '.join(board.members)}")
        if not rationale:
            raise BoardError(f"a rationale is required to {action} (say why, for the record)")
    con = store.sql
    con.execute("BEGIN TRANSACTION")
    try:
        status = approval_status(store, board, ind)
        _check(status, action, actor, decisions(store, ind.id))
        stamp = at or datetime.now(UTC)
        con.execute("INSERT INTO _board_decisions (metric, version, action, actor, rationale, decided_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", [ind.id, status.version, action, actor, rationale, stamp])
        details = {"version": status.version, **({"rationale": rationale} if rationale else {})}
        audit.append(store, actor, f"governance.{action}", ind.id, details=details, at=stamp)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return Decision(ind.id, status.version, action, actor, rationale, stamp)


def _check(status: ApprovalStatus, action: str, actor: str, history: list[Decision]) -> None:
    what = f"{status.metric} ({status.version})"
    if action == "propose":
        if status.state in ("pending", "approved"):
            raise BoardError(f"{what} is already {status.state}; a changed definition can be proposed again")
        return
    if status.state in ("not_proposed", "lapsed"):
        raise BoardError(f"{what} has not been proposed: run `engmetrics governance propose {status.metric}` first")
    if status.state == "rejected":
        raise BoardError(f"{what} was rejected by {status.rejected_by}; propose it again to start a new round")
    if actor == status.proposed_by and action == "approve":
        raise BoardError(f"{actor} proposed {what} and cannot also approve it")
    if any(d.actor == actor and d.action != "propose" for d in _last_round(history, status.version)):
        raise BoardError(f"{actor} has already voted on {what}")


def propose(store: Any, board: ReviewBoard | None, definition: Indicator | Definition, actor: str, *,
            at: datetime | None = None) -> Decision:
    """Ask the board to approve the current definition version."""
    return _decide(store, board, definition, actor, "propose", None, at)


def approve(store: Any, board: ReviewBoard | None, definition: Indicator | Definition, actor: str, rationale: str,
            *, at: datetime | None = None) -> Decision:
    """A board member (not the proposer) approves the proposed current version, saying why."""
    return _decide(store, board, definition, actor, "approve", rationale, at)


def reject(store: Any, board: ReviewBoard | None, definition: Indicator | Definition, actor: str, rationale: str,
           *, at: datetime | None = None) -> Decision:
    """A board member rejects the proposed current version, saying why."""
    return _decide(store, board, definition, actor, "reject", rationale, at)

