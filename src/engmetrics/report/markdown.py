"""Render a report as Markdown: the same sections as the HTML page, as tables; each chart is summarised
in words (periods, first and latest value, low and high) in the scorecard's `recent periods` column.

>>> from datetime import date
>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> from engmetrics.report.build import build_report
>>> print(render_markdown(build_report(Store.open("duckdb://"), Catalog(), as_of=date(2026, 3, 31),
...       title="Acme")).splitlines()[0])
# Acme
"""

from __future__ import annotations

from .build import MIN_MOVE
from .layout import change_lines, period_text, risk_lines, score_groups
from .model import Report
from .text import long_date, signed_percent, status_label

__all__ = ["render_markdown"]


def _cell(text: object) -> str:
    """Table-cell text: pipes escaped, line breaks flattened."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown (see the module docstring)."""
    baseline = long_date(report.period.baseline)
    counts = ", ".join(f"{report.status_counts.get(s, 0)} {status_label(s)}"
                       for s in ("green", "amber", "red", "no_data"))
    out = [f"# {report.title}", "",
           f"Report for the {period_text(report)}, as of {long_date(report.as_of)}; changes since {baseline}. "
           f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.", "",
           f"**Status:** {counts}. **Notable changes:** {len(report.changes)}. "
           f"**Open risks:** {report.risks.count}.", "",
           "## Scorecard", "",
           "Each indicator over the latest period of its own cadence; status symbols ● green, ▲ amber, ■ red, "
           "◇ no data.", ""]
    groups = score_groups(report)
    if not groups:
        out += ["No active indicators.", ""]
    for name, lines in groups:
        grouped = any(line.group for line in lines)
        header = ["Indicator", *(["Group"] if grouped else []), "Value", "Status", "Previous", "Trend",
                  "Recent periods", "Guardrail"]
        rows = [[line.name, *([line.group] if grouped else []), line.value, line.status_label, line.previous,
                 line.trend, line.history, line.guardrail] for line in lines]
        out += [f"### {name}", "", *_table(header, rows)]

    out += [f"## Notable changes since {baseline}", ""]
    changes = change_lines(report)
    if changes:
        out += _table(["Indicator", "Change", "Was", "Now", "Move", "Judged", "Samples"],
                      [[c.name + (f" ({c.group})" if c.group else ""), c.change, c.from_value, c.to_value, c.move,
                        c.judgement or "–", c.samples] for c in changes])
    else:
        out += [f"No status changes and no move of {signed_percent(MIN_MOVE).lstrip('+')} or more.", ""]

    out += ["## Open risks", ""]
    for title, risks in (("Red indicators", report.risks.red), ("Indicators without data", report.risks.no_data)):
        lines = risk_lines(risks)
        out += [f"### {title} ({len(lines)})", ""]
        out += _table(["Indicator", "Status", "Value", "Owner", "Period", "Sample"],
                      [[r.name + (f" ({r.group})" if r.group else ""), r.status_label, r.value, r.owner, r.period,
                        r.sample] for r in lines]) if lines else ["None.", ""]
    lint = report.risks.lint
    out += [f"### Catalog findings ({len(lint)})", ""]
    out += _table(["Level", "Rule", "Indicator", "Finding", "Where"],
                  [[i.level, i.rule, i.metric or "", i.message, f"{i.file or ''}{f':{i.line}' if i.line else ''}"]
                   for i in lint]) if lint else ["None.", ""]
    quarantine = report.risks.quarantine
    out += [f"### Rows quarantined at ingest since {long_date(report.period.start)} "
            f"({report.risks.quarantined_rows:,})", ""]
    out += _table(["Dataset", "Reason", "Rows", "Last"],
                  [[q.dataset, q.reason, f"{q.rows:,}", f"{q.last_at:%Y-%m-%d %H:%M} UTC"] for q in quarantine]
                  ) if quarantine else ["None.", ""]
    return "\n".join(out).rstrip() + "\n"
