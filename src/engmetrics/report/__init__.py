"""Executive reports: the scorecard, history charts, notable changes and open risks for the month or
quarter ending on an as-of date, as HTML, Markdown or PDF (Chromium print-to-PDF).

>>> from datetime import date
>>> from engmetrics.store import Store
>>> from engmetrics.catalog.loader import Catalog
>>> report = build_report(Store.open("duckdb://"), Catalog(), as_of=date(2026, 3, 31), period="quarter")
>>> report.period.start.isoformat(), "## Scorecard" in render_markdown(report)
('2026-01-01', True)
"""

from .build import build_report, report_period
from .html import render_html
from .markdown import render_markdown
from .model import Change, IndicatorHistory, IndicatorRisk, QuarantineGroup, Report, ReportPeriod, Risks
from .pdf import ReportRenderError, find_chromium, render_pdf

__all__ = ["Change", "IndicatorHistory", "IndicatorRisk", "QuarantineGroup", "Report", "ReportPeriod",
           "ReportRenderError", "Risks", "build_report", "find_chromium", "render_html", "render_markdown",
           "render_pdf", "report_period"]
