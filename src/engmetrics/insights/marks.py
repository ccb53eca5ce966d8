"""Marks on anomaly findings: `acknowledged` (seen, handled) or `false_positive` (not an anomaly).

A marked finding stops repeating: later scans leave out the finding itself and any finding of the same
series and method family (`point` or `shift`) whose run overlaps the marked one (`scan.scan`). Each mark is
written to the audit log (action `insights.anomaly.mark`, target the finding id, reason the note); marking
again replaces the mark (and is audited again).

>>> from datetime import UTC, datetime
>>> from engmetrics.store import Store
>>> from engmetrics.insights.anomaly import Finding
>>> from engmetrics.insights.scan import save_findings
>>> store = Store.open("duckdb://")
>>> t = datetime(2026, 3, 2, tzinfo=UTC)
>>> save_findings(store, [Finding("f1", "dataset:deployments", "dataset", None, "counts", "up", t, t, t,
...                               12.0, 1.0, 0.0, 5.0, 6.0)])
1
>>> mark(store, "f1", "false_positive", actor="ann", note="a planned release train").status
'false_positive'
>>> [(f.finding_id, m.status, m.actor) for f, m in stored_findings(store)]
[('f1', 'false_positive', 'ann')]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import ibis

from ..catalog.loader import Catalog
from ..errors import InputError
from ..governance import audit
from ..governance.access import indicator_datasets
from .anomaly import Finding, family

__all__ = ["STATUSES", "Mark", "finding_datasets", "mark", "marked_runs", "stored_findings"]

STATUSES = ("acknowledged", "false_positive")
_FINDING_COLUMNS = ("finding_id", "series", "source", "metric", "method", "direction", "start_at", "end_at", "peak_at",
                    "value", "expected", "expected_low", "expected_high", "score", "detected_at")


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


def finding_datasets(finding: Finding, catalog: Catalog) -> frozenset[str]:
    """The datasets a finding derives from, for access checks: its dataset, `sli_events`, or what the
    indicator reads (`governance.access.indicator_datasets`; none known for an indicator no longer in the
    catalog).

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 3, 2, tzinfo=UTC)
    >>> f = Finding("f1", "dataset:cost", "dataset", None, "counts", "up", t, t, t, 1.0, 0.0, 0.0, 1.0, 5.0)
    >>> sorted(finding_datasets(f, Catalog()))
    ['cost']
    """
    if finding.source == "dataset":
        return frozenset({finding.series.removeprefix("dataset:")})
    if finding.source == "sli":
        return frozenset({"sli_events"})
    known = {d.id: d for d in catalog.definitions}
    definition = known.get(finding.metric or "")
    return indicator_datasets(definition.indicator) if definition else frozenset()


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
        finding = Finding(**{k: values[k] for k in _FINDING_COLUMNS})
        mark_ = None if values["status"] is None else Mark(values["finding_id"], values["status"], values["note"],
                                                           values["actor"], values["marked_at"])
        out.append((finding, mark_))
    return out
