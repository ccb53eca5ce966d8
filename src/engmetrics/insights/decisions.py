"""The decision log (`decisions` dataset) and its retrospective.

- `add_decision` writes one decision through the normal ingestion (`engmetrics.ingest.ingest_files`, as
  JSON Lines), so the accounting holds: read = inserted + updated + unchanged + quarantined. Re-adding a
  decision id updates it (or leaves it unchanged).
- `list_decisions` reads the log, filtered by date and by an indicator it cites.
- `decision_report` is the retrospective of the decisions dated in a period: the share **backed by data**
  (citing at least one indicator of the catalog), and for each cited indicator how it **moved**: its value
  over the `after_days` days before the decision (`date - after_days .. date - 1`) against the
  `after_days` days from the decision on (`date .. date + after_days - 1`), each computed like any catalog
  period (`engmetrics.catalog.evaluate.period_values`). `change = after - before`. **Noise** is how much
  the indicator moved on its own before the decision: the largest |difference| between consecutive values
  of the `NOISE_WINDOWS` windows of `after_days` days ending the day before it (the before window and the
  three before that; windows without a value are skipped, fewer than three values: no noise, None). The
  verdict is `unchanged` when the change is 0 or no bigger than the noise, else `better` or `worse` by the
  indicator's direction (without a noise figure, by the sign alone); `no_data` when either side has no value,
  `too_early` when the after window ends past the as-of date, `not_comparable` for an indicator grouped by
  a column (no single value) or an individual-level one (published only under the privacy guardrails),
  `not_readable` when the caller may not read its data, and `unknown_indicator` for an id outside the
  catalog.
- `readable_report` is the retrospective a request sees (API and web): only indicators its access allows
  are computed, and the audited datasets behind the values it shows are audited once.

Noise: windows of 7 days with values 3, 6, 2 and then 2 (the before window) moved by 3, 4 and 0: noise 4.
An after value of 6 (change +4) is `unchanged`, one of 7 (+5) `better` for a higher-is-better indicator:

>>> _noise([3.0, 6.0, None, 2.0, 2.0]), _verdict(4.0, 4.0, "higher_is_better"), _verdict(5.0, 4.0, "higher_is_better")
(4.0, 'unchanged', 'better')
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..auth.scope import readable_metrics
from ..catalog.evaluate import period_values
from ..catalog.loader import Catalog
from ..catalog.periods import Period
from ..errors import InputError
from ..governance.board import needs_approval
from ..ingest import IngestResult, ingest_files

if TYPE_CHECKING:
    from ..governance.access import ReadAccess

__all__ = ["DEFAULT_AFTER_DAYS", "NOISE_WINDOWS", "Decision", "DecisionReport", "Move", "add_decision",
           "decision_report", "list_decisions", "move", "readable_report"]

DEFAULT_AFTER_DAYS = 28
NOISE_WINDOWS = 4  # the before window and the three before it


@dataclass(frozen=True)
class Decision:
    """One row of the decision log."""

    decision_id: str
    date: date
    title: str
    owner_team: str | None = None
    metrics: list[str] = field(default_factory=list)
    outcome: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "date": self.date.isoformat(), "title": self.title,
                "owner_team": self.owner_team, "metrics": list(self.metrics), "outcome": self.outcome}


def add_decision(store: Any, catalog: Catalog, decision: Decision, *, allow_unknown: bool = False) -> IngestResult:
    """Write `decision` to the log (module doc). Ids of no catalog indicator are an `InputError` unless
    `allow_unknown`; so is a decision without a title or id."""
    if not decision.decision_id.strip() or not decision.title.strip():
        raise InputError("a decision needs a non-empty id and title")
    unknown = [m for m in decision.metrics if m not in catalog.ids]
    if unknown and not allow_unknown:
        raise InputError(f"no indicator {', '.join(map(repr, unknown))} in the catalog (known: "
                         f"{', '.join(catalog.ids) or 'none'}); pass --allow-unknown to log it anyway")
    with tempfile.TemporaryDirectory(prefix="engmetrics-decision-") as tmp:
        path = Path(tmp) / "decision.jsonl"
        path.write_text(json.dumps(decision.to_dict()) + "\n", encoding="utf-8")
        return ingest_files(store, "decisions", [path], fmt="jsonl", strict=True,
                            names=[f"decision {decision.decision_id} (engmetrics decisions add)"])


def list_decisions(store: Any, *, start: date | None = None, end: date | None = None,
                   metric: str | None = None) -> list[Decision]:
    """Decisions dated `start..end` (inclusive; open where None), citing `metric` when given; by date, id."""
    t = store.table("decisions")
    if start is not None:
        t = t.filter(t.date >= start)
    if end is not None:
        t = t.filter(t.date <= end)
    if metric is not None:
        t = t.filter(t.metrics.contains(metric))
    rows = t.order_by(["date", "decision_id"]).to_pyarrow().to_pylist()
    return [Decision(r["decision_id"], r["date"], r["title"], r["owner_team"], list(r["metrics"] or []),
                     r["outcome"]) for r in rows]


@dataclass(frozen=True)
class Move:
    """How one cited indicator moved around a decision (module doc)."""

    metric: str
    verdict: str
    before: Period | None = None
    after: Period | None = None
    value_before: float | None = None
    value_after: float | None = None
    noise: float | None = None

    @property
    def change(self) -> float | None:
        if self.value_before is None or self.value_after is None:
            return None
        return self.value_after - self.value_before

    def to_dict(self) -> dict[str, Any]:
        def window(p: Period | None) -> dict[str, str] | None:
            return {"start": p.start.isoformat(), "end": p.end.isoformat()} if p else None

        return {"metric": self.metric, "before": window(self.before), "after": window(self.after),
                "value_before": self.value_before, "value_after": self.value_after, "change": self.change,
                "noise": self.noise, "verdict": self.verdict}


def _noise(values: list[float | None]) -> float | None:
    """The largest |difference| between consecutive values (Nones skipped), oldest first; None with fewer
    than three values."""
    seen = np.array([v for v in values if v is not None], dtype=float)
    return float(np.abs(np.diff(seen)).max()) if len(seen) >= 3 else None


def _verdict(change: float, noise: float | None, direction: str) -> str:
    if change == 0 or (noise is not None and abs(change) <= noise):
        return "unchanged"
    return "better" if (change > 0) == (direction == "higher_is_better") else "worse"


def move(store: Any, catalog: Catalog, metric: str, day: date, after_days: int, as_of: date) -> Move:
    """How `metric` moved around a decision dated `day` (module doc)."""
    if metric not in catalog.ids:
        return Move(metric, "unknown_indicator")
    ind = catalog.get(metric).indicator
    before = Period(day - timedelta(days=after_days), day - timedelta(days=1))
    after = Period(day, day + timedelta(days=after_days - 1))
    if needs_approval(ind) or getattr(ind.calculation, "group_by", None):
        return Move(metric, "not_comparable", before, after)
    if after.end > as_of:
        return Move(metric, "too_early", before, after)
    old = period_values(store, ind.calculation, before)[None].value
    new = period_values(store, ind.calculation, after)[None].value
    if old is None or new is None:
        return Move(metric, "no_data", before, after, old, new)
    earlier = [Period(before.start - timedelta(days=k * after_days), before.end - timedelta(days=k * after_days))
               for k in range(NOISE_WINDOWS - 1, 0, -1)]
    noise = _noise([period_values(store, ind.calculation, p)[None].value for p in earlier] + [old])
    return Move(metric, _verdict(new - old, noise, ind.direction), before, after, old, new, noise)


@dataclass(frozen=True)
class DecisionReport:
    """The retrospective of the decisions dated in a period (module doc)."""

    start: date | None
    end: date | None
    after_days: int
    as_of: date
    decisions: list[tuple[Decision, bool, list[Move]]]

    @property
    def backed(self) -> int:
        return sum(1 for _, is_backed, _ in self.decisions if is_backed)

    @property
    def share_backed(self) -> float | None:
        return self.backed / len(self.decisions) if self.decisions else None

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "after_days": self.after_days,
                "as_of": self.as_of.isoformat(), "decisions_total": len(self.decisions), "backed": self.backed,
                "share_backed": self.share_backed,
                "decisions": [{**d.to_dict(), "backed": is_backed, "moves": [m.to_dict() for m in moves]}
                              for d, is_backed, moves in self.decisions]}


def decision_report(store: Any, catalog: Catalog, *, as_of: date, start: date | None = None, end: date | None = None,
                    after_days: int = DEFAULT_AFTER_DAYS, readable: Collection[str] | None = None) -> DecisionReport:
    """The retrospective of decisions dated `start..end` (module doc), with `as_of` the last day with data.
    `readable` (indicator ids; None: all) limits whose moves are computed: the others are `not_readable`."""
    if after_days < 1:
        raise InputError(f"--after-days must be at least 1, not {after_days}")
    out = []
    for d in list_decisions(store, start=start, end=end):
        backed = any(m in catalog.ids for m in d.metrics)
        moves = [Move(m, "not_readable") if readable is not None and m in catalog.ids and m not in readable
                 else move(store, catalog, m, d.date, after_days, as_of) for m in d.metrics]
        out.append((d, backed, moves))
    return DecisionReport(start, end, after_days, as_of, out)


def readable_report(store: Any, catalog: Catalog, access: ReadAccess, *, as_of: date, start: date | None = None,
                    end: date | None = None, after_days: int = DEFAULT_AFTER_DAYS) -> DecisionReport:
    """`decision_report` as a request with `access` may see it: cited indicators over a dataset it may not
    read are `not_readable`; the audited datasets behind the values shown are audited once (`read.dataset`)."""
    cited = {m for d in list_decisions(store, start=start, end=end) for m in d.metrics if m in catalog.ids}
    allowed, _ = readable_metrics(access, catalog, cited)
    report = decision_report(store, catalog, as_of=as_of, start=start, end=end, after_days=after_days,
                             readable=allowed)
    shown = {m.metric for _, _, moves in report.decisions for m in moves
             if m.value_before is not None or m.value_after is not None}
    access.record_derived(readable_metrics(access, catalog, shown)[1])
    return report
