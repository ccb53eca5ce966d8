"""The report laid out as plain strings, shared by the HTML and Markdown renderers (each escapes for
its own format). Charts are not here: only the HTML renderer draws them."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Change, IndicatorRisk, Report
from .text import direction_word, long_date, move_text, number, status_label, trend_words, with_unit

__all__ = ["ChangeLine", "RiskLine", "ScoreLine", "change_lines", "history_text", "period_text", "risk_lines",
           "score_groups"]


@dataclass(frozen=True)
class ScoreLine:
    metric: str
    name: str
    group: str
    value: str
    status: str  # the raw status, for CSS classes
    status_label: str
    previous: str
    trend: str
    guardrail: str
    history: str


@dataclass(frozen=True)
class ChangeLine:
    name: str
    group: str
    kind: str
    change: str
    from_value: str
    to_value: str
    move: str
    judgement: str
    samples: str
    status: str


@dataclass(frozen=True)
class RiskLine:
    name: str
    group: str
    status_label: str
    status: str
    value: str
    owner: str
    period: str
    sample: str


def period_text(report: Report) -> str:
    """`month 1 Mar 2026 – 31 Mar 2026`."""
    p = report.period
    return f"{p.kind} {long_date(p.start)} – {long_date(p.end)}"


def history_text(report: Report, metric: str, group: str | None, unit: str) -> str:
    """A chart summarised in words: `12 periods: 1.3 → 2.5 hours (low 0.9, high 3)`."""
    h = report.history(metric)
    values = h.values(group) if h else []
    known = [v for v in values if v is not None]
    if not known:
        return f"{len(values)} periods, no data" if values else ""
    text = f"{len(values)} periods: {number(known[0], unit)} → {with_unit(known[-1], unit)}"
    if len(known) > 2:
        text += f" (low {number(min(known), unit)}, high {number(max(known), unit)})"
    return text


def score_groups(report: Report) -> list[tuple[str, list[ScoreLine]]]:
    """(outcome name, rows) in scorecard order."""
    groups = []
    for g in report.scorecard:
        lines = [ScoreLine(r.metric, r.name, r.group or "", with_unit(r.value, r.unit), r.status,
                           status_label(r.status), with_unit(r.previous, r.unit), trend_words(r.trend, r.improving),
                           r.guardrail or "", history_text(report, r.metric, r.group, r.unit))
                 for r in g.rows]
        groups.append((g.name, lines))
    return groups


def _change_line(c: Change) -> ChangeLine:
    if c.kind == "status":
        what = f"{status_label(c.from_status)} → {status_label(c.to_status)}"
    else:
        what = f"{status_label(c.to_status)} held"
    samples = f"n {c.from_sample_size:,} → {c.to_sample_size:,}"
    return ChangeLine(c.name, c.group or "", c.kind, what, with_unit(c.from_value, c.unit),
                      with_unit(c.to_value, c.unit), move_text(c.from_value, c.to_value, c.relative, c.unit),
                      direction_word(c.improving), samples, c.to_status)


def change_lines(report: Report) -> list[ChangeLine]:
    """Notable changes, in report order."""
    return [_change_line(c) for c in report.changes]


def _risk_line(r: IndicatorRisk) -> RiskLine:
    return RiskLine(r.name, r.group or "", status_label(r.status), r.status, with_unit(r.value, r.unit),
                    r.owner or "(no owner)", f"{long_date(r.period_start)} – {long_date(r.period_end)}",
                    f"{r.sample_size:,}")


def risk_lines(risks: list[IndicatorRisk]) -> list[RiskLine]:
    """Red or no-data indicators as lines."""
    return [_risk_line(r) for r in risks]
