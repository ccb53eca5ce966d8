"""Render a report to PDF with Debian's Chromium (headless print-to-PDF), bounded by a timeout.

The HTML is written to a private temporary directory with a throw-away Chromium profile; networking
features are switched off and the page itself loads nothing external.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import EngmetricsError
from .html import render_html
from .model import Report

__all__ = ["CHROMIUM_NAMES", "ReportRenderError", "find_chromium", "html_to_pdf", "render_pdf"]

#: Executables tried, in order, when `ENGMETRICS_CHROMIUM` does not name one.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ReportRenderError(EngmetricsError):
    """The PDF renderer is missing or failed."""


def find_chromium() -> str:
    """The Chromium executable: `$ENGMETRICS_CHROMIUM`, else the first of `CHROMIUM_NAMES` on PATH."""
    named = os.environ.get("ENGMETRICS_CHROMIUM")
    if named:
        found = shutil.which(named)
        if not found:
            raise ReportRenderError(f"ENGMETRICS_CHROMIUM={named!r} is not an executable")
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ReportRenderError("PDF reports need Chromium: install the Debian package `chromium` "
                            "(`make system-packages` does), or write HTML with --format html")


def html_to_pdf(html: str, out: Path, *, chromium: str | None = None, timeout: float = 120.0) -> Path:
    """Print `html` to the PDF file `out` with headless Chromium; raises `ReportRenderError` on failure."""
    exe = chromium or find_chromium()
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="engmetrics-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        command = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-extensions", "--no-pdf-header-footer", f"--user-data-dir={Path(tmp) / 'profile'}",
                   f"--print-to-pdf={target}", page.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ReportRenderError(f"Chromium did not finish the PDF within {timeout:g} s") from exc
        except OSError as exc:
            raise ReportRenderError(f"cannot run Chromium ({exe}): {exc}") from exc
        if done.returncode != 0 or not target.exists() or target.read_bytes()[:5] != b"%PDF-":
            tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
            raise ReportRenderError(f"Chromium failed to print the PDF (exit {done.returncode}): {tail}")
        shutil.move(str(target), out)
    return out


def render_pdf(report: Report, out: Path, *, chromium: str | None = None, timeout: float = 120.0) -> Path:
    """Render `report` as HTML and print it to the PDF file `out` (returned)."""
    return html_to_pdf(render_html(report), out, chromium=chromium, timeout=timeout)
