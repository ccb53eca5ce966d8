"""`engmetrics catalog publish`: the catalog as a static site that works offline, opened from `file://`.

The site has `index.html` (every indicator grouped by outcome), one page per indicator in `indicators/ID.html`
(definition, calculation in words and as code, source datasets, thresholds, guardrail, impact assessment,
review-board approvals and change history), `datasets.html` (every dataset the catalog reads) and `style.css`.
Links are relative; there are no scripts and nothing is fetched from elsewhere. The store is optional: without
one, the approval and history sections say nothing is recorded.

>>> import tempfile
>>> from pathlib import Path
>>> root, out = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()) / "site"
>>> publish_site(root, out).to_dict() == {"out": str(out), "pages": 2, "indicators": 0}
True
>>> sorted(p.name for p in out.iterdir())
['datasets.html', 'index.html', 'indicators', 'style.css']
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..catalog.lineage import lineage
from ..catalog.loader import Catalog, Definition, load_catalog
from ..catalog.version import canonical_json, definition_version
from ..catalog.views import NO_OUTCOME, TreeNode, catalog_tree
from ..catalog.words import (
    PERIOD_NOTE,
    calculator_doc,
    code_spans,
    describe_calculation,
    describe_no_data,
    threshold_rows,
)
from ..store.datasets import REGISTRY
from .assessments import load_assessments
from .board import load_review_board
from .publish_pages import governance_for, source_datasets

__all__ = ["GENERATOR", "IndexGroup", "PublishResult", "index_groups", "indicator_path", "publish_site"]

#: The `<meta name="generator">` of every page; stale indicator pages carrying it are removed on republish.
GENERATOR = "engmetrics catalog publish"
INDICATORS_DIR = "indicators"


@dataclass(frozen=True)
class PublishResult:
    """Where the site was written, how many HTML pages and indicator pages it has."""

    out: Path
    pages: int
    indicators: int

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "pages": self.pages, "indicators": self.indicators}


@dataclass
class IndexGroup:
    """An outcome with its indicators as (definition, depth) rows: depth 1 sits under the one above it."""

    id: str
    name: str
    description: str
    rows: list[tuple[Definition, int]] = field(default_factory=list)


def indicator_path(metric: str) -> str:
    """The page of an indicator, relative to the site root."""
    return f"{INDICATORS_DIR}/{metric}.html"


def index_groups(catalog: Catalog) -> list[IndexGroup]:
    """Outcomes in declared order, then `(no outcome)`, each with every indicator under it (depth-first).
    Indicators whose outcomes form a cycle reach no outcome: they come last, in `(outcome cycle)`."""
    by_id = {d.id: d for d in catalog.definitions}
    groups: list[IndexGroup] = []

    def walk(node: TreeNode, depth: int, group: IndexGroup) -> None:
        group.rows.append((by_id[node.id], depth))
        for child in node.children:
            walk(child, depth + 1, group)

    for root in catalog_tree(catalog):
        outcome = catalog.outcome(root.id)
        group = IndexGroup(root.id, root.name, outcome.description if outcome else "")
        for child in root.children:
            walk(child, 0, group)
        groups.append(group)
    shown = {d.id for g in groups for d, _ in g.rows}
    cycle = [(d, 0) for d in catalog.definitions if d.id not in shown]
    if cycle:
        groups.append(IndexGroup("(outcome cycle)", "(outcome cycle)",
                                 "Indicators whose outcome chain loops back on itself.", cycle))
    return groups


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("engmetrics", "templates/publish"),
                      autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(generator=GENERATOR, indicator_path=indicator_path, no_outcome=NO_OUTCOME)
    env.filters["code"] = code_spans
    return env


def _stylesheet() -> str:
    return files("engmetrics").joinpath("templates/publish/style.css").read_text(encoding="utf-8")


def _owner(d: Definition) -> str:
    owner = d.indicator.owner
    if owner is None or owner.team is None:
        return ""
    return ", ".join(owner.team) if isinstance(owner.team, list) else owner.team


def _definition_yaml(d: Definition) -> str:
    return yaml.safe_dump(json.loads(canonical_json(d.indicator)), sort_keys=True, allow_unicode=True,
                          default_flow_style=False)


def _used_datasets(catalog: Catalog) -> dict[str, list[str]]:
    """Dataset name -> ids of the indicators that read it, in catalog order."""
    used: dict[str, list[str]] = {}
    for d in catalog.definitions:
        for source in source_datasets(d.indicator):
            used.setdefault(source.name, []).append(d.id)
    return used


def _remove_stale(directory: Path, keep: set[str]) -> None:
    """Delete indicator pages this tool wrote earlier for indicators that are gone."""
    for page in directory.glob("*.html"):
        if page.name not in keep and GENERATOR in page.read_text(encoding="utf-8", errors="replace")[:2000]:
            page.unlink()


def publish_site(root: Path, out: Path, *, store: Any = None, title: str | None = None) -> PublishResult:
    """Write the site for the workspace at `root` into `out` (created; earlier pages are replaced).

    `store` (optional) supplies review-board decisions and the definition archive. Raises `ValidationFailed`
    when the catalog, the review board or an assessment does not validate.
    """
    catalog = load_catalog(root)
    board = load_review_board(root)
    assessments = load_assessments(root)
    env = _environment()
    site_title = title or "Indicator catalog"
    pages_dir = out / INDICATORS_DIR
    pages_dir.mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_text(_stylesheet(), encoding="utf-8")

    statuses = Counter(d.indicator.status for d in catalog.definitions)
    (out / "index.html").write_text(env.get_template("index.html.j2").render(
        up="", site=site_title, title=site_title, groups=index_groups(catalog), statuses=statuses,
        total=len(catalog.definitions), owner=_owner, known=set(catalog.ids)), encoding="utf-8")

    used = _used_datasets(catalog)
    datasets = [(REGISTRY.get(name), name, metrics) for name, metrics in used.items()]
    (out / "datasets.html").write_text(env.get_template("datasets.html.j2").render(
        up="", site=site_title, title="Datasets", datasets=datasets), encoding="utf-8")

    for d in catalog.definitions:
        ind = d.indicator
        page = env.get_template("indicator.html.j2").render(
            up="../", site=site_title, title=ind.name, d=d, ind=ind, owner=_owner(d),
            version=definition_version(ind), words=describe_calculation(ind), no_data=describe_no_data(ind),
            period_note=PERIOD_NOTE, calculator=calculator_doc(ind), code=_definition_yaml(d),
            sources=source_datasets(ind), thresholds=threshold_rows(ind), lineage=lineage(catalog, d.id),
            known=set(catalog.ids), names={x.id: x.indicator.name for x in catalog.definitions},
            gov=governance_for(store, board, assessments, ind))
        (out / indicator_path(d.id)).write_text(page, encoding="utf-8")
    _remove_stale(pages_dir, {f"{i}.html" for i in catalog.ids})
    return PublishResult(out, 2 + len(catalog.definitions), len(catalog.definitions))
