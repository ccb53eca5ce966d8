"""A person's own numbers: `GET /api/v1/me/indicators/{metric}` (issue 8, "the person themself may see their
own numbers")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from ...catalog.evaluate import evaluate_own
from ...catalog.periods import default_as_of
from ...governance.privacy import person_pseudonym
from ..auth import EVERYONE, requires
from ..deps import AccessDep, CatalogDep, CurrentUser, SettingsDep, StoreDep
from ..problems import Problem

router = APIRouter(tags=["me"])

Metric = Annotated[str, Path(description="An individual-level indicator's id.")]
AsOf = Annotated[date | None, Query(description="Last day of the period, inclusive, YYYY-MM-DD (default: yesterday, "
                                                "UTC); clamped to today minus `privacy.individual_delay_days`, "
                                                "then moved back to the end of the last complete calendar week, "
                                                "month or quarter (the indicator's cadence).")]


@router.get("/me/indicators/{metric}", dependencies=[requires(*EVERYONE)])
def get_own_indicator(metric: Metric, store: StoreDep, loaded: CatalogDep, settings: SettingsDep,
                      user: CurrentUser, access: AccessDep, as_of: AsOf = None) -> dict[str, Any]:
    """The value of an approved individual-level indicator for the token's own person (the token's `user`,
    pseudonymised with the workspace key) and nobody else: the same fields as `GET /metrics`, over the
    delayed calendar periods the published team values use. Status `not_approved` / `refused_grain` without
    a value when the guardrails refuse it, `no_thresholds` for a value of an indicator without thresholds;
    400 for an indicator that is not individual-level or a token that names no person. The read is
    written to the audit log (`read.individual`)."""
    if user.user is None:
        raise Problem(400, "this token names no person: create one with `engmetrics token create --user NAME`")
    definition = loaded.catalog.get(metric) if metric in loaded.catalog.ids else None
    if definition is None:
        raise Problem(404, f"no indicator {metric!r}; see GET /api/v1/indicators")
    me = person_pseudonym(user.user, settings.pseudonym_key_file)  # type: ignore[arg-type]
    result = evaluate_own(store, loaded.catalog, metric, me, as_of or default_as_of(), privacy=settings.privacy)
    access.allow(definition.indicator.calculation.dataset, individual=True)  # type: ignore[union-attr]
    return result.to_dict()
