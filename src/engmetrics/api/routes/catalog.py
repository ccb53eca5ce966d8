"""The indicator catalog: list, show (definition and lineage), and the outcome tree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request

from ...catalog.lineage import lineage
from ...catalog.views import catalog_tree, indicator_detail, indicator_summary
from ...insights.usage import record_view
from ..auth import READERS, requires
from ..deps import CatalogDep
from ..problems import Problem

router = APIRouter(tags=["catalog"])


@router.get("/indicators", dependencies=[requires(*READERS)])
def list_indicators(loaded: CatalogDep) -> list[dict[str, Any]]:
    """Every indicator: id, name, kind, cadence, status, owner, outcome, guardrail, file and line."""
    return [indicator_summary(d) for d in loaded.catalog.definitions]


@router.get("/indicators/{metric}", dependencies=[requires(*READERS)])
def show_indicator(metric: str, loaded: CatalogDep, request: Request, background: BackgroundTasks) -> dict[str, Any]:
    """One indicator's full definition, its definition version, where it is defined, and its lineage:
    `outcome_chain` (its outcome upwards), `guardrail`, `children` and `guardrail_of`. The view is counted
    (`engmetrics.insights.usage`, no actor) after the answer is sent."""
    catalog = loaded.catalog
    if metric not in catalog.ids:
        raise Problem(404, f"no indicator {metric!r}; see GET /api/v1/indicators")
    background.add_task(record_view, request.app.state.stores, metric, "api")
    return {**indicator_detail(catalog.get(metric)), "lineage": lineage(catalog, metric)}


@router.get("/outcomes/tree", dependencies=[requires(*READERS)])
def get_catalog_tree(loaded: CatalogDep) -> list[dict[str, Any]]:
    """Outcomes -> indicators -> sub-indicators, each with its guardrail."""
    return [node.to_dict() for node in catalog_tree(loaded.catalog)]
