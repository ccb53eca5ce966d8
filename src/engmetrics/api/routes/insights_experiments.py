"""Experiments on process changes under `/api/v1/insights`: every spec of the workspace's `experiments/` with
its analysis, and one by name, as `engmetrics insights experiment analyze --json` (plus `name`, `file` and
`error` for a spec that does not load or analyse). Thin shells over `engmetrics.insights.experiments`.

Who sees what: experiments on an indicator over a dataset the caller may not read (`policies/access.yaml`)
are left out (404 by name), those over audited datasets are audited; a team-member sees an experiment over
teams only when every team in it is its own (per-unit values are per-team data)."""

from __future__ import annotations

from typing import Any

from ...auth.roles import Principal
from ...auth.scope import readable_metrics
from ...catalog.loader import Catalog
from ...governance.access import ReadAccess
from ...insights.experiments.listing import Entry, analyze_all, analyze_named
from ...jsonio import plain
from ..auth import READERS, requires
from ..deps import AccessDep, CatalogDep, CurrentUser, SettingsDep, StoreDep
from ..problems import Problem
from .insights import router

__all__ = ["get_experiment", "list_experiments", "visible_experiments"]


def visible_experiments(entries: list[Entry], user: Principal, access: ReadAccess, catalog: Catalog) -> list[Entry]:
    """The entries `user` may see (module doc); audits the audited datasets behind them."""
    metrics = {e.analysis.spec.metric for e in entries if e.analysis}
    allowed, audited = readable_metrics(access, catalog, metrics)
    kept = [e for e in entries if e.analysis is None or (
        e.analysis.spec.metric in allowed
        and (e.analysis.spec.unit != "team" or all(user.sees_team(u) for u in e.units)))]
    access.record_derived(audited)
    return kept


@router.get("/experiments", dependencies=[requires(*READERS)])
def list_experiments(store: StoreDep, settings: SettingsDep, loaded: CatalogDep, user: CurrentUser,
                     access: AccessDep) -> list[dict[str, Any]]:
    """Every experiment spec (`experiments/*.yaml`) with its analysis: experiment, metric, unit, method, effect,
    interval, confidence, p_value, posterior_probability, srm, power, units, details, notes, verdict, series;
    a spec that does not load or analyse has only name, file and error."""
    entries = analyze_all(store, loaded.catalog, settings.workspace)
    return plain([e.to_dict() for e in visible_experiments(entries, user, access, loaded.catalog)])


@router.get("/experiments/{name}", dependencies=[requires(*READERS)])
def get_experiment(name: str, store: StoreDep, settings: SettingsDep, loaded: CatalogDep, user: CurrentUser,
                   access: AccessDep) -> dict[str, Any]:
    """One experiment by its file name (`experiments/NAME.yaml`), as in the list; 404 when there is no such
    spec or the caller may not see it."""
    entry = analyze_named(store, loaded.catalog, settings.workspace, name)
    visible = visible_experiments([entry], user, access, loaded.catalog) if entry else []
    if not visible:
        raise Problem(404, f"no experiment {name!r}; see GET /api/v1/insights/experiments")
    return plain(visible[0].to_dict())
