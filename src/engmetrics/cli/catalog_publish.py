"""`engmetrics catalog publish`: write the catalog as a static site that works offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, console, emit_json, open_store, state

__all__ = ["publish_command"]


def publish_command(
    out: Annotated[Path | None, typer.Option(
        "--out", file_okay=False, help="Directory to write the site into (default: <workspace>/site).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Publish every indicator as a static site: definition, owner, the calculation in words and as code,
    source datasets, thresholds, guardrail, impact assessment, review-board approvals and change history.
    Opens offline from file:// (relative links, no scripts, no CDN). `--json` prints
    {"out": DIR, "pages": N, "indicators": N}.

    Example: engmetrics catalog publish --out site && xdg-open site/index.html
    """
    from ..governance.publish import publish_site

    settings = state.settings
    target = out or settings.workspace / "site"
    with open_store(read_only=True) as store:
        result = publish_site(settings.workspace, target, store=store, title=f"{settings.name}: indicators")
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(f"Wrote {result.pages} pages ({result.indicators} indicators) to {target}; open "
                  f"{target / 'index.html'}", highlight=False, markup=False, soft_wrap=True)
