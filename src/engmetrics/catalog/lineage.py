"""Where an indicator sits: the chain of outcomes above it, its guardrail and what points at it.

>>> from engmetrics.catalog.loader import Catalog
>>> lineage(Catalog(), "x")
Traceback (most recent call last):
...
engmetrics.errors.InputError: no indicator 'x'; known: none
"""

from __future__ import annotations

from typing import Any

from .loader import Catalog

__all__ = ["lineage"]


def _node(catalog: Catalog, ref: str) -> dict[str, Any]:
    if ref in catalog.ids:
        return {"id": ref, "name": catalog.get(ref).indicator.name, "type": "indicator"}
    outcome = catalog.outcome(ref)
    if outcome is not None:
        return {"id": ref, "name": outcome.name, "type": "outcome"}
    return {"id": ref, "name": None, "type": "unknown"}


def lineage(catalog: Catalog, metric: str) -> dict[str, Any]:
    """`outcome_chain`: the indicator's outcome, its outcome and so on, up to a declared outcome (or an
    id that resolves to nothing, typed `unknown`); `guardrail`: the counter-indicator read beside it;
    `children`: indicators naming it as their outcome; `guardrail_of`: indicators it guards."""
    indicator = catalog.get(metric).indicator
    chain: list[dict[str, Any]] = []
    seen, current = {metric}, indicator.outcome
    while current is not None and current not in seen:
        seen.add(current)
        node = _node(catalog, current)
        chain.append(node)
        current = catalog.get(current).indicator.outcome if node["type"] == "indicator" else None
    return {
        "outcome_chain": chain,
        "guardrail": _node(catalog, indicator.guardrail) if indicator.guardrail else None,
        "children": [d.id for d in catalog.definitions if d.indicator.outcome == metric],
        "guardrail_of": [d.id for d in catalog.definitions if d.indicator.guardrail == metric],
    }
