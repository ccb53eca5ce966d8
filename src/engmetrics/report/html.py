"""Render a report as one self-contained HTML page: inline CSS and inline SVG charts, no scripts and
no external resources, print-friendly (A4 pages, page breaks, repeated table headers), RAG as symbol and
text as well as colour.

>>> from datetime import date
>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> from engmetrics.report.build import build_report
>>> page = render_html(build_report(Store.open("duckdb://"), Catalog(), as_of=date(2026, 3, 31)))
>>> page.startswith("<!DOCTYPE html>") and "No active indicators." in page
True
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..catalog.rag import STATUSES
from ..charts import history_chart, sparkline
from .build import MIN_MOVE
from .layout import change_lines, period_text, risk_lines, score_groups
from .model import Report
from .text import long_date, signed_percent, status_label

__all__ = ["CHART_HEIGHT", "CHART_WIDTH", "render_html"]

#: Chart size in CSS pixels: two charts side by side on an A4 page keep their text legible.
CHART_WIDTH, CHART_HEIGHT = 420, 210


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("engmetrics", "templates/report"),
                       autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _spark(report: Report, metric: str, group: str | None, name: str) -> Markup:
    h = report.history(metric)
    values = h.values(group) if h else []
    if not values:
        return Markup("")
    title = f"{name}{f' ({group})' if group else ''}: last {len(values)} periods"
    return Markup(sparkline(values, title=title))  # charts escape every text they draw


def _charts(report: Report) -> list[tuple[str, Markup]]:
    charts = []
    for h in report.histories:
        unit = "%" if h.unit == "ratio" else h.unit
        points = h.points
        if h.unit == "ratio":  # draw ratios as percentages, as the tables show them
            points = [replace(p, **{k: None if getattr(p, k) is None else getattr(p, k) * 100
                                    for k in ("value", "low", "high")}) for p in h.points]
            thresholds = h.thresholds and h.thresholds.model_copy(update={
                name: band.model_copy(update={"min": None if band.min is None else band.min * 100,
                                              "max": None if band.max is None else band.max * 100})
                for name, band in h.thresholds.bands()})
        else:
            thresholds = h.thresholds
        caption = f"{h.name} ({h.cadence})"
        svg = history_chart(points, thresholds, unit=unit, title=caption, width=CHART_WIDTH, height=CHART_HEIGHT)
        charts.append((caption, Markup(svg)))
    return charts


def render_html(report: Report) -> str:
    """The report as a standalone HTML document (see the module docstring)."""
    groups = []
    for (name, lines), g in zip(score_groups(report), report.scorecard, strict=True):
        rows = [(line, _spark(report, row.metric, row.group, row.name)) for line, row in zip(lines, g.rows,
                                                                                            strict=True)]
        groups.append((name, rows, any(row.group for row in g.rows)))
    counts = [(s, status_label(s), report.status_counts.get(s, 0)) for s in STATUSES]
    return _environment().get_template("report.html.j2").render(
        report=report, period=period_text(report), as_of=long_date(report.as_of),
        baseline=long_date(report.period.baseline), start=long_date(report.period.start),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"), counts=counts, groups=groups,
        changes=change_lines(report), min_move=signed_percent(MIN_MOVE).lstrip("+"),
        risk_count=report.risks.count, red=risk_lines(report.risks.red), no_data=risk_lines(report.risks.no_data),
        lint=report.risks.lint, quarantine=report.risks.quarantine,
        quarantined_rows=f"{report.risks.quarantined_rows:,}", charts=_charts(report))
