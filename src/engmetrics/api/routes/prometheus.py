"""`GET /metrics`: every evaluated indicator in the Prometheus text format (see `engmetrics.api.exposition`).

Scrapers authenticate like any client (Prometheus: `authorization: {credentials: <token>}` in the
scrape config); a team-member token gets its own teams' per-team series only, and no token gets the series of
an indicator derived from a dataset the access policy does not let it read; the audited datasets behind the
series served are written to the audit log once per scrape (`engmetrics.auth.scope.readable_results`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...auth.scope import readable_results
from ...catalog.periods import default_as_of
from ..auth import READERS, requires
from ..deps import AccessDep, CatalogDep, EvaluationsDep, SettingsDep, StoreDep
from ..exposition import CONTENT_TYPE, render_metrics

router = APIRouter(tags=["prometheus"])


@router.get("/metrics", dependencies=[requires(*READERS)], response_class=Response)
def get_prometheus_metrics(store: StoreDep, loaded: CatalogDep, evaluations: EvaluationsDep,
                           access: AccessDep, settings: SettingsDep) -> Response:
    """Indicator values, previous values, sample sizes and RAG status as of yesterday (UTC); evaluated once
    per day, data version and catalog version (see `engmetrics.catalog.cache`)."""
    catalog = loaded.catalog
    results = evaluations.evaluate(store, catalog, default_as_of(), git_commit=loaded.git_commit,
                                   catalog_version=loaded.version, privacy=settings.privacy)
    shown, audited = readable_results(access, catalog, results)
    access.record_derived(audited)
    text = render_metrics(shown, catalog)
    return Response(text, media_type=CONTENT_TYPE)
