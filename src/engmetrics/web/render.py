"""The Jinja2 environment of the pages: templates and the stylesheet live in `engmetrics/templates/web/`
(package data), text is autoescaped, and charts come in as already-escaped SVG."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..auth.roles import Principal
from ..catalog.words import code_spans
from ..charts import format_value
from .views import STATUS_ICON, status_label

__all__ = ["TEMPLATES", "page", "stylesheet"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(status_label=status_label, status_icon=STATUS_ICON, fmt=format_value)
    env.filters["svg"] = lambda text: Markup(text)  # charts escape their own text
    env.filters["code"] = code_spans
    return env


@cache
def stylesheet() -> str:
    """The dashboard's CSS (written for this app; no framework)."""
    return (TEMPLATES / "static" / "dashboard.css").read_text(encoding="utf-8")


def page(template: str, *, title: str, user: Principal | None, status_code: int = 200, nav: str | None = None,
         **context: Any) -> HTMLResponse:
    """Render `template` as a full page; `user` None is the logged-out layout, `nav` marks the current
    section in the navigation."""
    html = _environment().get_template(template).render(title=title, user=user, nav=nav, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
