"""`engmetrics report`: the executive report (scorecard, charts, notable changes, open risks)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..catalog.loader import load_catalog
from ..catalog.periods import default_as_of
from .common import JsonOption, emit_json, open_store, state

__all__ = ["ReportFormat", "ReportPeriodName", "report"]


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    md = "md"


class ReportPeriodName(StrEnum):
    month = "month"
    quarter = "quarter"


_SUFFIX_FORMATS = {".html": ReportFormat.html, ".htm": ReportFormat.html, ".pdf": ReportFormat.pdf,
                   ".md": ReportFormat.md, ".markdown": ReportFormat.md}


def report(
    fmt: Annotated[ReportFormat | None, typer.Option(
        "--format", help="html, pdf (Chromium print-to-PDF) or md (default: from --out's suffix, else html).")
    ] = None,
    period: Annotated[ReportPeriodName, typer.Option(
        "--period", help="The month or quarter ending on the as-of date.")] = ReportPeriodName.month,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="Last day of the period, inclusive (default: yesterday, UTC).")
    ] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="File to write (default: report-<as-of>.<html|pdf|md>).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write an executive report for the period ending on the as-of date: RAG scorecard with trend
    sparklines, history charts, notable changes since the previous period and open risks (red
    indicators, missing data, catalog findings, quarantined rows). Prints the file written; `--json`
    prints the report model instead of writing a file.

    Example: engmetrics report --format pdf --period quarter --as-of 2026-03-31 --out q1.pdf
    """
    from ..report import build_report, render_html, render_markdown, render_pdf

    settings = state.settings
    catalog = load_catalog(settings.workspace)
    day = as_of.date() if as_of else default_as_of()
    with open_store(read_only=True) as store:
        model = build_report(store, catalog, as_of=day, period=period.value,
                             title=f"{settings.name}: engineering report", privacy=settings.privacy)
    if as_json:
        emit_json(model.to_dict())
        return
    chosen = fmt or (_SUFFIX_FORMATS.get(out.suffix.lower()) if out else None) or ReportFormat.html
    path = out or Path(f"report-{day.isoformat()}.{chosen.value}")
    if chosen is ReportFormat.pdf:
        render_pdf(model, path)
    else:
        text = render_html(model) if chosen is ReportFormat.html else render_markdown(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    typer.echo(str(path))
