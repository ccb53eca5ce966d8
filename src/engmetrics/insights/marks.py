"""Marks on anomaly findings: `acknowledged` (seen, handled) or `false_positive` (not an anomaly).

A marked finding stops repeating: later scans leave out the finding itself and any finding of the same
series and method family (`point` or `shift`) whose run overlaps the marked one (`scan.scan`). Each mark is
written to the audit log (action `insights.anomaly.mark`, target the finding id, reason the note); marking
again replaces the mark (and is audited again).

Who sees a stored finding (`visible_findings`, for the API and the page): a request that may read every
dataset the finding's series reads (stored with it at scan time); for an indicator's finding, only while the
indicator is still in the catalog and needs no review-board approval, and for a per-team indicator
(`auth.scope.per_team`) only a principal that sees the finding's group.

>>> from datetime import UTC, datetime
>>> from engmetrics.store import Store
>>> from engmetrics.insights.anomaly import Finding
>>> from engmetrics.insights.scan import save_findings
>>> store = Store.open("duckdb://")
>>> t = datetime(2026, 3, 2, tzinfo=UTC)
>>> [f.detected_at.year for f in save_findings(store, [Finding("f1", "dataset:deployments", "dataset", None,
...     None, ("deployments",), "counts", "up", t, t, t, 12.0, 1.0, 0.0, 5.0, 6.0)])]
[2026]
>>> mark(store, "f1", "false_positive", actor="ann", note="a planned release train").status
'false_positive'
>>> [(f.finding_id, m.status, m.actor) for f, m in stored_findings(store)]
[('f1', 'false_positive', 'ann')]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import ibis

from ..auth.scope import per_team
from ..catalog.loader import Catalog
from ..errors import InputError
from ..governance import audit
from ..governance.board import needs_approval
from .anomaly import Finding, family

if TYPE_CHECKING:
    from ..governance.access import ReadAccess

__all__ = ["STATUSES", "Mark", "mark", "marked_runs", "stored_findings", "visible_findings"]

STATUSES = ("acknowledged", "false_positive")
_FINDING_COLUMNS = ("finding_id", "series", "source", "metric", "group", "datasets", "method", "direction",
                    "start_at", "end_at", "peak_at", "value", "expected", "expected_low", "expected_high", "score",
                    "detected_at")


@dataclass(frozen=True)
class Mark:
    """A row of `_anomaly_marks`."""

    finding_id: str
    status: str
    note: str | None
    actor: str
    marked_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mark(store: Any, finding_id: str, status: str, *, actor: str, note: str | None = None,
         at: datetime | None = None) -> Mark:
    """Mark a stored finding (bad id or status: `InputError`) and audit it."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; expected one of: {', '.join(STATUSES)}")
    found = store.sql.execute("SELECT series, method FROM _anomaly_findings WHERE finding_id = ?",
                              [finding_id]).fetchone()
    if found is None:
        raise InputError(f"no anomaly finding {finding_id!r}; run `engmetrics insights anomalies` to list them")
    note = note.strip() if note and note.strip() else None
    result = Mark(finding_id, status, note, actor, at or datetime.now(UTC))
    store.sql.execute("""
        INSERT INTO _anomaly_marks (finding_id, status, note, actor, marked_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (finding_id) DO UPDATE SET status = excluded.status, note = excluded.note,
            actor = excluded.actor, marked_at = excluded.marked_at""",
                      [finding_id, status, note, actor, result.marked_at])
    audit.append(store, actor, "insights.anomaly.mark", finding_id, reason=note,
                 details={"status": status, "series": found[0], "method": found[1]}, at=result.marked_at)
    return result


def _joined(store: Any) -> ibis.Table:
    findings, marks = store.table("_anomaly_findings"), store.table("_anomaly_marks")
    return findings.left_join(marks, findings.finding_id == marks.finding_id).select(
        *[findings[c] for c in _FINDING_COLUMNS], marks.status, marks.note, marks.actor, marks.marked_at)


def marked_runs(store: Any) -> list[tuple[str, str, str, datetime, datetime]]:
    """(finding_id, series, family, start_at, end_at) of every marked finding."""
    t = _joined(store)
    rows = t.filter(t.status.notnull()).select("finding_id", "series", "method", "start_at", "end_at").execute()
    return [(r.finding_id, r.series, family(r.method), r.start_at.to_pydatetime(), r.end_at.to_pydatetime())
            for r in rows.itertuples()]


def _value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    return v.to_pydatetime() if hasattr(v, "to_pydatetime") else v


def visible_findings(findings: list[Finding], access: ReadAccess, catalog: Catalog) -> tuple[list[Finding], list[str]]:
    """Those of `findings` the request behind `access` may see (module doc), in their order, and the audited
    datasets behind them (sorted): audit them with `access.record_derived` before the answer leaves.

    >>> from datetime import UTC, datetime
    >>> from engmetrics.auth.roles import Principal, Role
    >>> from engmetrics.governance.access import DEFAULT_POLICY, ReadAccess
    >>> t = datetime(2026, 3, 2, tzinfo=UTC)
    >>> cost = Finding("f1", "dataset:cost", "dataset", None, None, ("cost",), "counts", "up", t, t, t, 9.0, 1.0,
    ...                0.0, 5.0, 6.0)
    >>> viewer = ReadAccess(DEFAULT_POLICY, Principal("t", Role.viewer), None, "doctest")
    >>> visible_findings([cost], viewer, Catalog())
    ([], [])
    """
    definitions = {d.id: d.indicator for d in catalog.definitions}
    kept = []
    for f in findings:
        if not all(access.may(d) for d in f.datasets):
            continue
        if f.source == "indicator":
            indicator = definitions.get(f.metric or "")
            if indicator is None or needs_approval(indicator):
                continue
            if f.group is not None and per_team(indicator) and not access.principal.sees_team(f.group):
                continue
        kept.append(f)
    return kept, access.audited_of(d for f in kept for d in f.datasets)


def stored_findings(store: Any, *, metric: str | None = None, since: date | None = None,
                    status: str | None = None, finding_id: str | None = None) -> list[tuple[Finding, Mark | None]]:
    """Stored findings with their marks, newest first: of an indicator id or series name (`metric`), ending
    after the start of `since`, with a mark status (`open` = unmarked), or the one `finding_id`."""
    if status not in (None, "open", *STATUSES):
        raise InputError(f"unknown status {status!r}; expected one of: open, {', '.join(STATUSES)}")
    t = _joined(store)
    if metric:
        t = t.filter((t.metric == metric) | (t.series == metric))
    if finding_id:
        t = t.filter(t.finding_id == finding_id)
    if since:
        t = t.filter(t.end_at > datetime.combine(since, time(), tzinfo=UTC))
    if status == "open":
        t = t.filter(t.status.isnull())
    elif status:
        t = t.filter(t.status == status)
    frame = t.order_by([ibis.desc("start_at"), ibis.desc("score"), "finding_id"]).execute()
    out = []
    for row in frame.astype(object).itertuples(index=False):
        values = {k: _value(v) for k, v in row._asdict().items()}
        values["datasets"] = tuple(values["datasets"]) if values["datasets"] is not None else ()
        finding = Finding(**{k: values[k] for k in _FINDING_COLUMNS})
        mark_ = None if values["status"] is None else Mark(values["finding_id"], values["status"], values["note"],
                                                           values["actor"], values["marked_at"])
        out.append((finding, mark_))
    return out
